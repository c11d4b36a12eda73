-- The one definition of unmet demand, flagged once per run for its two readers
-- (int_customer_needs per person, design_unmet_demand per subject), instead of each joining
-- all attributed web events to the catalogue and the sessions again. One row per web event
-- (int_web__events_attributed: bots and erased persons already out) that can be unmet demand:
--   is_search_without_results      a search that returned no results
--   is_view_of_out_of_stock_size   a product view, cart add or wishlist of a size the newest
--                                  catalogue snapshot has out of stock (unknown SKU: never)
--   is_cart_add                    a cart add; it is abandoned when its session has no
--                                  checkout (session_checkout_at is null), or, as of a date,
--                                  none before it (macros/abandoned_cart_add.sql)
-- category is the product's category (null for an unknown SKU or an event without one).
-- A table rebuilt each run: the stock flags follow the newest catalogue snapshot, and a late
-- checkout changes earlier cart adds.
with events as {{ not_materialized() }} (
    select * from {{ ref('int_web__events_attributed') }}
),

products as (
    select * from {{ ref('stg_catalogue__products') }}
),

-- when each session first checked out
checkouts as (
    select
        session_id,
        min(occurred_at) as first_checkout_at
    from events
    where event_type = 'checkout'
    group by session_id
),

flagged as (
    select
        events.event_id,
        events.person_id,
        events.is_known_customer,
        events.event_type,
        events.occurred_at,
        events.sku,
        products.category,
        events.size,
        events.search_query,
        coalesce(events.event_type = 'search' and events.result_count = 0, false)
            as is_search_without_results,
        coalesce(
            events.event_type in ('product_view', 'add_to_cart', 'wishlist')
            and events.size is not null
            and not {{ list_has('products.in_stock_sizes', 'events.size') }},
            false
        ) as is_view_of_out_of_stock_size,
        events.event_type = 'add_to_cart' as is_cart_add,
        checkouts.first_checkout_at as session_checkout_at
    from events
    left join products on events.sku = products.sku
    left join checkouts on events.session_id = checkouts.session_id
    -- only events a flag can hold (what each flag needs of the event itself), before the
    -- joins: a quarter of all events (SF 1: 1.41 M of 5.55 M; the model 1.02 s -> 0.83 s)
    where
        (events.event_type = 'search' and events.result_count = 0)
        or events.event_type = 'add_to_cart'
        or (events.event_type in ('product_view', 'wishlist') and events.size is not null)
),

final as (
    select *
    from flagged
    where is_search_without_results or is_view_of_out_of_stock_size or is_cart_add
)

select * from final
