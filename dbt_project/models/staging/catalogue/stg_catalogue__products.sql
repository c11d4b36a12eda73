-- One row per SKU from its newest catalogue snapshot.
with source as (
    select * from {{ source('catalogue', 'catalogue_products') }}
),

latest as (
    {{ deduplicated('source', 'sku', 'snapshot_date desc, _source_file desc, _record_no desc') }}
),

final as (
    select
        sku,
        lower(category) as category,
        lower(colour) as colour,
        lower(material) as material,
        lower(fit) as fit,
        base_price_eur,
        nullif(configurable_options, '') as configurable_options,
        coalesce(is_made_to_order, false) as is_made_to_order,
        string_split(coalesce(in_stock_sizes, ''), '|') as in_stock_sizes,
        snapshot_date
    from latest
)

select * from final
