-- One row per known person (identity component with a living CRM record) whose golden record
-- grants profiling consent: fit, affinities, price, customisation, unmet demand, value and
-- lifecycle, with exact figures. Internal: the published marts.customer_needs coarsens what
-- could single a person out (quasi-identifiers). Every rule is in the model it comes from or in
-- the comment beside its CTE; the columns are described in marts/_marts__models.yml
-- (customer_needs).
{% set as_of = var('as_of_date') %}
{% set dimensions = ['category', 'colour', 'material', 'fit'] %}
with golden as (
    select * from {{ ref('int_customers__golden') }}
    where has_profiling_consent
),

-- sizes, affinities and options: kept by person, recomputed only for the persons whose inputs
-- changed
preferences as (
    select * from {{ ref('int_customer_preferences') }}
),

purchases as (
    select * from {{ ref('int_customer_purchases') }}
),

events as (
    select * from {{ ref('int_web__events_attributed') }}
    where occurred_at < date '{{ as_of }}'
),

unmet_events as (
    select * from {{ ref('int_web__unmet_events') }}
    where occurred_at < date '{{ as_of }}'
),

-- unmet demand as flagged by int_web__unmet_events, as of the run
unmet as (
    select
        unmet.person_id,
        count(*) filter (where unmet.is_search_without_results) as zero_result_searches,
        -- a query holding an email, phone, card number or IBAN is personal data, not a need
        {{ sorted_distinct_list('unmet.search_query', 'unmet.is_search_without_results and not '
                                ~ contains_personal_data('unmet.search_query')) }}
            as unmet_queries,
        count(*) filter (where unmet.is_view_of_out_of_stock_size) as out_of_stock_size_views,
        count(*) filter (where {{ abandoned_cart_add(as_of) }}) as abandoned_cart_items
    from unmet_events as unmet
    where unmet.is_known_customer
    group by unmet.person_id
),

web_activity as (
    select
        person_id,
        max(occurred_at) as last_web_activity_at
    from events
    where is_known_customer
    group by person_id
),

final as (
    select
        golden.person_id as customer_id,
        golden.crm_record_count::integer as crm_record_count,
        golden.country_code,
        golden.segment,
        preferences.sizes_by_category,
        preferences.fit_evidence,
        golden.preferred_fit as stated_fit,
        {% for dimension in dimensions %}
            preferences.{{ dimension }}_affinity,
        {% endfor %}
        {{ round_half_up('purchases.median_unit_price_eur', 2) }}::decimal(10, 2)
            as median_unit_price_eur,
        purchases.price_band,
        {{ round_half_up('coalesce(purchases.discounted_unit_share, 0)', 3) }}
            as discounted_unit_share,
        purchases.discount_sensitivity,
        preferences.top_options,
        {{ round_half_up('coalesce(purchases.made_to_order_share, 0)', 3) }}
            as made_to_order_share,
        coalesce(unmet.zero_result_searches, 0)::bigint as zero_result_searches,
        unmet.unmet_queries,
        coalesce(unmet.out_of_stock_size_views, 0)::bigint as out_of_stock_size_views,
        coalesce(unmet.abandoned_cart_items, 0)::bigint as abandoned_cart_items,
        coalesce(purchases.order_count, 0)::bigint as order_count,
        coalesce(purchases.units_bought, 0)::bigint as units_bought,
        coalesce(purchases.units_returned, 0)::bigint as units_returned,
        coalesce(purchases.revenue, 0)::decimal(14, 2) as revenue,
        coalesce(purchases.net_revenue, 0)::decimal(14, 2) as net_revenue,
        purchases.first_order_date,
        purchases.last_order_at::date as last_order_date,
        purchases.recency_days::integer as recency_days,
        purchases.rfm_score,
        coalesce(purchases.lifecycle_stage, 'prospect') as lifecycle_stage,
        greatest(purchases.last_order_at, web_activity.last_web_activity_at) as last_activity_at
    from golden
    left join preferences on golden.person_id = preferences.person_id
    left join purchases on golden.person_id = purchases.person_id
    left join unmet on golden.person_id = unmet.person_id
    left join web_activity on golden.person_id = web_activity.person_id
)

select * from final
