{#
  A model kept by person (config materialized=state_materialization(),
  incremental_strategy='append'): one row per person, which depends only on that person's rows
  of its inputs. Each run recomputes only the persons whose inputs changed (a "changed persons"
  table drives it) and keeps everybody else's row as the last good run wrote it. Beside it:
    <this>__inputs    per person, a hash of their rows in every input, as the last good run
                      applied them (written by the post-hook from <this>__inputs_next, only
                      after the run succeeded: a failed run leaves it, so the next one
                      compares against the last good one);
    <this>__applied   the fingerprint of the model's code, how many persons the last run
                      recomputed (rederived_persons; null: everybody) and how many had changed
                      (changed_persons; also when it recomputed everybody).
  The pre-hook writes <this>__changed: the persons whose hash differs (new, gone, or other
  rows in an input), and deletes their rows; the model selects only them
  (changed_person(column)). It recomputes everybody on the first run, a full refresh, another
  model code (fingerprint of the model's file; a change in a macro it calls needs
  `--full-refresh`, as for any incremental model) and when more than config rebuild_above_share (default 0.5) of the
  persons changed: then one build is about as cheap as deleting and inserting most rows.
  The erasure purge (upstream.erasure) deletes an erased person's rows and their <this>__inputs
  row, so the next run computes whoever remains of them again.
  Spark rebuilds the model (state_materialization: table): the hooks do nothing there.
#}

{# Per person of `persons` (a select of person_id): one hash of their rows in every relation of
   `inputs` (each keyed by person_id), as inputs_hash. Rows hash whole and add up per person, so
   the hash does not depend on row order. #}
{% macro person_inputs_hash(persons, inputs) -%}
    select
        persons.person_id,
        hash({% for input in inputs %}input_{{ loop.index }}.rows_hash{% if not loop.last %}, {% endif %}{% endfor %}) as inputs_hash
    from ({{ persons }}) as persons
    {% for input in inputs %}
        left join (
            select input_rows.person_id, sum(hash(input_rows))::hugeint as rows_hash
            from {{ input }} as input_rows
            group by input_rows.person_id
        ) as input_{{ loop.index }} on persons.person_id = input_{{ loop.index }}.person_id
    {% endfor %}
{%- endmacro %}

{# What the model's rows are computed by: a change recomputes everybody. #}
{% macro changed_persons_fingerprint() -%}
    '{{ local_md5(model.raw_code) }}'
{%- endmacro %}

{# True when the last good run's rows can be kept for the persons whose inputs did not change. #}
{% macro changed_persons_kept() -%}
    {% if not side_tables_exist(['__applied', '__inputs']) %}{{ return(false) }}{% endif %}
    {% set rows = run_query(
        "select count(*) = 1 and bool_and(fingerprint = " ~ changed_persons_fingerprint() ~ ")"
        ~ " from " ~ this.schema ~ "." ~ this.identifier ~ "__applied").rows %}
    {{ return(rows[0][0] is true) }}
{%- endmacro %}

{# Pre-hook: the inputs' hashes now (`inputs`: a select of person_id, inputs_hash), who changed
   (<this>__changed), and their rows out of the way. #}
{% macro changed_persons_prepare(inputs) -%}
    {{ return(adapter.dispatch('changed_persons_prepare', 'upstream')(inputs)) }}
{%- endmacro %}

{% macro spark__changed_persons_prepare(inputs) -%}
    select 1
{%- endmacro %}

{% macro default__changed_persons_prepare(inputs) -%}
    {% set prefix = this.schema ~ '.' ~ this.identifier %}
    create or replace table {{ prefix }}__inputs_next as {{ inputs }};
    {% if not changed_persons_kept() %}
        -- everybody: a null person
        create or replace table {{ prefix }}__changed as
        select
            null::string as person_id,
            true as is_everybody,
            (select count(*) from {{ prefix }}__inputs_next) as changed_persons
        {%- if is_incremental() %};
        delete from {{ this }}
        {%- endif %}
    {% else %}
        create or replace table {{ prefix }}__changed as
        with diff as (
            select coalesce(next.person_id, last.person_id) as person_id
            from {{ prefix }}__inputs_next as next
            full outer join {{ prefix }}__inputs as last on next.person_id = last.person_id
            where next.inputs_hash is distinct from last.inputs_hash
        ),

        decision as (
            select
                count(*) as changed_persons,
                count(*) > {{ config.get('rebuild_above_share', 0.5) }} * (
                    select count(*) from {{ prefix }}__inputs_next
                ) as is_everybody
            from diff
        )

        select diff.person_id, false as is_everybody, decision.changed_persons
        from diff, decision
        where not decision.is_everybody
        union all
        select null::string, true, decision.changed_persons
        from decision
        where decision.is_everybody;
        delete from {{ this }}
        where
            (select bool_or(changed.is_everybody) from {{ prefix }}__changed as changed)
            or person_id in (select changed.person_id from {{ prefix }}__changed as changed)
    {% endif %}
{%- endmacro %}

{# The model's rows to compute: the changed persons (the column holding the person:
   `column`); everybody when the pre-hook said so, or when nothing is kept. #}
{% macro changed_person(column) -%}
    {% if is_incremental() %}
        {% set changed = this.schema ~ '.' ~ this.identifier ~ '__changed' %}
        (
            {{ column }} in (select changed.person_id from {{ changed }} as changed)
            or (select bool_or(changed.is_everybody) from {{ changed }} as changed)
        )
    {% else %}
        true
    {% endif %}
{%- endmacro %}

{# Post-hook: what the next run compares against (Spark rebuilds: nothing to keep). #}
{% macro changed_persons_record() -%}
    {{ return(adapter.dispatch('changed_persons_record', 'upstream')()) }}
{%- endmacro %}

{% macro spark__changed_persons_record() -%}
    select 1
{%- endmacro %}

{% macro default__changed_persons_record() -%}
    {% set prefix = this.schema ~ '.' ~ this.identifier %}
    create or replace table {{ prefix }}__applied as
    select
        {{ changed_persons_fingerprint() }} as fingerprint,
        case when bool_or(is_everybody) then null else count(*) end as rederived_persons,
        coalesce(max(changed_persons), 0) as changed_persons,
        (select count(*) from {{ prefix }}__inputs_next) as persons,
        null::bigint as delta_lines
    from {{ prefix }}__changed;
    drop table if exists {{ prefix }}__inputs;
    alter table {{ prefix }}__inputs_next rename to {{ this.identifier }}__inputs;
    drop table {{ prefix }}__changed
{%- endmacro %}
