-- What customers look for and cannot get: searches without results, product views of sizes
-- that are out of stock, carts abandoned without checkout. Bots excluded; rows with fewer than
-- min_group_size distinct visitors are suppressed (privacy).
{% set k = var('min_group_size') | int %}
with events as (
    select * from {{ ref('int_web__events_attributed') }}
),

products as (
    select * from {{ ref('stg_catalogue__products') }}
),

zero_result_searches as (
    select
        'search_without_results' as signal_type,
        search_query as subject,
        null::varchar as category,
        null::varchar as size,
        count(*) as events,
        count(distinct person_id) as visitor_count
    from events
    where event_type = 'search' and result_count = 0 and search_query is not null
    group by search_query
),

out_of_stock_views as (
    select
        'view_of_out_of_stock_size' as signal_type,
        events.sku as subject,
        products.category,
        events.size,
        count(*) as events,
        count(distinct events.person_id) as visitor_count
    from events
    inner join products on events.sku = products.sku
    where
        events.event_type in ('product_view', 'add_to_cart', 'wishlist')
        and events.size is not null
        and not list_contains(products.in_stock_sizes, events.size)
    group by events.sku, products.category, events.size
),

checked_out_sessions as (
    select distinct session_id from events
    where event_type = 'checkout'
),

abandoned_carts as (
    select
        'abandoned_cart' as signal_type,
        products.category as subject,
        products.category,
        events.size,
        count(*) as events,
        count(distinct events.person_id) as visitor_count
    from events
    inner join products on events.sku = products.sku
    left join checked_out_sessions on events.session_id = checked_out_sessions.session_id
    where events.event_type = 'add_to_cart' and checked_out_sessions.session_id is null
    group by products.category, events.size
),

signals as (
    select * from zero_result_searches
    union all
    select * from out_of_stock_views
    union all
    select * from abandoned_carts
),

final as (
    select
        signal_type,
        subject,
        category,
        size,
        events::integer as events,
        visitor_count::integer as visitor_count
    from signals
    where visitor_count >= {{ k }}
)

select * from final
