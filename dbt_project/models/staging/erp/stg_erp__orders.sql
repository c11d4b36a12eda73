-- One row per order; a re-sent order keeps the newest delivery. Since the ERP renamed
-- `channel` to `sales_channel`, the new name arrives in the _extra overflow column.
with source as (
    select * from {{ source('erp', 'erp_orders') }}
),

latest as (
    {{ deduplicated('source', 'order_id', '_source_file desc, _record_no desc') }}
),

final as (
    select
        order_id,
        crm_id as customer_id,
        nullif(lower(trim(guest_email)), '') as guest_email,
        crm_id is null as is_guest_order,
        ordered_at,
        upper(currency) as currency_code,
        coalesce(channel, _extra ->> 'sales_channel') as channel,
        upper(shipping_country) as shipping_country_code
    from latest
)

select * from final
