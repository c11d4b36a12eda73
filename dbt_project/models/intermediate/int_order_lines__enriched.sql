-- Order lines with their order, amounts converted to EUR, returned quantity, and the person
-- who bought them (CRM orders by CRM id, guest orders through their email; see identity).
with orders as (
    select * from {{ ref('stg_erp__orders') }}
),

order_lines as (
    select * from {{ ref('stg_erp__order_lines') }}
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

identity_map as (
    select * from {{ ref('int_identity__map') }}
),

returns as (
    select
        order_line_id,
        sum(quantity) as returned_quantity,
        min(reason_code) as return_reason
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
        -- a CRM id that is no longer in the CRM (erased) stays an anonymous 'crm:…' person:
        -- counted in aggregates, never profiled
        coalesce(
            identity_map.person_id,
            case
                when orders.is_guest_order then 'guest_order:' || orders.order_id
                else 'crm:' || orders.customer_id
            end
        ) as person_id,
        coalesce(identity_map.is_known_customer, false) as is_known_customer,
        orders.ordered_at,
        orders.currency_code,
        orders.shipping_country_code,
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
    left join identity_map
        on identity_map.identifier = case
            when orders.is_guest_order then 'guest_order:' || orders.order_id
            else 'crm:' || orders.customer_id
        end
)

select * from final
