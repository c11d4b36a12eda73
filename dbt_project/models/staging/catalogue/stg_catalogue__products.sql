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

in_stock_tokens as (
    select
        latest.sku,
        {{ normalise_size('token.size') }} as size
    from latest, {{ unnested(split_text('latest.in_stock_sizes', '|'), 'token', 'size') }}
    where trim(token.size) <> ''
),

in_stock as (
    select
        sku,
        {{ sorted_distinct_list('size') }} as in_stock_sizes
    from in_stock_tokens
    group by sku
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
        coalesce(in_stock.in_stock_sizes, {{ empty_text_list() }}) as in_stock_sizes,
        latest.snapshot_date
    from latest
    left join in_stock on latest.sku = in_stock.sku
)

select * from final
