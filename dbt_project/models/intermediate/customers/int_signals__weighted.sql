-- Every preference signal before the run's as-of date, attributed to a person and weighted:
-- web product views, wishlists, cart adds and configurator choices (bots excluded), and
-- purchased units split into kept and returned. weight = seed weight (seeds/affinity_weights.csv)
-- x units; recency_weight halves every `affinity_half_life_days` days of age at the as-of date.
-- Browsers that never logged in stay anonymous people ('anon:…') so aggregates still count them.
{% set as_of = var('as_of_date') %}
{% set half_life = var('affinity_half_life_days') | float %}
with events as (
    select * from {{ ref('int_web__events_attributed') }}
    where occurred_at < date '{{ as_of }}'
),

order_lines as (
    select * from {{ ref('int_order_lines__enriched') }}
    where ordered_at < date '{{ as_of }}'
),

products as (
    select * from {{ ref('stg_catalogue__products') }}
),

weights as (
    select * from {{ ref('affinity_weights') }}
),

web_signals as (
    select
        events.person_id,
        events.is_known_customer,
        events.event_type as signal,
        'web' as channel,
        events.occurred_at,
        events.sku,
        products.category,
        products.colour,
        products.material,
        products.fit,
        events.size,
        case
            when events.option_name is not null
                then events.option_name || '=' || events.option_value
        end as option_chosen,
        1 as units
    from events
    inner join products on events.sku = products.sku
    where events.event_type in (select weights.signal from weights)
),

purchase_signals as (
    select
        order_lines.person_id,
        order_lines.is_known_customer,
        split.signal,
        'order' as channel,
        order_lines.ordered_at as occurred_at,
        order_lines.sku,
        order_lines.category,
        order_lines.colour,
        order_lines.material,
        order_lines.fit,
        order_lines.size,
        null::varchar as option_chosen,
        split.units
    from order_lines,
        lateral (
            select
                'purchase_kept' as signal,
                order_lines.quantity - order_lines.returned_quantity as units
            union all
            select
                'purchase_returned' as signal,
                order_lines.returned_quantity as units
        ) as split
    where split.units > 0
),

signals as (
    select * from web_signals
    union all
    select * from purchase_signals
),

final as (
    select
        signals.*,
        weights.weight * signals.units as weight,
        weights.weight * signals.units * pow(
            0.5, date_diff('second', signals.occurred_at, date '{{ as_of }}'::timestamptz)
            / 86400.0 / {{ half_life }}
        ) as recency_weight
    from signals
    inner join weights on signals.signal = weights.signal
)

select * from final
