-- One row per SKU from its newest catalogue snapshot. Category, colour, material and fit are
-- normalised labels, in-stock sizes normalised sizes (macros/normalise.sql), so they compare
-- with order lines and web events whatever case or synonym the PIM delivered. size_range stays
-- as delivered: int_catalogue__size_scale reads the sizes it declares.
with source as (
    select * from {{ source('catalogue', 'catalogue_products') }}
),

latest as (
    {{ deduplicated('source', 'sku', 'snapshot_date desc, _source_file desc, _record_no desc') }}
),

in_stock as (
    select
        latest.sku,
        list(distinct {{ normalise_size('token.size') }}) as in_stock_sizes
    from latest, unnest(string_split(latest.in_stock_sizes, '|')) as token (size)
    where trim(token.size) <> ''
    group by latest.sku
),

final as (
    select
        latest.sku,
        {{ normalise_label('category', 'latest.category') }} as category,
        {{ normalise_label('colour', 'latest.colour') }} as colour,
        {{ normalise_label('material', 'latest.material') }} as material,
        {{ normalise_label('fit', 'latest.fit') }} as fit,
        latest.base_price_eur,
        nullif(trim(latest.size_range), '') as size_range,
        nullif(latest.configurable_options, '') as configurable_options,
        coalesce(latest.is_made_to_order, false) as is_made_to_order,
        coalesce(in_stock.in_stock_sizes, []) as in_stock_sizes,
        latest.snapshot_date
    from latest
    left join in_stock on latest.sku = in_stock.sku
)

select * from final
