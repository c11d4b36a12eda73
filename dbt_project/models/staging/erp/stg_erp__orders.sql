-- One row per order; a re-sent order keeps the newest delivery.
with source as (
    select * from {{ source('erp', 'erp_orders') }}
),

latest as (
    select *
    from source
    qualify row_number() over (
        partition by order_id
        order by _source_file desc, _record_no desc
    ) = 1
),

final as (
    select
        order_id,
        crm_id as customer_id,
        ordered_at,
        upper(currency) as currency_code,
        channel
    from latest
)

select * from final
