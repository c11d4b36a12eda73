-- Demand signals per category x size x colour x material x fit over the demand window (the
-- `demand_window_days` before the run's as-of date), with the trend against the window before
-- it (by default the previous 4 weeks). Orders give units, orders and revenue; the web gives
-- views of a size, cart adds and wishlists (bots excluded). customer_count counts distinct
-- people with any signal in the cell in the current window; cells below min_group_size people
-- are suppressed (privacy).
{% set window_days = var('demand_window_days') | int %}
{% set as_of = var('as_of_date') %}
{% set window_start = "date '" ~ as_of ~ "' - interval " ~ window_days ~ " day" %}
{% set previous_start = "date '" ~ as_of ~ "' - interval " ~ (2 * window_days) ~ " day" %}
with demand_signals as (
    select * from {{ ref('int_demand__signals') }}
    where signal_at < date '{{ as_of }}'
),

signals as (
    -- orders over both windows (units_previous); web signals of a size in the current window
    select
        demand_signals.category,
        demand_signals.size,
        coalesce(demand_signals.colour, 'unknown') as colour,
        coalesce(demand_signals.material, 'unknown') as material,
        coalesce(demand_signals.fit, 'unknown') as fit,
        demand_signals.person_id,
        demand_signals.signal_at >= {{ window_start }} as is_current,
        demand_signals.signal,
        demand_signals.order_id,
        demand_signals.quantity,
        demand_signals.line_amount_eur
    from demand_signals
    where
        (demand_signals.signal = 'order' and demand_signals.signal_at >= {{ previous_start }})
        or (
            demand_signals.signal <> 'order'
            and demand_signals.signal_at >= {{ window_start }}
            and demand_signals.size is not null
        )
),

cells as (
    select
        category,
        size,
        colour,
        material,
        fit,
        coalesce(sum(quantity) filter (where signal = 'order' and is_current), 0) as units,
        count(distinct order_id) filter (where is_current) as order_count,
        coalesce(sum(line_amount_eur) filter (where is_current), 0) as revenue,
        count(*) filter (where signal = 'product_view') as product_views,
        count(*) filter (where signal = 'add_to_cart') as cart_adds,
        count(*) filter (where signal = 'wishlist') as wishlist_adds,
        count(distinct person_id) filter (where is_current) as customer_count,
        coalesce(sum(quantity) filter (where signal = 'order' and not is_current), 0)
            as units_previous
    from signals
    group by category, size, colour, material, fit
),

final as (
    select
        category,
        size,
        colour,
        material,
        fit,
        units::bigint as units,
        order_count::bigint as order_count,
        customer_count::bigint as customer_count,
        revenue::decimal(14, 2) as revenue,
        product_views::bigint as product_views,
        cart_adds::bigint as cart_adds,
        wishlist_adds::bigint as wishlist_adds,
        units_previous::bigint as units_previous,
        case
            when units_previous > 0
                then {{ round_half_up('(units - units_previous) / units_previous', 3) }}
        end as units_change,
        case
            when units_previous = 0 and units = 0 then 'no_sales'
            when units_previous = 0 then 'new'
            when units >= 1.2 * units_previous then 'rising'
            when units <= 0.8 * units_previous then 'falling'
            else 'steady'
        end as trend,
        ({{ window_start }})::date as window_start,
        (date '{{ as_of }}' - interval 1 day)::date as window_end
    from cells
    where customer_count >= {{ var('min_group_size') | int }}
)

select * from final
