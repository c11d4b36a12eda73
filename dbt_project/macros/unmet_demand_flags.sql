{#
  The one definition of unmet demand, flagged per web event of `events` (which must carry
  event_type, result_count, sku, size and session_id); callers aggregate the flags their way:
    is_search_without_results      a search that returned no results
    is_view_of_out_of_stock_size   a product view, cart add or wishlist of a size the newest
                                   catalogue snapshot has out of stock (unknown SKU: never)
    is_abandoned_cart_add          a cart add in a session of `events` without a checkout
  `category` is the product's category (null for an unknown SKU or an event without one).
#}
{% macro unmet_demand_flags(events, products) -%}
    select
        {{ events }}.*,
        {{ products }}.category,
        coalesce({{ events }}.event_type = 'search' and {{ events }}.result_count = 0, false)
            as is_search_without_results,
        coalesce(
            {{ events }}.event_type in ('product_view', 'add_to_cart', 'wishlist')
            and {{ events }}.size is not null
            and not {{ list_has(products ~ '.in_stock_sizes', events ~ '.size') }},
            false
        ) as is_view_of_out_of_stock_size,
        {{ events }}.event_type = 'add_to_cart' and checked_out.session_id is null
            as is_abandoned_cart_add
    from {{ events }}
    left join {{ products }} on {{ events }}.sku = {{ products }}.sku
    left join (
        select distinct session_id from {{ events }} where event_type = 'checkout'
    ) as checked_out on {{ events }}.session_id = checked_out.session_id
{%- endmacro %}
