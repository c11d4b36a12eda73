{#
  The pieces of int_customer_signals (see the model for the rules).
#}

{# What weighs every row: a change re-derives everybody. #}
{% macro customer_signals_fingerprint() -%}
    select md5(
        {{ ordered_string_agg("signal || '=' || weight::string", "','", 'signal') }}
        || '|half-life {{ var("affinity_half_life_days") }}|epoch 2020-01-01'
    )
    from {{ ref('affinity_weights') }}
{%- endmacro %}

{#
  One row per signal and attribute value of known persons before the as-of date, of the web
  events (alias `events`) and order lines (alias `order_lines`, read from `lines`: default
  int_order_lines__enriched) the two filters keep: person_id, attribute, value, weight (see
  int_customer_signals).
#}
{% macro customer_signal_rows(events_filter, lines_filter, lines=none) -%}
    {% set lines = lines if lines is not none else ref('int_order_lines__enriched') %}
    {% set as_of = var('as_of_date') %}
    {% set half_life = var('affinity_half_life_days') | float %}
    select
        signals.person_id,
        dims.attribute,
        {{ signal_dimension_value() }} as value,
        sum(
            weights.weight * signals.units * pow(
                2.0,
                {{ seconds_since('2020-01-01 00:00:00', 'signals.occurred_at') }}
                / 86400.0 / {{ half_life }}
            )
        ) as weight
    from (
        select
            events.person_id,
            events.event_type as signal,
            events.occurred_at,
            products.category,
            products.colour,
            products.material,
            products.fit,
            1 as units
        from {{ ref('int_web__events_attributed') }} as events
        inner join {{ ref('stg_catalogue__products') }} as products on events.sku = products.sku
        where
            events.is_known_customer
            and events.occurred_at < date '{{ as_of }}'
            and events.event_type in (select signal from {{ ref('affinity_weights') }})
            and ({{ events_filter }})
        union all
        select
            split_lines.person_id,
            split_lines.signal,
            split_lines.occurred_at,
            split_lines.category,
            split_lines.colour,
            split_lines.material,
            split_lines.fit,
            split_lines.units
        from (
            -- each line twice: its kept and its returned units (plain SQL both engines run)
            select
                order_lines.person_id,
                split.signal,
                order_lines.ordered_at as occurred_at,
                order_lines.category,
                order_lines.colour,
                order_lines.material,
                order_lines.fit,
                case split.signal
                    when 'purchase_kept' then order_lines.quantity - order_lines.returned_quantity
                    else order_lines.returned_quantity
                end as units
            from {{ lines }} as order_lines
            cross join (
                select 'purchase_kept' as signal
                union all
                select 'purchase_returned' as signal
            ) as split
            where
                order_lines.is_known_customer
                and order_lines.ordered_at < date '{{ as_of }}'
                and ({{ lines_filter }})
        ) as split_lines
        where split_lines.units > 0
    ) as signals
    inner join {{ ref('affinity_weights') }} as weights on signals.signal = weights.signal
    -- each signal once per attribute it carries a value of
    cross join (
        select 'category' as attribute
        union all
        select 'colour' as attribute
        union all
        select 'material' as attribute
        union all
        select 'fit' as attribute
    ) as dims
    where {{ signal_dimension_value() }} is not null
    group by signals.person_id, dims.attribute, {{ signal_dimension_value() }}

    union all

    -- options chosen in the configurator and configured on made-to-order lines
    select
        chosen.person_id,
        'option' as attribute,
        chosen.value,
        count(*)::double as weight
    from (
        select
            events.person_id,
            events.option_name || '=' || events.option_value as value
        from {{ ref('int_web__events_attributed') }} as events
        where
            events.is_known_customer
            and events.occurred_at < date '{{ as_of }}'
            and events.event_type = 'configurator_change'
            and events.option_name is not null
            and ({{ events_filter }})
        union all
        select
            order_lines.person_id,
            {{ unnest_list(split_text('order_lines.configured_options', '|')) }} as value
        from {{ lines }} as order_lines
        where
            order_lines.is_known_customer
            and order_lines.ordered_at < date '{{ as_of }}'
            and order_lines.is_made_to_order
            and order_lines.configured_options is not null
            and ({{ lines_filter }})
    ) as chosen
    group by chosen.person_id, chosen.value
{%- endmacro %}

{# The value of the attribute `dims.attribute` of a signal (alias `signals`). #}
{% macro signal_dimension_value() -%}
    case dims.attribute
        when 'category' then signals.category
        when 'colour' then signals.colour
        when 'material' then signals.material
        else signals.fit
    end
{%- endmacro %}

{# What int_customer_preferences computes a person from (macros/changed_persons.sql): their
   consent, their fit rows and their signal rows. #}
{% macro customer_preferences_inputs() -%}
    {{ person_inputs_hash(
        "select person_id from " ~ ref('int_customers__golden') ~ " where has_profiling_consent",
        [ref('int_customer_fit__sizes'), ref('int_customer_signals')]
    ) }}
{%- endmacro %}
