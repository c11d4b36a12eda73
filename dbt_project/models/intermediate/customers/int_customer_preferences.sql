-- What a consenting person's own history says they wear and like, one row per person whose
-- golden record grants profiling consent: the size per category and what it rests on
-- (int_customer_fit__sizes), the top 3 values of each attribute by affinity share and the
-- options used most (int_customer_signals). None of it depends on the as-of date beyond
-- those two inputs, so int_customer_needs adds the as-of columns (recency, RFM, lifecycle,
-- unmet demand) to it every run, and this model is kept by person
-- (macros/changed_persons.sql): a run recomputes only the persons whose consent, fit rows or
-- signal rows changed, or everybody when more than 80 % of them did.
-- (SF 10, 0.83 M persons: everybody 30.9 s, with int_customer_needs then 9.1 s, against 39-49 s
-- for the two as one model; nobody changed 2.5 s (the hashes), 5 % 4.2 s, 20 % 8.5 s, so about
-- 0.29 s per percent; everybody as an incremental run 30.6 s: recomputing the changed is
-- cheaper up to about 90 %.)
{% set dimensions = ['category', 'colour', 'material', 'fit'] %}
{{ config(
    materialized=state_materialization(),
    incremental_strategy='append',
    rebuild_above_share=0.8,
    on_schema_change='fail',
    pre_hook="{{ changed_persons_prepare(customer_preferences_inputs()) }}",
    post_hook="{{ changed_persons_record() }}"
) }}
with persons as (
    select person_id from {{ ref('int_customers__golden') }}
    where has_profiling_consent and {{ changed_person('person_id') }}
),

fit as (
    select * from {{ ref('int_customer_fit__sizes') }}
    where person_id in (select persons.person_id from persons)
),

signals as {{ not_materialized() }} (
    select * from {{ ref('int_customer_signals') }}
    where person_id in (select persons.person_id from persons)
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

final as (
    select
        persons.person_id,
        sizes.sizes_by_category,
        sizes.fit_evidence,
        {% for dimension in dimensions %}
            affinities.{{ dimension }}_affinity,
        {% endfor %}
        top_options.top_options
    from persons
    left join sizes on persons.person_id = sizes.person_id
    left join affinities on persons.person_id = affinities.person_id
    left join top_options on persons.person_id = top_options.person_id
)

select * from final
