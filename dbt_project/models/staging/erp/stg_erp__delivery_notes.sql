with source as {{ not_materialized() }} (
    select * from {{ source('erp', 'erp_delivery_notes') }}
),

latest as (
    {{ deduplicated_mostly_unique('source', 'delivery_id', '_source_file desc, _record_no desc') }}
),

final as (
    select
        delivery_id,
        order_id,
        shipped_at,
        delivered_at,
        carrier,
        status
    from latest
)

select * from final
