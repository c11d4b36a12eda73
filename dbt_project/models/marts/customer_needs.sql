-- One row per customer who consented to profiling: what they buy, in which sizes and colours.
-- Favourites are the most bought (units); ties go to the alphabetically first value.
with customers as (
    select * from {{ ref('stg_crm__customers') }}
    where has_profiling_consent
),

purchases as (
    select
        customer_id,
        order_id,
        ordered_at,
        category,
        size,
        colour,
        quantity,
        line_amount_eur
    from {{ ref('int_order_lines__enriched') }}
    where customer_id is not null
),

totals as (
    select
        customer_id,
        count(distinct order_id) as order_count,
        sum(quantity) as units_bought,
        sum(line_amount_eur) as revenue,
        max(ordered_at)::date as last_order_date
    from purchases
    group by customer_id
),

category_units as (
    select customer_id, category, sum(quantity) as units
    from purchases
    group by customer_id, category
),

favourite_category as (
    select customer_id, category as favourite_category
    from category_units
    qualify row_number() over (partition by customer_id order by units desc, category) = 1
),

colour_units as (
    select customer_id, colour, sum(quantity) as units
    from purchases
    where colour is not null
    group by customer_id, colour
),

favourite_colour as (
    select customer_id, colour as favourite_colour
    from colour_units
    qualify row_number() over (partition by customer_id order by units desc, colour) = 1
),

size_units as (
    select customer_id, category, size, sum(quantity) as units
    from purchases
    group by customer_id, category, size
),

top_size as (
    select customer_id, category, size
    from size_units
    qualify row_number() over (
        partition by customer_id, category order by units desc, size
    ) = 1
),

sizes_by_category as (
    select
        customer_id,
        to_json(map(list(category order by category), list(size order by category)))::varchar
            as sizes_by_category
    from top_size
    group by customer_id
),

final as (
    select
        customers.customer_id,
        customers.country_code,
        customers.segment,
        coalesce(totals.order_count, 0)::integer as order_count,
        coalesce(totals.units_bought, 0)::integer as units_bought,
        coalesce(totals.revenue, 0)::decimal(14, 2) as revenue,
        favourite_category.favourite_category,
        favourite_colour.favourite_colour,
        sizes_by_category.sizes_by_category,
        totals.last_order_date
    from customers
    left join totals on customers.customer_id = totals.customer_id
    left join favourite_category on customers.customer_id = favourite_category.customer_id
    left join favourite_colour on customers.customer_id = favourite_colour.customer_id
    left join sizes_by_category on customers.customer_id = sizes_by_category.customer_id
)

select * from final
