-- One row per order line; a re-sent line keeps the newest delivery. Amounts in order currency.
with source as (
    select * from {{ source('erp', 'erp_order_lines') }}
),

latest as (
    {{ deduplicated('source', 'order_line_id', '_source_file desc, _record_no desc') }}
),

final as (
    select
        order_line_id,
        order_id,
        sku,
        lower(category) as category,
        upper(size) as size,
        lower(colour) as colour,
        lower(material) as material,
        lower(fit) as fit,
        nullif(configured_options, '') as configured_options,
        coalesce(is_made_to_order, false) as is_made_to_order,
        quantity,
        unit_price,
        coalesce(discount_rate, 0) as discount_rate,
        quantity * unit_price as line_amount
    from latest
)

select * from final
