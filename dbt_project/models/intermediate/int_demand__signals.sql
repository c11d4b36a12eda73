-- What counts as a demand signal, for both demand marts (design_demand, design_demand_weekly):
-- an order line (units, its order, its amount in EUR) or a product view, cart add or wishlist of
-- a catalogue product (bots are excluded by int_web__events_attributed), with the person behind
-- it and the product's design attributes. All history: each mart picks its own window.
{{ config(materialized='ephemeral') }}
with order_lines as (
    select * from {{ ref('int_order_lines__enriched') }}
),

events as (
    select * from {{ ref('int_web__events_attributed') }}
    where event_type in ('product_view', 'add_to_cart', 'wishlist')
),

products as (
    select * from {{ ref('stg_catalogue__products') }}
),

final as (
    select
        order_lines.ordered_at as signal_at,
        order_lines.category,
        order_lines.size,
        order_lines.colour,
        order_lines.material,
        order_lines.fit,
        order_lines.person_id,
        'order' as signal,
        order_lines.order_id,
        order_lines.quantity,
        order_lines.line_amount_eur
    from order_lines

    union all

    select
        events.occurred_at as signal_at,
        products.category,
        events.size,
        products.colour,
        products.material,
        products.fit,
        events.person_id,
        events.event_type as signal,
        null as order_id,
        null as quantity,
        null as line_amount_eur
    from events
    inner join products on events.sku = products.sku
)

select * from final
