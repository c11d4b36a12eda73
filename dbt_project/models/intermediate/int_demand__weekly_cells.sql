-- Demand signals (int_demand__signals) before the as-of date, summed per ISO week (Monday),
-- person and product attributes: the grain design_demand_weekly adds up once per attribute. A
-- table, so those four aggregates and the days covered read it instead of re-deriving (and
-- holding) every signal; weekdays is a bit mask of the days the week's signals fall on
-- (bit 0 = Monday).
-- Incremental (delete+insert by person and week): who is re-derived from all history and who
-- is brought forward is macros/incremental_state.sql; a person brought forward has the weeks
-- their new web events and order lines fall in recomputed. The same table as a full refresh
-- (tests/unit/test_transform).
{% set as_of = var('as_of_date') %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['person_id', 'week_start'],
    on_schema_change='fail',
    pre_hook="{{ state_prepare() }}",
    post_hook="{{ state_record() }}"
) }}
-- depends_on: {{ ref('int_identity__map') }}
{% set delta = state_is_delta() %}
{% set scope %}
    {%- if delta -%}
        ({{ state_rederived('signals.person_id') }} or exists (
            select 1 from touched
            where
                touched.person_id = signals.person_id
                and touched.week_start = date_trunc('week', signals.signal_at)::date
        ))
    {%- else -%}
        true
    {%- endif -%}
{% endset %}
with
{% if delta %}
    touched as (
        select distinct
            events.person_id,
            date_trunc('week', events.occurred_at)::date as week_start
        from {{ ref('int_web__events_attributed') }} as events
        where
            events.occurred_at < date '{{ as_of }}'
            and events.event_type in ('product_view', 'add_to_cart', 'wishlist')
            and {{ state_new_events() }}
        union
        select
            order_lines.person_id,
            date_trunc('week', order_lines.ordered_at)::date as week_start
        from {{ ref('int_order_lines__enriched') }} as order_lines
        where {{ state_new_lines() }}
    ),
{% endif %}

demand_signals as (
    select signals.*
    from {{ ref('int_demand__signals') }} as signals
    where
        signals.signal_at < date '{{ as_of }}'
        and {{ scope }}
),

final as (
    select
        date_trunc('week', signal_at)::date as week_start,
        category,
        size,
        colour,
        material,
        fit,
        person_id,
        coalesce(sum(quantity) filter (where signal = 'order'), 0) as units,
        count(*) filter (where signal = 'product_view') as product_views,
        count(*) filter (where signal = 'add_to_cart') as cart_adds,
        count(*) filter (where signal = 'wishlist') as wishlist_adds,
        bit_or(1 << (isodow(signal_at::date) - 1)) as weekdays
    from demand_signals
    group by all
)

select * from final
