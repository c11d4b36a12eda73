-- Demand signals (int_demand__signals) before the as-of date, summed per ISO week (Monday),
-- person and product attributes: the grain design_demand_weekly adds up once per attribute. A
-- table, so those four aggregates and the days covered read it instead of re-deriving (and
-- holding) every signal; weekdays is a bit mask of the days the week's signals fall on
-- (bit 0 = Monday).
{% set as_of = var('as_of_date') %}
with demand_signals as (
    select * from {{ ref('int_demand__signals') }}
    where signal_at < date '{{ as_of }}'
),

final as (
    select
        date_trunc('week', signal_at)::date as week_start,
        category,
        size,
        colour,
        material,
        fit,
        person_id,
        coalesce(sum(quantity) filter (where signal = 'order'), 0) as units,
        count(*) filter (where signal = 'product_view') as product_views,
        count(*) filter (where signal = 'add_to_cart') as cart_adds,
        count(*) filter (where signal = 'wishlist') as wishlist_adds,
        bit_or(1 << (isodow(signal_at::date) - 1)) as weekdays
    from demand_signals
    group by all
)

select * from final
