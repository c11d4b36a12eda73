-- Which sizes of which category come back, and why: per category x size x return reason, the
-- units sold in that size, the units returned for that reason, and the return rate. Answers
-- "which sizes of which category are returned as too small?" (reason too_small; size_direction
-- +1 means the customer needed the next size up). Sizes sort by size_order (size_scale).
-- Cells with fewer than min_group_size distinct returning people are suppressed (privacy).
{% set k = var('min_group_size') | int %}
with lines as (
    select * from {{ ref('int_order_lines__enriched') }}
),

returns as (
    select * from {{ ref('stg_erp__returns') }}
),

reasons as (
    select * from {{ ref('return_reasons') }}
),

size_scale as (
    select * from {{ ref('int_catalogue__size_scale') }}
),

sold as (
    select
        lines.category,
        lines.size,
        sum(lines.quantity) as units_sold,
        count(distinct lines.person_id) as buyer_count
    from lines
    where lines.size is not null
    group by lines.category, lines.size
),

returned as (
    select
        lines.category,
        lines.size,
        returns.reason_code,
        sum(returns.quantity) as units_returned,
        count(distinct lines.person_id) as customer_count
    from returns
    inner join lines on returns.order_line_id = lines.order_line_id
    where lines.size is not null
    group by lines.category, lines.size, returns.reason_code
),

final as (
    select
        returned.category,
        returned.size,
        size_scale.sort_order as size_order,
        returned.reason_code,
        reasons.is_fit_issue,
        reasons.size_direction,
        sold.units_sold::bigint as units_sold,
        returned.units_returned::bigint as units_returned,
        {{ round_half_up('returned.units_returned / sold.units_sold', 4) }} as return_rate,
        returned.customer_count::bigint as customer_count
    from returned
    inner join sold on returned.category = sold.category and returned.size = sold.size
    inner join reasons on returned.reason_code = reasons.reason_code
    left join size_scale
        on returned.category = size_scale.category and returned.size = size_scale.size
    where returned.customer_count >= {{ k }}
)

select * from final
