with source as (
    select * from {{ source('erp', 'erp_delivery_notes') }}
),

latest as (
    select *
    from source
    qualify row_number() over (
        partition by delivery_id order by _source_file desc, _record_no desc
    ) = 1
),

final as (
    select delivery_id, order_id, shipped_at, delivered_at, carrier, status
    from latest
)

select * from final
