-- What customers look for and cannot get: searches without results, product views of sizes
-- that are out of stock, carts abandoned without checkout (flagged in int_web__unmet_events).
-- Bots excluded; rows with fewer than min_group_size distinct visitors are suppressed
-- (privacy).
{% set k = var('min_group_size') | int %}
with flagged as (
    select
        unmet.*,
        {{ abandoned_cart_add() }} as is_abandoned_cart_add
    from {{ ref('int_web__unmet_events') }} as unmet
),

zero_result_searches as (
    select
        'search_without_results' as signal_type,
        search_query as subject,
        null::string as category,
        null::string as size,
        count(*) as events,
        count(distinct person_id) as visitor_count
    from flagged
    where
        is_search_without_results and search_query is not null
        -- a query holding an email, phone, card number or IBAN is personal data, not a need
        and not {{ contains_personal_data('search_query') }}
    group by search_query
),

out_of_stock_views as (
    select
        'view_of_out_of_stock_size' as signal_type,
        sku as subject,
        category,
        size,
        count(*) as events,
        count(distinct person_id) as visitor_count
    from flagged
    where is_view_of_out_of_stock_size
    group by sku, category, size
),

abandoned_carts as (
    select
        'abandoned_cart' as signal_type,
        category as subject,
        category,
        size,
        count(*) as events,
        count(distinct person_id) as visitor_count
    from flagged
    where is_abandoned_cart_add and category is not null  -- a product of the catalogue
    group by category, size
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
        events::bigint as events,
        visitor_count::bigint as visitor_count
    from signals
    where visitor_count >= {{ k }}
)

select * from final
