-- Demand per week, so a trend can be seen and not only labelled: per ISO week (Monday) x
-- category x attribute (size, colour, material, fit) x value, the units ordered, the product
-- views, cart adds and wishlists (bots excluded), and the people behind them, over all history
-- before the as-of date. days_covered says how many days of the week the data spans (the first
-- and the current week are partial). Cells with fewer than min_group_size people are
-- suppressed (privacy).
{% set k = var('min_group_size') | int %}
{% set attributes = ['size', 'colour', 'material', 'fit'] %}
with cells as {{ not_materialized() }} (
    select * from {{ ref('int_demand__weekly_cells') }}
),

days as (
    select
        week_start,
        bit_count(bit_or(weekdays)) as days_covered
    from cells
    group by week_start
),

long as (
    {% for attribute in attributes %}
        select
            cells.week_start,
            cells.category,
            '{{ attribute }}' as attribute,
            cells.{{ attribute }} as value,
            sum(cells.units) as units,
            sum(cells.product_views) as product_views,
            sum(cells.cart_adds) as cart_adds,
            sum(cells.wishlist_adds) as wishlist_adds,
            count(distinct cells.person_id) as customer_count
        from cells
        where cells.{{ attribute }} is not null and cells.category is not null
        group by cells.week_start, cells.category, cells.{{ attribute }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        long.week_start,
        days.days_covered::integer as days_covered,
        long.category,
        long.attribute,
        long.value,
        long.units::bigint as units,
        long.product_views::bigint as product_views,
        long.cart_adds::bigint as cart_adds,
        long.wishlist_adds::bigint as wishlist_adds,
        long.customer_count::bigint as customer_count
    from long
    inner join days on long.week_start = days.week_start
    where long.customer_count >= {{ k }}
)

select * from final
