-- What every known buyer's orders say (one row per known person with an order before the as-of
-- date, consent or not): frequency, units, value, dates, price, discounts, made to order, RFM and
-- lifecycle. int_customer_needs profiles the consenting ones; marts.customer_needs also counts
-- the others, as the crowd a published profile must hide in (quasi-identifiers).
--   * price band: the buyer's median paid unit price (EUR) against the terciles of all paid
--     unit prices before the as-of date (budget / mid / premium);
--   * discount sensitivity: share of units bought with a discount, high >= 0.5, medium >= 0.2;
--   * RFM: scores 1..5 by percent rank among known buyers (ties share a score); recency in
--     days before the as-of date;
--   * lifecycle: new (one order, within 30 days), active (within 90 days), lapsing (90-180),
--     lapsed (over 180 days).
{% set as_of = var('as_of_date') %}
with order_lines as {{ not_materialized() }} (
    select * from {{ ref('int_order_lines__enriched') }}
    where ordered_at < date '{{ as_of }}'
),

price_terciles as (
    select
        {{ quantile_cont('unit_price_eur', '1 / 3') }} as low,
        {{ quantile_cont('unit_price_eur', '2 / 3') }} as high
    from order_lines
),

purchases as (
    select
        person_id,
        count(distinct order_id) as order_count,
        sum(quantity) as units_bought,
        sum(returned_quantity) as units_returned,
        sum(line_amount_eur) as revenue,
        sum(line_amount_eur * (quantity - least(returned_quantity, quantity)) / quantity)
            as net_revenue,
        min(ordered_at)::date as first_order_date,
        max(ordered_at) as last_order_at,
        {{ quantile_cont('unit_price_eur', '0.5') }} as median_unit_price_eur,
        coalesce(sum(quantity) filter (where discount_rate > 0) / sum(quantity), 0)
            as discounted_unit_share,
        coalesce(sum(quantity) filter (where is_made_to_order) / sum(quantity), 0)
            as made_to_order_share,
        -- every order under one CRM id: an outsider holding the order export computes exactly
        -- these figures for that id (see marts.customer_needs)
        count(distinct customer_id) = 1 and bool_and(not is_guest_order) as is_single_crm_id
    from order_lines
    where is_known_customer
    group by person_id
),

scored as (
    select
        purchases.*,
        {{ days_between('purchases.last_order_at::date', "date '" ~ as_of ~ "'") }} as recency_days,
        least(5, 1 + floor(5 * percent_rank() over (order by purchases.last_order_at)))::integer
        || least(5, 1 + floor(5 * percent_rank() over (order by purchases.order_count)))::integer
        || least(5, 1 + floor(5 * percent_rank() over (order by purchases.net_revenue)))::integer
            as rfm_score
    from purchases
),

final as (
    select
        scored.person_id,
        scored.order_count,
        scored.units_bought,
        scored.units_returned,
        scored.revenue,
        scored.net_revenue,
        scored.first_order_date,
        scored.last_order_at,
        scored.median_unit_price_eur,
        case
            when scored.median_unit_price_eur < price_terciles.low then 'budget'
            when scored.median_unit_price_eur > price_terciles.high then 'premium'
            else 'mid'
        end as price_band,
        scored.discounted_unit_share,
        case
            when scored.discounted_unit_share >= 0.5 then 'high'
            when scored.discounted_unit_share >= 0.2 then 'medium'
            else 'low'
        end as discount_sensitivity,
        scored.made_to_order_share,
        scored.is_single_crm_id,
        scored.recency_days,
        scored.rfm_score,
        case
            when scored.recency_days > 180 then 'lapsed'
            when scored.recency_days > 90 then 'lapsing'
            when
                scored.order_count = 1
                and {{ days_between('scored.first_order_date', "date '" ~ as_of ~ "'") }} <= 30
                then 'new'
            else 'active'
        end as lifecycle_stage
    from scored
    cross join price_terciles
)

select * from final
