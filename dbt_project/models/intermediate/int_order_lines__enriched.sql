-- Order lines with their order, amounts converted to EUR, and returned quantity.
with orders as (
    select * from {{ ref('stg_erp__orders') }}
),

order_lines as (
    select * from {{ ref('stg_erp__order_lines') }}
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

returns as (
    select order_line_id, sum(quantity) as returned_quantity, min(reason_code) as return_reason
    from {{ ref('stg_erp__returns') }}
    group by order_line_id
),

final as (
    select
        order_lines.order_line_id,
        order_lines.order_id,
        orders.customer_id,
        orders.guest_email,
        orders.is_guest_order,
        orders.ordered_at,
        orders.currency_code,
        order_lines.sku,
        order_lines.category,
        order_lines.size,
        order_lines.colour,
        order_lines.material,
        order_lines.fit,
        order_lines.configured_options,
        order_lines.is_made_to_order,
        order_lines.quantity,
        order_lines.discount_rate,
        round(order_lines.unit_price / fx_rates.units_per_eur, 2) as unit_price_eur,
        round(order_lines.line_amount / fx_rates.units_per_eur, 2) as line_amount_eur,
        coalesce(returns.returned_quantity, 0) as returned_quantity,
        returns.return_reason
    from order_lines
    inner join orders on order_lines.order_id = orders.order_id
    inner join fx_rates on orders.currency_code = fx_rates.currency_code
    left join returns on order_lines.order_line_id = returns.order_line_id
)

select * from final
