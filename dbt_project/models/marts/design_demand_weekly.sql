-- Demand per week, so a trend can be seen and not only labelled: per ISO week (Monday) x
-- category x attribute (size, colour, material, fit) x value, the units ordered, the product
-- views, cart adds and wishlists (bots excluded), and the people behind them, over all history
-- before the as-of date. days_covered says how many days of the week the data spans (the first
-- and the current week are partial). Cells with fewer than min_group_size people are
-- suppressed (privacy).
{% set k = var('min_group_size') | int %}
{% set as_of = var('as_of_date') %}
{% set attributes = ['size', 'colour', 'material', 'fit'] %}
with demand_signals as (
    select * from {{ ref('int_demand__signals') }}
    where signal_at < date '{{ as_of }}'
),

signals as (
    select
        date_trunc('week', demand_signals.signal_at)::date as week_start,
        demand_signals.signal_at::date as signal_day,
        demand_signals.category,
        demand_signals.size,
        demand_signals.colour,
        demand_signals.material,
        demand_signals.fit,
        demand_signals.person_id,
        demand_signals.signal,
        demand_signals.quantity
    from demand_signals
),

days as (
    select
        week_start,
        count(distinct signal_day) as days_covered
    from signals
    group by week_start
),

long as (
    {% for attribute in attributes %}
        select
            signals.week_start,
            signals.category,
            '{{ attribute }}' as attribute,
            signals.{{ attribute }} as value,
            coalesce(sum(signals.quantity) filter (where signals.signal = 'order'), 0) as units,
            count(*) filter (where signals.signal = 'product_view') as product_views,
            count(*) filter (where signals.signal = 'add_to_cart') as cart_adds,
            count(*) filter (where signals.signal = 'wishlist') as wishlist_adds,
            count(distinct signals.person_id) as customer_count
        from signals
        where signals.{{ attribute }} is not null and signals.category is not null
        group by signals.week_start, signals.category, signals.{{ attribute }}
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
