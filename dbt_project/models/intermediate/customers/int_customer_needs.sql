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

fit as (
    select * from {{ ref('int_customer_fit__sizes') }}
),

signals as {{ not_materialized() }} (
    select * from {{ ref('int_customer_signals') }}
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

-- typed nested columns: category -> {size, confidence}, and what the size rests on
-- (SF 10, 4.0 M rows -> 0.91 M persons: 9.4 s; the two maps as one unordered list each, sorted
-- with list_sort and made with map_from_entries: 8.1 s, the same rows; not worth a second form
-- of the macro for Spark)
sizes as (
    select
        person_id,
        {{ map_from_lists(
            ordered_list('category', 'category'),
            ordered_list(struct_of([('size', 'recommended_size'),
                                    ('confidence', 'confidence::double')]), 'category')
        ) }} as sizes_by_category,
        {{ map_from_lists(
            ordered_list('category', 'category'),
            ordered_list(struct_of([('kept_units', 'kept_units'),
                                    ('returned_too_small', 'returned_too_small'),
                                    ('returned_too_large', 'returned_too_large'),
                                    ('has_measurement', 'has_measurement')]), 'category')
        ) }} as fit_evidence
    from fit
    group by person_id
),

-- affinity share of a value = its recency-weighted signal weight / the person's total for
-- that attribute (int_customer_signals); the top 3 values are kept (ties by name: shares equal
-- to 12 decimal places are ties, so a sum in another order ranks the same)
-- (SF 10: 18.1 M values -> 11.5 M kept, 11-13 s, the slowest part of this model. Measured
-- slower or not equal: totals by group-by joined back 11.9 s; top 3 by list_sort of a list per
-- person and attribute 14.7 s; arg_max(..., 3) on a struct key 26.7 s. Ranking by the weight in
-- the window that sums it takes 6.6 s, but loses the ties above, which incremental = full
-- refresh relies on.)
attribute_shares as (
    select
        person_id,
        attribute as dimension,
        value,
        weight / sum(weight) over (partition by person_id, attribute) as exact_share
    from signals
    where attribute != 'option'
),

top_shares as (
    select
        person_id,
        dimension,
        value,
        {{ round_half_up('exact_share', 3) }} as share
    from attribute_shares
    qualify row_number() over (
        partition by person_id, dimension
        order by {{ round_half_up('exact_share', 12) }} desc, value asc
    ) <= 3
),

affinities as (
    select
        person_id,
        {% for dimension in dimensions %}
            {{ map_from_lists(
                ordered_list('value', 'share desc, value asc', "dimension = '" ~ dimension ~ "'"),
                ordered_list('share::double', 'share desc, value asc',
                             "dimension = '" ~ dimension ~ "'")
            ) }} as {{ dimension }}_affinity{% if not loop.last %},{% endif %}
        {% endfor %}
    from top_shares
    group by person_id
),

-- options chosen in the configurator and configured on made-to-order lines, most used first
top_options as (
    select
        person_id,
        {{ list_head(ordered_list('value', 'weight desc, value asc'), 3) }} as top_options
    from signals
    where attribute = 'option'
    group by person_id
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
        sizes.sizes_by_category,
        sizes.fit_evidence,
        golden.preferred_fit as stated_fit,
        {% for dimension in dimensions %}
            affinities.{{ dimension }}_affinity,
        {% endfor %}
        {{ round_half_up('purchases.median_unit_price_eur', 2) }}::decimal(10, 2)
            as median_unit_price_eur,
        purchases.price_band,
        {{ round_half_up('coalesce(purchases.discounted_unit_share, 0)', 3) }}
            as discounted_unit_share,
        purchases.discount_sensitivity,
        top_options.top_options,
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
    left join sizes on golden.person_id = sizes.person_id
    left join affinities on golden.person_id = affinities.person_id
    left join purchases on golden.person_id = purchases.person_id
    left join top_options on golden.person_id = top_options.person_id
    left join unmet on golden.person_id = unmet.person_id
    left join web_activity on golden.person_id = web_activity.person_id
)

select * from final
