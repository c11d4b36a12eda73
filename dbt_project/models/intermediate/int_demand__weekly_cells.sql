-- Demand signals (int_demand__signals, macros/demand_signals.sql) before the as-of date, summed
-- per ISO week (Monday), person and product attributes: the grain design_demand_weekly adds up
-- once per attribute. A table, so those four aggregates and the days covered read it instead
-- of re-deriving (and holding) every signal; weekdays is a bit mask of the days the week's
-- signals fall on (bit 0 = Monday).
-- Incremental (strategy delete_by_key, macros/incremental_state.sql; key: person, week and
-- attributes):
-- who is re-derived from all history and who is brought forward is macros/incremental_state.sql;
-- a person brought forward has the cells of their new web events and order lines added to
-- theirs (counts and units add up, weekdays combine), and only those cells rewritten (the key
-- is the whole cell: rewriting every cell of the weeks they touch rewrote 1.66 M of the
-- current week's 2.45 M cells for the 346 k cells a day added at SF 1). A
-- counted order line re-derives its person only when what the cells count of it changes
-- (state_line_columns: when, what, how many): returns are not counted here, so a return or a
-- re-sent identical line does not (at SF 10, 58 % of the persons a day re-derived). The same
-- table as a full refresh (tests/unit/test_transform).
{% set as_of = var('as_of_date') %}
{{ config(
    materialized=state_materialization(),
    incremental_strategy='delete_by_key',
    unique_key=['person_id', 'week_start', 'category', 'size', 'colour', 'material', 'fit'],
    state_line_columns=['ordered_at', 'category', 'size', 'colour', 'material', 'fit', 'quantity'],
    on_schema_change='fail',
    pre_hook="{{ state_prepare() }}",
    post_hook="{{ state_record() }}"
) }}
-- depends_on: {{ ref('int_identity__map') }}
{% set before_as_of %}
    events.occurred_at < date '{{ as_of }}'
{% endset %}
{% set lines_before_as_of %}
    order_lines.ordered_at < date '{{ as_of }}'
{% endset %}
{% set measures = ['units', 'product_views', 'cart_adds', 'wishlist_adds'] %}
{% set attributes = ['category', 'size', 'colour', 'material', 'fit'] %}
{% if not state_is_delta() %}
    {{ weekly_cells(demand_signal_rows(before_as_of, lines_before_as_of)) }}
{% else %}
    with rederived as (
        {{ weekly_cells(demand_signal_rows(
            before_as_of ~ ' and ' ~ state_rederived('events.person_id'),
            lines_before_as_of ~ ' and ' ~ state_rederived('order_lines.person_id')
        )) }}
    ),

    added as (
        {{ weekly_cells(demand_signal_rows(
            before_as_of ~ ' and ' ~ state_new_events(),
            lines_before_as_of ~ ' and ' ~ state_new_lines()
        )) }}
    ),

    -- a cell's counts and units add up, its weekdays combine (bit or); a cell is the person,
    -- week and attributes (a size may be null), and the person's other cells stay as they are
    summed as (
        select
            added.week_start,
            {% for attribute in attributes %}
                added.{{ attribute }},
            {% endfor %}
            added.person_id,
            {% for measure in measures %}
                coalesce(kept.{{ measure }}, 0) + added.{{ measure }} as {{ measure }},
            {% endfor %}
            coalesce(kept.weekdays, 0) | added.weekdays as weekdays
        from added
        left join {{ this }} as kept
            on
                kept.person_id = added.person_id
                and kept.week_start = added.week_start
                {% for attribute in attributes %}
                    and kept.{{ attribute }} is not distinct from added.{{ attribute }}
                {% endfor %}
    )

    select * from rederived
    union all
    select * from summed
{% endif %}
