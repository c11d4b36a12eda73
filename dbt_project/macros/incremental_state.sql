{#
  Incremental state by person: a model that keeps what its rows add up to per person (running
  sums: int_customer_signals, int_demand__weekly_cells) and brings it forward each run. Beside
  it, written by its post-hook only after it succeeded (a failed run leaves them, so the next
  run sees every change since the last good one):
    <this>__map       the identity map it applied (identifier, person_id, is_known_customer);
    <this>__applied   the watermarks and the as-of date it applied, a fingerprint of what
                      weighs its rows (a change re-derives everybody), how many persons it
                      re-derived (rederived_persons; null: everybody) and how many counted
                      order lines it applied as deltas (delta_lines);
    <this>__products  the catalogue attributes it applied;
    <this>__lines     the order lines it counted: id, person, and the columns of
                      int_order_lines__enriched the model counts (config state_line_columns;
                      default _changed_at, when the line, its order or a return last arrived).
  A run re-derives from all history (<this>__rederive, made by the pre-hook, whose rows it also
  deletes) every person who
    * had an identifier whose person or known-ness the identity map changed (the old and the
      new person, and the identifier itself: a browser that was its own 'anon:' person);
    * has an order line it counted whose person or counted columns changed since (by default
      _changed_at: a return, a re-sent line or order; a model that counts no returned units
      names what it counts, so a return or an identical re-delivery re-derives nobody) or
      that left (old and new person), unless only the model's config state_line_deltas
      changed and its state_line_delta_when holds (SQL over the aliases `counted`, the line as
      counted, and `order_lines`, as it is now): then the line stays in <this>__changed_lines
      and the model applies its new contribution minus its old (state_changed_lines(), read
      from int_order_lines__enriched and from state_counted_lines());
    * saw a product whose catalogue attributes changed;
  and the model brings everybody else forward from the web events loaded since (or that
  crossed the last as-of date) and the order lines counted for the first time (new, or that
  crossed it: <this>__new_lines). It re-derives everybody on the first run, a full refresh, an
  as-of date earlier than the last run's, or a changed fingerprint (which includes the counted
  line columns, so a change of them re-derives everybody once).
  The erasure purge (upstream.erasure) deletes an erased person's state rows and every
  identifier of theirs from the <model>__map, so the next run re-derives whoever remains.
#}

