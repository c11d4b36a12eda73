with source as (
    select * from {{ source('erp', 'erp_returns') }}
),

latest as (
    {{ deduplicated('source', 'return_id', '_source_file desc, _record_no desc') }}
),

final as (
    select
        return_id,
        order_line_id,
        returned_at,
        quantity,
        reason_code,
        free_text
    from latest
)

select * from final
