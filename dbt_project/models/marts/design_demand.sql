-- Demand by category x size x colour over the demand window ending at the run's as-of date.
-- Cells bought by fewer than min_group_size distinct customers are suppressed (privacy).
{% set window_days = var('demand_window_days') | int %}
{% set as_of = var('as_of_date') %}
with order_lines as (
    select * from {{ ref('int_order_lines__enriched') }}
    where ordered_at >= date '{{ as_of }}' - interval {{ window_days }} day
        and ordered_at < date '{{ as_of }}'
),

cells as (
    select
        order_lines.category,
        order_lines.size,
        coalesce(order_lines.colour, 'unknown') as colour,
        sum(order_lines.quantity) as units,
        count(distinct order_lines.order_id) as order_count,
        count(distinct coalesce(order_lines.customer_id, order_lines.guest_email))
            as customer_count,
        sum(order_lines.line_amount_eur) as revenue
    from order_lines
    group by order_lines.category, order_lines.size, coalesce(order_lines.colour, 'unknown')
),

final as (
    select
        category,
        size,
        colour,
        units::integer as units,
        order_count::integer as order_count,
        customer_count::integer as customer_count,
        revenue::decimal(14, 2) as revenue,
        (date '{{ as_of }}' - interval {{ window_days }} day)::date as window_start,
        (date '{{ as_of }}' - interval 1 day)::date as window_end
    from cells
    where customer_count >= {{ var('min_group_size') | int }}
)

select * from final
