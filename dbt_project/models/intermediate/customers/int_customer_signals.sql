-- What a known person's signals before the as-of date add up to, per attribute value: the
-- state int_customer_needs reads its affinities and options from, kept up to date by running
-- sums instead of re-reading all history every day.
--   * attribute category / colour / material / fit: web product views, wishlists, cart adds and
--     configurator choices of a catalogue product, and kept and returned units (order lines),
--     each weighted by seeds/affinity_weights.csv x units x 2^(age_at_epoch / half-life), with
--     age_at_epoch = days from 2020-01-01 (`affinity_half_life_days`). A signal of age a at the
--     as-of date weighs w x 2^(-a/h) = 2^(-as_of/h) x w x 2^(t/h): the first factor is the same
--     for every signal of a person, so shares of this mass are the recency-weighted shares, and
--     the mass of a signal never changes as the as-of date moves.
--   * attribute option: times an option was chosen (configurator) or configured (made to order).
-- Incremental (strategy delete_by_key, macros/incremental_state.sql; key: person, attribute and
-- value): who is re-derived from all history and who is brought forward is
-- macros/incremental_state.sql; a person brought forward gets the masses of their new web
-- events and order lines added to what they had, and for a counted line whose returned units
-- alone changed (a return: state_line_deltas) its masses now minus its masses as counted: a
-- line of q > 0 units adds to the same attribute values whatever its returns (kept units
-- q - r > 0, or returned units r > 0), so this equals re-deriving, even for returns beyond q.
-- Any other change of a counted line re-derives its person. The fingerprint (weights,
-- half-life) re-derives everybody when it changes.
-- Both give the same table as a full refresh up to float rounding (the masses are sums in
-- another order); int_customer_needs rounds what it publishes (tests/unit/test_transform).
{% set as_of = var('as_of_date') %}
{{ config(
    materialized=state_materialization(),
    incremental_strategy='delete_by_key',
    unique_key=['person_id', 'attribute', 'value'],
    state_line_columns=['ordered_at', 'category', 'colour', 'material', 'fit', 'quantity',
                        'returned_quantity', 'is_known_customer', 'is_made_to_order',
                        'configured_options'],
    state_line_deltas=['returned_quantity'],
    state_line_delta_when='order_lines.quantity > 0',
    on_schema_change='fail',
    pre_hook="{{ state_prepare(customer_signals_fingerprint()) }}",
    post_hook="{{ state_record(customer_signals_fingerprint()) }}"
) }}
-- depends_on: {{ ref('int_identity__map') }}
{% if not state_is_delta(customer_signals_fingerprint()) %}
    {{ customer_signal_rows('true', 'true') }}
{% else %}
    with rederived as (
        {{ customer_signal_rows(
            state_rederived('events.person_id'), state_rederived('order_lines.person_id')
        ) }}
    ),

    added as (
        {{ customer_signal_rows(state_new_events(), state_new_lines()) }}
    ),

    -- what the new signals add, and for counted lines whose returned units changed their
    -- masses now minus as counted (the options they carry did not change and cancel; every
    -- value they add to is kept already)
    delta as (
        select
            person_id,
            attribute,
            value,
            sum(weight) as weight
        from (
            select * from added
            union all
            select * from (
                {{ customer_signal_rows('false', state_changed_lines()) }}
            ) as now_counted
            union all
            select
                person_id,
                attribute,
                value,
                -weight as weight
            from (
                {{ customer_signal_rows('false', state_changed_lines(), state_counted_lines()) }}
            ) as counted_before
        ) as every_change
        group by person_id, attribute, value
    ),

    summed as (
        select
            delta.person_id,
            delta.attribute,
            delta.value,
            coalesce(kept.weight, 0) + delta.weight as weight
        from delta
        left join {{ this }} as kept
            on
                delta.person_id = kept.person_id
                and delta.attribute = kept.attribute
                and delta.value = kept.value
    )

    select * from rederived
    union all
    select * from summed
{% endif %}
