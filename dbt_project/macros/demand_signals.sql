{#
  What counts as a demand signal (int_demand__signals), of the web events (alias `events`) and
  order lines (alias `order_lines`) the two filters keep: an order line (units, its order, its
  amount in EUR) or a product view, cart add or wishlist of a catalogue product (bots are
  excluded by int_web__events_attributed), with the person behind it and the product's design
  attributes.
#}
{% macro demand_signal_rows(events_filter='true', lines_filter='true') -%}
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
    from {{ ref('int_order_lines__enriched') }} as order_lines
    where ({{ lines_filter }})

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
    from {{ ref('int_web__events_attributed') }} as events
    inner join {{ ref('stg_catalogue__products') }} as products on events.sku = products.sku
    where
        events.event_type in ('product_view', 'add_to_cart', 'wishlist')
        and ({{ events_filter }})
{%- endmacro %}

{# Demand signals summed per ISO week (Monday), person and product attributes
   (int_demand__weekly_cells): counts, units, and a bit mask of the weekdays (bit 0 = Monday). #}
{% macro weekly_cells(signals) -%}
    select
        date_trunc('week', signals.signal_at)::date as week_start,
        signals.category,
        signals.size,
        signals.colour,
        signals.material,
        signals.fit,
        signals.person_id,
        coalesce(sum(signals.quantity) filter (where signals.signal = 'order'), 0) as units,
        count(*) filter (where signals.signal = 'product_view') as product_views,
        count(*) filter (where signals.signal = 'add_to_cart') as cart_adds,
        count(*) filter (where signals.signal = 'wishlist') as wishlist_adds,
        bit_or(1 << ({{ iso_weekday('signals.signal_at::date') }} - 1)) as weekdays
    from ({{ signals }}) as signals
    group by all
{%- endmacro %}