{# Post-hook of int_web__events_attributed: the identity map (rows `where`) it applied, as
   <this>__map (Spark rebuilds the model: nothing to keep). #}
{% macro state_record_map(where) -%}
    {{ return(adapter.dispatch('state_record_map', 'upstream')(where)) }}
{%- endmacro %}

{% macro default__state_record_map(where) -%}
    create or replace table {{ this.schema }}.{{ this.identifier }}__map as
    select identifier, person_id, is_known_customer
    from {{ ref('int_identity__map') }}
    where {{ where }}
{%- endmacro %}

{% macro spark__state_record_map(where) -%}
    select 1
{%- endmacro %}

{# The rows of `columns` that are in one of two relations and not in the other: what changed
   between `current` and the copy a model applied (`applied`). #}
{% macro rows_that_differ(current, applied, columns) -%}
    (
        select {{ columns }} from {{ current }}
        except
        select {{ columns }} from {{ applied }}
    )
    union all
    (
        select {{ columns }} from {{ applied }}
        except
        select {{ columns }} from {{ current }}
    )
{%- endmacro %}

{# The columns of int_order_lines__enriched besides the person whose change re-derives a
   counted line's person: the model's config state_line_columns. #}
{% macro state_line_columns() -%}
    {{ return(config.get('state_line_columns', ['_changed_at'])) }}
{%- endmacro %}

{# The counted columns (of state_line_columns) whose change alone the model applies as a delta
   when state_line_delta_when holds: config state_line_deltas, default none. #}
{% macro state_line_deltas() -%}
    {{ return(config.get('state_line_deltas', [])) }}
{%- endmacro %}

{# What the state's __applied records and compares: the model's fingerprint (SQL, may be null)
   with the counted line columns. #}
{% macro state_fingerprint(fingerprint) -%}
    (coalesce(({{ fingerprint }})::string, '') || '|lines {{ state_line_columns() | join(",") }}')
{%- endmacro %}

{# The order lines as the last good run counted them (alias them `order_lines`): the columns
   of int_order_lines__enriched in state_line_columns, with order_line_id and person_id. #}
{% macro state_counted_lines() -%}
    {{ this.schema }}.{{ this.identifier }}__lines
{%- endmacro %}

{# The counted order lines (alias `order_lines`, in int_order_lines__enriched or in
   state_counted_lines()) the model applies as new minus old contribution, of persons not
   re-derived. #}
{% macro state_changed_lines() -%}
    {% set prefix = this.schema ~ '.' ~ this.identifier %}
    not {{ state_rederived('order_lines.person_id') }}
    and order_lines.order_line_id in (
        select changed.order_line_id from {{ prefix }}__changed_lines as changed
        where changed.is_delta
    )
{%- endmacro %}

{# Post-hook: what the next run brings forward from (Spark rebuilds: nothing to keep). #}
{% macro state_record(fingerprint='null') -%}
    {{ return(adapter.dispatch('state_record', 'upstream')(fingerprint)) }}
{%- endmacro %}

{% macro spark__state_record(fingerprint) -%}
    select 1
{%- endmacro %}

{% macro default__state_record(fingerprint) -%}
    {% set prefix = this.schema ~ '.' ~ this.identifier %}
    create or replace table {{ prefix }}__map as
    select identifier, person_id, is_known_customer from {{ ref('int_identity__map') }};
    create or replace table {{ prefix }}__applied as
    select
        coalesce(
            (select max(_loaded_at) from {{ ref('int_web__events_attributed') }}),
            {{ earliest_timestamp() }}
        ) as events_loaded_at,
        date '{{ var('as_of_date') }}' as as_of,
        {{ state_fingerprint(fingerprint) }} as fingerprint,
        case
            when exists (select 1 from {{ prefix }}__rederive where person_id is null) then null
            else (select count(*) from {{ prefix }}__rederive)
        end as rederived_persons,
        (
            select count(*) from {{ prefix }}__changed_lines as changed
            where changed.is_delta and not {{ state_rederived('changed.person_id') }}
        ) as delta_lines;
    create or replace table {{ prefix }}__products as
    select sku, category, colour, material, fit from {{ ref('stg_catalogue__products') }};
    create or replace table {{ prefix }}__lines as
    select order_line_id, person_id, {{ state_line_columns() | join(', ') }}
    from {{ ref('int_order_lines__enriched') }}
    where ordered_at < date '{{ var('as_of_date') }}';
    drop table {{ prefix }}__rederive;
    drop table if exists {{ prefix }}__new_lines;
    drop table {{ prefix }}__changed_lines
{%- endmacro %}

{# True when the model runs incrementally and every table beside it (<this><suffix>) exists:
   what a state (here) or a model kept by person (changed_persons.sql) brings forward from. #}
{% macro side_tables_exist(suffixes) -%}
    {% if not execute or not is_incremental() %}{{ return(false) }}{% endif %}
    {% for suffix in suffixes %}
        {% if adapter.get_relation(database=this.database, schema=this.schema,
                                   identifier=this.identifier ~ suffix) is none %}
            {{ return(false) }}
        {% endif %}
    {% endfor %}
    {{ return(true) }}
{%- endmacro %}

{# True when the last good run's state can be brought forward; false: derive everybody. #}
{% macro state_is_delta(fingerprint='null') -%}
    {% if not side_tables_exist(['__applied', '__map', '__products', '__lines']) %}
        {{ return(false) }}
    {% endif %}
    {% set rows = run_query(
        "select count(*) = 1 and bool_and(as_of <= date '" ~ var('as_of_date') ~ "'"
        ~ " and fingerprint is not distinct from " ~ state_fingerprint(fingerprint) ~ ")"
        ~ " from " ~ this.schema ~ "." ~ this.identifier ~ "__applied").rows %}
    {{ return(rows[0][0] is true) }}
{%- endmacro %}

{# Pre-hook: who is re-derived (<this>__rederive), and their rows out of the way. #}
{% macro state_prepare(fingerprint='null') -%}
    {{ return(adapter.dispatch('state_prepare', 'upstream')(fingerprint)) }}
{%- endmacro %}

{% macro spark__state_prepare(fingerprint) -%}
    select 1
{%- endmacro %}

{% macro default__state_prepare(fingerprint) -%}
    {% set prefix = this.schema ~ '.' ~ this.identifier %}
    {% if not state_is_delta(fingerprint) %}
        -- everybody: a null person (rederived_persons is null)
        create or replace table {{ prefix }}__rederive as
        select null::string as person_id;
        create or replace table {{ prefix }}__changed_lines as
        select
            null::string as order_line_id,
            null::string as counted_person_id,
            null::string as person_id,
            false as is_delta
        where false
        {%- if is_incremental() %};
        delete from {{ this }}
        {%- endif %}
    {% else %}
        {% set deltas = state_line_deltas() %}
        -- order lines counted before whose person or counted columns changed, or that left;
        -- is_delta: only delta columns changed, as state_line_delta_when allows
        create or replace table {{ prefix }}__changed_lines as
        select
            counted.order_line_id,
            counted.person_id as counted_person_id,
            order_lines.person_id,
            {% if deltas %}
                order_lines.order_line_id is not null
                and order_lines.person_id = counted.person_id
                {% for column in state_line_columns() if column not in deltas %}
                    and order_lines.{{ column }} is not distinct from counted.{{ column }}
                {% endfor %}
                and ({{ config.get('state_line_delta_when', 'false') }})
            {% else %}
                false
            {% endif %} as is_delta
        from {{ prefix }}__lines as counted
        left join {{ ref('int_order_lines__enriched') }} as order_lines
            on
                counted.order_line_id = order_lines.order_line_id
                and order_lines.ordered_at < date '{{ var('as_of_date') }}'
        where
            order_lines.order_line_id is null
            or order_lines.person_id != counted.person_id
            {% for column in state_line_columns() %}
                or order_lines.{{ column }} is distinct from counted.{{ column }}
            {% endfor %};
        create or replace table {{ prefix }}__rederive as
        select unnest([changed.person_id, changed.identifier]) as person_id
        from (
            {{ rows_that_differ(ref('int_identity__map'), prefix ~ '__map',
                                'identifier, person_id, is_known_customer') }}
        ) as changed
        union
        -- an order line counted before that changed or left, and is not applied as a delta
        select moved.person_id
        from (
            select unnest([changed.counted_person_id, changed.person_id]) as person_id
            from {{ prefix }}__changed_lines as changed
            where not changed.is_delta
        ) as moved
        where moved.person_id is not null
        union
        select events.person_id
        from {{ ref('int_web__events_attributed') }} as events
        where events.sku in (
            select changed.sku from (
                {{ rows_that_differ(ref('stg_catalogue__products'), prefix ~ '__products',
                                    'sku, category, colour, material, fit') }}
            ) as changed
        );
        -- order lines counted for the first time (new, or crossed the last as-of date)
        create or replace table {{ prefix }}__new_lines as
        select order_lines.order_line_id
        from {{ ref('int_order_lines__enriched') }} as order_lines
        where
            order_lines.ordered_at < date '{{ var('as_of_date') }}'
            and order_lines.order_line_id not in (
                select counted.order_line_id from {{ prefix }}__lines as counted
            );
        delete from {{ this }}
        where person_id in (select rederive.person_id from {{ prefix }}__rederive as rederive)
    {% endif %}
{%- endmacro %}

{# The web events (alias `events`) the model brings forward: loaded since, or crossed the
   last as-of date, of persons not re-derived. The two watermarks are written in as literals,
   not read by subqueries: DuckDB then skips the row groups loaded and occurring before them
   (zone maps) instead of reading all history (SF 1 day: 8 of 48 row groups). #}
{% macro state_new_events() -%}
    {% set applied = run_query(
        "select events_loaded_at::string, as_of::string from "
        ~ this.schema ~ "." ~ this.identifier ~ "__applied").rows[0] %}
    not {{ state_rederived('events.person_id') }}
    and (
        events._loaded_at > timestamptz '{{ applied[0] }}'
        or events.occurred_at >= date '{{ applied[1] }}'
    )
{%- endmacro %}

{# The order lines (alias `order_lines`) the model brings forward: counted for the first time,
   of persons not re-derived. #}
{% macro state_new_lines() -%}
    {% set prefix = this.schema ~ '.' ~ this.identifier %}
    not {{ state_rederived('order_lines.person_id') }}
    and order_lines.order_line_id in (select new.order_line_id from {{ prefix }}__new_lines as new)
{%- endmacro %}

{# Rows of re-derived persons (the column holding the person: `column`). #}
{% macro state_rederived(column) -%}
    {{ column }} in (
        select rederive.person_id from {{ this.schema }}.{{ this.identifier }}__rederive as rederive
    )
{%- endmacro %}

{#
  Incremental strategy `delete_by_key` (config incremental_strategy='delete_by_key',
  unique_key=[...]): deletes the target rows whose key the batch holds, then inserts the batch.
  Unlike delete+insert it matches each target row against the batch's distinct keys once, so a
  key with many rows in the batch does not multiply the delete. Keys match null-safely (a
  cell's size may be null).
#}
{% macro get_incremental_delete_by_key_sql(arg_dict) -%}
    {% set target = arg_dict['target_relation'] %}
    {% set batch = arg_dict['temp_relation'] %}
    {% set keys = arg_dict['unique_key'] if arg_dict['unique_key'] is not string
        else [arg_dict['unique_key']] %}
    {% set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) %}
    delete from {{ target }} as target
    where exists (
        select 1
        from (select distinct {{ keys | join(', ') }} from {{ batch }}) as batch_keys
        where
            {% for key in keys %}
                batch_keys.{{ key }} is not distinct from target.{{ key }}
                {%- if not loop.last %} and {% endif %}
            {% endfor %}
    );
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ batch }}
{%- endmacro %}
