-- One row per return. reason_code is canonical (seeds/return_reasons.csv): the delivered code,
-- else the free text, mapped through the codes and seeds/value_synonyms.csv; what neither maps is
-- 'other', with the delivered text kept in reason_raw and reported (reports.vocabulary_report).
with source as {{ not_materialized() }} (
    select * from {{ source('erp', 'erp_returns') }}
),

latest as (
    {{ deduplicated_mostly_unique('source', 'return_id', '_source_file desc, _record_no desc') }}
),

final as (
    select
        latest.return_id,
        latest.order_line_id,
        latest.returned_at,
        latest.quantity,
        coalesce(
            {{ normalise_return_reason('latest.reason_code') }},
            {{ normalise_return_reason('latest.free_text') }},
            'other'
        ) as reason_code,
        coalesce(nullif(trim(latest.reason_code), ''), nullif(trim(latest.free_text), ''))
            as reason_raw,
        latest.free_text,
        latest._loaded_at
    from latest
)

select * from final
