{#
  SQL that differs between the engines (UPSTREAM_ENGINE: duckdb | spark), each behind
  adapter.dispatch: `default__` is DuckDB's (the reference), `spark__` is Spark SQL's. Models
  call these and never test target.type themselves. docs/spark.md lists them.
#}

{# on-run-start: the raw layer. DuckDB reads raw.* in the warehouse file. Spark reads the
   Parquet layer ingest keeps (upstream.raw_parquet): it snapshots the catalogue once per run
   (raw._catalogue, the current loads), and each raw.<table> is a view of the rows of those loads
   in <data>/raw/<table>/ (an external table over the folder). A file the catalogue does not
   list (being written by a concurrent ingest, or superseded and not yet removed) is never read,
   and every model of the run sees the same loads. The ledgers are whole files. #}
{% macro register_raw_sources() -%}
    {{ return(adapter.dispatch('register_raw_sources', 'upstream')()) }}
{%- endmacro %}

{% macro default__register_raw_sources() -%}
    select 1
{%- endmacro %}

{% macro spark__register_raw_sources() -%}
    {% if execute %}
        {% set root = env_var('UPSTREAM_RAW_PARQUET_DIR') %}
        {% set tables = [] %}
        {% for node in graph.sources.values() if node.schema == 'raw' %}
            {% do tables.append(node.identifier) %}
        {% endfor %}
        {% do run_query('create database if not exists raw') %}
        {% do run_query('drop table if exists raw._catalogue') %}
        {% do run_query("create table raw._catalogue using parquet as select `table`, load_id "
            ~ "from json.`" ~ env_var('UPSTREAM_RAW_CATALOGUE') ~ "`") %}
        {% for table in tables | unique | sort %}
            {% set ledger = table.startswith('_') %}
            {% set files = 'raw.' ~ table if ledger else 'raw.' ~ table ~ '__files' %}
            {% if not ledger %}{% do run_query('drop view if exists raw.' ~ table) %}{% endif %}
            {% do run_query('drop table if exists ' ~ files) %}
            {% do run_query("create table " ~ files ~ " using parquet options ("
                ~ "recursiveFileLookup 'true', mergeSchema 'true') location '"
                ~ root ~ "/" ~ table ~ "'") %}
            {% if not ledger %}
                {% do run_query("create view raw." ~ table ~ " as select * from " ~ files
                    ~ " where _load_id in (select load_id from raw._catalogue where `table` = '"
                    ~ table ~ "')") %}
            {% endif %}
        {% endfor %}
    {% endif %}
    select 1
{%- endmacro %}

{# on-run-end: what the publication reads. DuckDB: the warehouse itself. Spark: each model
   named in UPSTREAM_SPARK_EXPORT (the published feeds and what the candidate and the gate read;
   upstream.spark.EXPORTED), written as Parquet to UPSTREAM_SPARK_EXPORT_DIR/<model>/, which
   the candidate reads (upstream.publish.candidate). Only after a build that ran them all. #}
{% macro export_for_publication(results) -%}
    {{ return(adapter.dispatch('export_for_publication', 'upstream')(results)) }}
{%- endmacro %}

{% macro default__export_for_publication(results) -%}
    select 1
{%- endmacro %}

{% macro spark__export_for_publication(results) -%}
    {% if execute and flags.WHICH in ('build', 'run') %}
        {% set wanted = env_var('UPSTREAM_SPARK_EXPORT', '').split(',') | reject('equalto', '') | list %}
        {% set failed = results | rejectattr('status', 'in', ['success', 'pass', 'skipped', 'warn', 'no-op']) | list %}
        {% set root = env_var('UPSTREAM_SPARK_EXPORT_DIR') %}
        {% if wanted and results | length > 0 and failed | length == 0 %}
            {% for node in graph.nodes.values() if node.resource_type == 'model' and node.name in wanted %}
                {% do run_query("insert overwrite directory '" ~ root ~ "/" ~ node.name
                    ~ "' using parquet select * from " ~ node.schema ~ "." ~ (node.alias or node.name)) %}
            {% endfor %}
        {% endif %}
    {% endif %}
    select 1
{%- endmacro %}

{# The text value of `key` in a JSON object column (null when absent). #}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text', 'upstream')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    ({{ column }}::json ->> '{{ key }}')
{%- endmacro %}

{% macro spark__json_text(column, key) -%}
    get_json_object({{ column }}, '$.{{ key }}')
{%- endmacro %}

{# Latin letters without their accents (é -> e, Ł -> L): DuckDB's strip_accents; Spark has no
   such function, so it translates the 488 precomposed Latin letters (U+00C0-U+024F,
   U+1E00-U+1EFF) that decompose to an ASCII letter plus marks, the same mapping
   strip_accents gives them (checked by tests/unit/test_cross_engine.py). #}
{% macro strip_accents(text) -%}
    {{ return(adapter.dispatch('strip_accents', 'upstream')(text)) }}
{%- endmacro %}

{% macro default__strip_accents(text) -%}
    strip_accents({{ text }})
{%- endmacro %}

{% macro spark__strip_accents(text) -%}
    translate({{ text }}, 'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹ', 'AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuUuAaAaGgKkOoOojGgNnAaAaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAaEeOoOoOoOoYyAaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLlLlLlLlMmMmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVvWwWwWwWwWwXxXxYyZzZzZzhtwyAaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEeEeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYy')
{%- endmacro %}

{# Every match of `pattern` replaced (DuckDB needs the 'g' flag; Spark always replaces all). #}
{% macro regexp_replace_all(text, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'upstream')(text, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{# Spark's string literals take backslash escapes: a pattern's backslashes are doubled. #}
{% macro spark__regexp_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, {{ pattern | replace('\\', '\\\\') }}, {{ replacement }})
{%- endmacro %}

{# Whether `pattern` matches anywhere in `text` (null for null). #}
{% macro regexp_contains(text, pattern) -%}
    {{ return(adapter.dispatch('regexp_contains', 'upstream')(text, pattern)) }}
{%- endmacro %}

{% macro default__regexp_contains(text, pattern) -%}
    regexp_matches({{ text }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regexp_contains(text, pattern) -%}
    regexp_like({{ text }}, {{ pattern | replace('\\', '\\\\') }})
{%- endmacro %}

{# A text split at every occurrence of the literal `separator` (a list of texts). #}
{% macro split_text(text, separator) -%}
    {{ return(adapter.dispatch('split_text', 'upstream')(text, separator)) }}
{%- endmacro %}

{% macro default__split_text(text, separator) -%}
    string_split({{ text }}, '{{ separator }}')
{%- endmacro %}

{% macro spark__split_text(text, separator) -%}
    split({{ text }}, '\\Q{{ separator }}\\E')
{%- endmacro %}

{# FROM-clause item: one row per element of `list_expression`, as `alias(column)`. #}
{% macro unnested(list_expression, alias, column) -%}
    {{ return(adapter.dispatch('unnested', 'upstream')(list_expression, alias, column)) }}
{%- endmacro %}

{% macro default__unnested(list_expression, alias, column) -%}
    unnest({{ list_expression }}) as {{ alias }} ({{ column }})
{%- endmacro %}

{% macro spark__unnested(list_expression, alias, column) -%}
    lateral explode({{ list_expression }}) as {{ alias }} ({{ column }})
{%- endmacro %}

{# Aggregate: the distinct non-null values (of the rows `where` keeps) as a sorted list; null
   when there are none. #}
{% macro sorted_distinct_list(value, where=none) -%}
    {{ return(adapter.dispatch('sorted_distinct_list', 'upstream')(value, where)) }}
{%- endmacro %}

{% macro default__sorted_distinct_list(value, where) -%}
    list(distinct {{ value }} order by {{ value }})
        filter (where {{ value }} is not null{% if where %} and ({{ where }}){% endif %})
{%- endmacro %}

{% macro spark__sorted_distinct_list(value, where) -%}
    {%- if where %}case when count({{ value }}) filter (where {{ where }}) = 0 then null else
    array_sort(collect_set({{ value }}) filter (where {{ where }})) end
    {%- else %}array_sort(collect_set({{ value }})){% endif %}
{%- endmacro %}

{# An empty list of texts. #}
{% macro empty_text_list() -%}
    {{ return(adapter.dispatch('empty_text_list', 'upstream')()) }}
{%- endmacro %}

{% macro default__empty_text_list() -%}
    []::string[]
{%- endmacro %}

{% macro spark__empty_text_list() -%}
    cast(array() as array<string>)
{%- endmacro %}

{# A UTC instant as a timestamp without time zone (the snapshot's and GX's type). #}
{% macro utc_timestamp(instant) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'upstream')(instant)) }}
{%- endmacro %}

{% macro default__utc_timestamp(instant) -%}
    timezone('UTC', {{ instant }})
{%- endmacro %}

{% macro spark__utc_timestamp(instant) -%}
    cast({{ instant }} as timestamp_ntz)
{%- endmacro %}

{# Aggregate: `value` of the row with the largest `ordering` (a value or a struct). #}
{% macro arg_max(value, ordering) -%}
    {{ return(adapter.dispatch('arg_max', 'upstream')(value, ordering)) }}
{%- endmacro %}

{% macro default__arg_max(value, ordering) -%}
    arg_max({{ value }}, {{ ordering }})
{%- endmacro %}

{% macro spark__arg_max(value, ordering) -%}
    max_by({{ value }}, {{ ordering }})
{%- endmacro %}

{# A struct of named fields, compared field by field in order: fields = [(name, expr), ...]. #}
{% macro struct_of(fields) -%}
    {{ return(adapter.dispatch('struct_of', 'upstream')(fields)) }}
{%- endmacro %}

{% macro default__struct_of(fields) -%}
    struct_pack({% for name, expr in fields %}{{ name }} := {{ expr }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}

{% macro spark__struct_of(fields) -%}
    named_struct({% for name, expr in fields %}'{{ name }}', {{ expr }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}

{# The value for `key` of the MAP built from `keys` and `values` (two aggregates, e.g. in an
   uncorrelated scalar subquery); null when absent. #}
{% macro map_lookup(map_expression, key) -%}
    {{ return(adapter.dispatch('map_lookup', 'upstream')(map_expression, key)) }}
{%- endmacro %}

{% macro default__map_lookup(map_expression, key) -%}
    map_extract_value({{ map_expression }}, {{ key }})
{%- endmacro %}

{% macro spark__map_lookup(map_expression, key) -%}
    element_at({{ map_expression }}, {{ key }})
{%- endmacro %}

{# Aggregate: a MAP from the keys to the values of the group. #}
{% macro map_of_lists(keys, values) -%}
    {{ return(adapter.dispatch('map_of_lists', 'upstream')(keys, values)) }}
{%- endmacro %}

{% macro default__map_of_lists(keys, values) -%}
    map(list({{ keys }}), list({{ values }}))
{%- endmacro %}

{% macro spark__map_of_lists(keys, values) -%}
    map_from_entries(collect_list(struct({{ keys }}, {{ values }})))
{%- endmacro %}

{# CTE(s) ending in `reach (node, reached)`: every node of `nodes` (column node) with every node
   it reaches over the symmetric `edges` (a, b), itself included, i.e. its connected component.
   DuckDB: a recursive CTE whose UNION stops at the closure. Spark allows only UNION ALL in a
   recursive CTE (it would never stop on a cycle), so it labels every node of an edge with the
   smallest node of its component by `rounds` rounds of min-label propagation and pairs nodes
   that share a label; a node of no edge is its own component. Spark plans a CTE once per
   reference, so each round reads only the previous round (once) and `edges` (once, with a
   self-loop per node). The node's own label rides along (`was`, through its self-loop) for
   the check that a further round changes nothing, which fails the build (raise_error) for a
   component wider than `rounds` steps instead of splitting it silently; identity components
   here are a few steps wide (int_identity__map). Rounds that joined every node anew planned
   `nodes` 70 times: int_identity__map took 72 s in the twelve-customer fixture's build. #}
{% macro transitive_reach(nodes, edges, rounds=16) -%}
    {{ return(adapter.dispatch('transitive_reach', 'upstream')(nodes, edges, rounds)) }}
{%- endmacro %}

{% macro default__transitive_reach(nodes, edges, rounds) -%}
reach (node, reached) as (
    select
        node,
        node as reached
    from {{ nodes }}
    union
    select
        reach.node,
        {{ edges }}.b
    from reach
    inner join {{ edges }} on reach.reached = {{ edges }}.a
)
{%- endmacro %}

{% macro spark__transitive_reach(nodes, edges, rounds) -%}
reach_step as (
    select
        a,
        explode(array(b, a)) as b
    from {{ edges }}
),
reach_label_1 as (
    select
        b as node,
        min(a) as label,
        b as was
    from reach_step
    group by b
),
{% for i in range(2, rounds + 2) %}
reach_label_{{ i }} as (
    select
        reach_step.b as node,
        min(previous.label) as label,
        min(case when reach_step.a = reach_step.b then previous.label end) as was
    from reach_label_{{ i - 1 }} as previous
    inner join reach_step on previous.node = reach_step.a
    group by reach_step.b
),
{% endfor %}
reach_label as (
    select
        node,
        case
            when label = was then label
            else raise_error('identity component wider than {{ rounds }} steps: raise rounds of transitive_reach')
        end as label
    from reach_label_{{ rounds + 1 }}
),
reach (node, reached) as (
    select
        one.node,
        other.node as reached
    from reach_label as one
    inner join reach_label as other on one.label = other.label
    union all
    select
        {{ nodes }}.node,
        {{ nodes }}.node as reached
    from {{ nodes }}
    left join (select distinct a from {{ edges }}) as linked on {{ nodes }}.node = linked.a
    where linked.a is null
)
{%- endmacro %}

{# The earliest instant, for coalesce(max(...), ...) over an empty table. #}
{% macro earliest_timestamp() -%}
    {{ return(adapter.dispatch('earliest_timestamp', 'upstream')()) }}
{%- endmacro %}

{% macro default__earliest_timestamp() -%}
    '-infinity'::timestamptz
{%- endmacro %}

{% macro spark__earliest_timestamp() -%}
    timestamp '0001-01-01 00:00:00'
{%- endmacro %}

{# Whole seconds from the UTC instant `start` (a 'YYYY-MM-DD HH:MM:SS' text) to `instant`. #}
{% macro seconds_since(start, instant) -%}
    {{ return(adapter.dispatch('seconds_since', 'upstream')(start, instant)) }}
{%- endmacro %}

{% macro default__seconds_since(start, instant) -%}
    date_diff('second', timestamptz '{{ start }}+00', {{ instant }})
{%- endmacro %}

{# a double, as DuckDB's bigint / decimal gives: Spark would divide it as a decimal of 6 places #}
{% macro spark__seconds_since(start, instant) -%}
    cast(unix_seconds({{ instant }}) - unix_seconds(timestamp '{{ start }}') as double)
{%- endmacro %}

{# Days from date `start` to date `end` (end - start). #}
{% macro days_between(start, end) -%}
    {{ return(adapter.dispatch('days_between', 'upstream')(start, end)) }}
{%- endmacro %}

{% macro default__days_between(start, end) -%}
    date_diff('day', {{ start }}, {{ end }})
{%- endmacro %}

{% macro spark__days_between(start, end) -%}
    datediff({{ end }}, {{ start }})
{%- endmacro %}

{# Weeks from the Monday `start` to the Monday `end` (both date_trunc('week', ...)). #}
{% macro weeks_between(start, end) -%}
    {{ return(adapter.dispatch('weeks_between', 'upstream')(start, end)) }}
{%- endmacro %}

{% macro default__weeks_between(start, end) -%}
    date_diff('week', {{ start }}, {{ end }})
{%- endmacro %}

{% macro spark__weeks_between(start, end) -%}
    cast(datediff({{ end }}, {{ start }}) div 7 as bigint)
{%- endmacro %}

{# ISO day of the week of a date: Monday 1 ... Sunday 7. #}
{% macro iso_weekday(day) -%}
    {{ return(adapter.dispatch('iso_weekday', 'upstream')(day)) }}
{%- endmacro %}

{% macro default__iso_weekday(day) -%}
    isodow({{ day }})
{%- endmacro %}

{% macro spark__iso_weekday(day) -%}
    ((dayofweek({{ day }}) + 5) % 7 + 1)
{%- endmacro %}

{# Aggregate: `value` texts joined by `separator` in the order of `order_by`. #}
{% macro ordered_string_agg(value, separator, order_by) -%}
    {{ return(adapter.dispatch('ordered_string_agg', 'upstream')(value, separator, order_by)) }}
{%- endmacro %}

{% macro default__ordered_string_agg(value, separator, order_by) -%}
    string_agg({{ value }}, {{ separator }} order by {{ order_by }})
{%- endmacro %}

{% macro spark__ordered_string_agg(value, separator, order_by) -%}
    string_agg({{ value }}, {{ separator }}) within group (order by {{ order_by }})
{%- endmacro %}

{# Aggregate: the q-quantile of `value`, interpolated linearly between the two nearest rows. #}
{% macro quantile_cont(value, q) -%}
    {{ return(adapter.dispatch('quantile_cont', 'upstream')(value, q)) }}
{%- endmacro %}

{% macro default__quantile_cont(value, q) -%}
    quantile_cont({{ value }}, {{ q }})
{%- endmacro %}

{% macro spark__quantile_cont(value, q) -%}
    percentile({{ value }}, {{ q }})
{%- endmacro %}

{# How the person-state models are kept (macros/incremental_state.sql): DuckDB keeps running
   sums incrementally (delete_by_key / delete+insert need DELETE). Spark's Parquet/Hive tables
   have no DELETE or MERGE (those need Delta or Iceberg, whose jars come from Maven only), so
   there they are rebuilt from all history each run: a full refresh, which the incremental
   path equals (tests/unit/test_transform.py). #}
{% macro state_materialization() -%}
    {{ return(adapter.dispatch('state_materialization', 'upstream')()) }}
{%- endmacro %}

{% macro default__state_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__state_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{# A DuckDB setting for one model's build (a hook); Spark has no such setting: a no-op. #}
{% macro duckdb_setting(statement) -%}
    {{ return(adapter.dispatch('duckdb_setting', 'upstream')(statement)) }}
{%- endmacro %}

{% macro default__duckdb_setting(statement) -%}
    {{ statement }}
{%- endmacro %}

{% macro spark__duckdb_setting(statement) -%}
    select 1
{%- endmacro %}

{# Aggregate: `value` of every row in the order of `order_by` ("a desc, b asc": plain column
   expressions), of the rows `where` keeps (null when it keeps none). Spark's collect_list has
   no ORDER BY: it sorts collected structs with a comparator built from `order_by`. #}
{% macro ordered_list(value, order_by, where=none) -%}
    {{ return(adapter.dispatch('ordered_list', 'upstream')(value, order_by, where)) }}
{%- endmacro %}

{% macro default__ordered_list(value, order_by, where) -%}
    list({{ value }} order by {{ order_by }}){% if where %} filter (where {{ where }}){% endif %}
{%- endmacro %}

{% macro spark__ordered_list(value, order_by, where) -%}
    {%- set keys = [] -%}
    {%- for part in order_by.split(',') -%}
        {%- set p = part.strip() -%}
        {%- set descending = p.lower().endswith(' desc') -%}
        {%- set expr = p[:-5] if descending else (p[:-4] if p.lower().endswith(' asc') else p) -%}
        {%- do keys.append((expr.strip(), descending)) -%}
    {%- endfor -%}
    {%- set collected -%}
        collect_list(named_struct(
            {%- for expr, _ in keys %}'k{{ loop.index }}', {{ expr }}, {% endfor %}'v', {{ value }}
        )){% if where %} filter (where {{ where }}){% endif %}
    {%- endset -%}
    {%- if where %}case when count(1) filter (where {{ where }}) = 0 then null else {% endif -%}
    transform(
        array_sort({{ collected }}, (l, r) -> case
            {%- for _, descending in keys %}
            when l.k{{ loop.index }} < r.k{{ loop.index }} then {{ 1 if descending else -1 }}
            when l.k{{ loop.index }} > r.k{{ loop.index }} then {{ -1 if descending else 1 }}
            {%- endfor %}
            else 0 end),
        x -> x.v
    )
    {%- if where %} end{% endif -%}
{%- endmacro %}

{# The first `n` elements of a list. #}
{% macro list_head(list, n) -%}
    {{ return(adapter.dispatch('list_head', 'upstream')(list, n)) }}
{%- endmacro %}

{% macro default__list_head(list, n) -%}
    ({{ list }})[1:{{ n }}]
{%- endmacro %}

{% macro spark__list_head(list, n) -%}
    slice({{ list }}, 1, {{ n }})
{%- endmacro %}

{# The i-th element of a list, counting from 1 (-1: the last); null beyond its end. Spark's
   `list[i]` counts from 0, so no model indexes a list with brackets. #}
{% macro list_element(list, i) -%}
    {{ return(adapter.dispatch('list_element', 'upstream')(list, i)) }}
{%- endmacro %}

{% macro default__list_element(list, i) -%}
    ({{ list }})[{{ i }}]
{%- endmacro %}

{% macro spark__list_element(list, i) -%}
    try_element_at({{ list }}, {{ i }})
{%- endmacro %}

{# Number of elements of a list (null for null). #}
{% macro list_length(list) -%}
    {{ return(adapter.dispatch('list_length', 'upstream')(list)) }}
{%- endmacro %}

{% macro default__list_length(list) -%}
    len({{ list }})
{%- endmacro %}

{% macro spark__list_length(list) -%}
    if({{ list }} is null, null, size({{ list }}))
{%- endmacro %}

{# A list of the given expressions. #}
{% macro list_of(expressions) -%}
    {{ return(adapter.dispatch('list_of', 'upstream')(expressions)) }}
{%- endmacro %}

{% macro default__list_of(expressions) -%}
    [{{ expressions | join(', ') }}]
{%- endmacro %}

{% macro spark__list_of(expressions) -%}
    array({{ expressions | join(', ') }})
{%- endmacro %}

{# Select-list item: one row per element of a list. #}
{% macro unnest_list(list) -%}
    {{ return(adapter.dispatch('unnest_list', 'upstream')(list)) }}
{%- endmacro %}

{% macro default__unnest_list(list) -%}
    unnest({{ list }})
{%- endmacro %}

{% macro spark__unnest_list(list) -%}
    explode({{ list }})
{%- endmacro %}

{# A text split at every match of the regular expression `pattern` (a literal). #}
{% macro split_regex(text, pattern) -%}
    {{ return(adapter.dispatch('split_regex', 'upstream')(text, pattern)) }}
{%- endmacro %}

{% macro default__split_regex(text, pattern) -%}
    regexp_split_to_array({{ text }}, {{ pattern }})
{%- endmacro %}

{% macro spark__split_regex(text, pattern) -%}
    split({{ text }}, {{ pattern | replace('\\', '\\\\') }})
{%- endmacro %}

{# A MAP from a list of keys and a list of values. #}
{% macro map_from_lists(keys, values) -%}
    {{ return(adapter.dispatch('map_from_lists', 'upstream')(keys, values)) }}
{%- endmacro %}

{% macro default__map_from_lists(keys, values) -%}
    map({{ keys }}, {{ values }})
{%- endmacro %}

{% macro spark__map_from_lists(keys, values) -%}
    map_from_arrays({{ keys }}, {{ values }})
{%- endmacro %}

{# Every element of a list through `expression` of `variable`. #}
{% macro list_map(list, variable, expression) -%}
    {{ return(adapter.dispatch('list_map', 'upstream')(list, variable, expression)) }}
{%- endmacro %}

{% macro default__list_map(list, variable, expression) -%}
    list_transform({{ list }}, lambda {{ variable }}: {{ expression }})
{%- endmacro %}

{% macro spark__list_map(list, variable, expression) -%}
    transform({{ list }}, {{ variable }} -> {{ expression }})
{%- endmacro %}

{# Whether a list holds a value. #}
{% macro list_has(list, value) -%}
    {{ return(adapter.dispatch('list_has', 'upstream')(list, value)) }}
{%- endmacro %}

{% macro default__list_has(list, value) -%}
    list_contains({{ list }}, {{ value }})
{%- endmacro %}

{% macro spark__list_has(list, value) -%}
    array_contains({{ list }}, {{ value }})
{%- endmacro %}

{# A field of a struct. #}
{% macro struct_field(struct, name) -%}
    {{ return(adapter.dispatch('struct_field', 'upstream')(struct, name)) }}
{%- endmacro %}

{% macro default__struct_field(struct, name) -%}
    struct_extract({{ struct }}, '{{ name }}')
{%- endmacro %}

{% macro spark__struct_field(struct, name) -%}
    {{ struct }}.{{ name }}
{%- endmacro %}

{# `with x as {{ not_materialized() }} (...)`: DuckDB inlines the CTE into each reader (its
   filters push down); Spark inlines CTEs by itself and has no such keyword. #}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'upstream')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}
    not materialized
{%- endmacro %}

{% macro spark__not_materialized() -%}
{%- endmacro %}

{# A list of texts joined by `separator`. #}
{% macro list_join(list, separator) -%}
    {{ return(adapter.dispatch('list_join', 'upstream')(list, separator)) }}
{%- endmacro %}

{% macro default__list_join(list, separator) -%}
    array_to_string({{ list }}, {{ separator }})
{%- endmacro %}

{% macro spark__list_join(list, separator) -%}
    array_join({{ list }}, {{ separator }})
{%- endmacro %}

{# Every column of `relation` (an alias) but `columns`. #}
{% macro star_except(relation, columns) -%}
    {{ return(adapter.dispatch('star_except', 'upstream')(relation, columns)) }}
{%- endmacro %}

{% macro default__star_except(relation, columns) -%}
    {{ relation }}.* exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(relation, columns) -%}
    {{ relation }}.* except ({{ columns | join(', ') }})
{%- endmacro %}
