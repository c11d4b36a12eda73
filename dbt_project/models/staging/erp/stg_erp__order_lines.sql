-- One row per order line; a re-sent line keeps the newest delivery (and its _loaded_at).
-- Amounts in order currency.
-- Category, size, colour, material and fit are normalised (macros/normalise.sql).
with source as {{ not_materialized() }} (
    select * from {{ source('erp', 'erp_order_lines') }}
),

latest as (
    {{ deduplicated_mostly_unique(
        'source', 'order_line_id', '_source_file desc, _record_no desc'
    ) }}
),

final as (
    select
        latest.order_line_id,
        latest.order_id,
        latest.sku,
        {{ normalise_label('category', 'latest.category') }} as category,
        {{ normalise_size('latest.size') }} as size,
        {{ normalise_label('colour', 'latest.colour') }} as colour,
        {{ normalise_label('material', 'latest.material') }} as material,
        {{ normalise_label('fit', 'latest.fit') }} as fit,
        nullif(latest.configured_options, '') as configured_options,
        coalesce(latest.is_made_to_order, false) as is_made_to_order,
        latest.quantity,
        latest.unit_price,
        coalesce(latest.discount_rate, 0) as discount_rate,
        latest.quantity * latest.unit_price as line_amount,
        latest._loaded_at
    from latest
)

select * from final
