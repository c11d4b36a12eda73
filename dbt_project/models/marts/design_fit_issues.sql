-- Returns by product and reason: what does not fit, how often, in which sizes.
-- Rows with fewer than min_group_size distinct returning customers are suppressed (privacy).
{% set k = var('min_group_size') | int %}
with lines as (
    select * from {{ ref('int_order_lines__enriched') }}
),

returns as (
    select * from {{ ref('stg_erp__returns') }}
),

sold as (
    select
        sku,
        category,
        sum(quantity) as units_sold
    from lines
    group by sku, category
),

returned as (
    select
        lines.sku,
        lines.category,
        returns.reason_code,
        sum(returns.quantity) as units_returned,
        count(distinct lines.person_id) as customer_count,
        {{ sorted_distinct_list('lines.size') }} as sizes_affected
    from returns
    inner join lines on returns.order_line_id = lines.order_line_id
    group by lines.sku, lines.category, returns.reason_code
),

final as (
    select
        returned.sku,
        returned.category,
        returned.reason_code,
        returned.units_returned::bigint as units_returned,
        sold.units_sold::bigint as units_sold,
        {{ round_half_up('returned.units_returned / sold.units_sold', 4) }} as return_rate,
        returned.customer_count::bigint as customer_count,
        {{ list_join('returned.sizes_affected', "','") }} as sizes_affected
    from returned
    inner join sold on returned.sku = sold.sku
    where returned.customer_count >= {{ k }}
)

select * from final
