{#
  Normalise once: every size, label, country and return reason is normalised in staging by one
  of these macros and compared only in normalised form. The vocabularies are seeds (data, not
  code): seeds/value_synonyms.csv (kind, raw_value, canonical_value), seeds/countries.csv,
  seeds/return_reasons.csv; see seeds/_seeds.yml.

  vocabulary_key: the form a value is looked up in: ß -> ss, accents stripped, upper or lower
  case, every run of characters that are not letters or digits -> one space, trimmed ('' -> null).
  scripts/build_countries_seed.py applies the same cleaning to the country aliases.
#}
{% macro vocabulary_key(column, case='lower') -%}
    nullif(trim({{ regexp_replace_all(
        case ~ "(" ~ strip_accents("replace(" ~ column ~ ", 'ß', 'ss')") ~ ")",
        "'[^\\p{L}\\p{N}]+'", "' '") }}), '')
{%- endmacro %}

{#
  The value column of the row of a reference table whose key column equals `key` (null if
  none): the table is read once per query into a MAP (an uncorrelated subquery) and looked up
  per row. As a correlated subquery, DuckDB materialised every input row with all its columns
  before joining (the 7.5 M web events of one SF 10 day: 33 s for the staging view, 2 s now).
#}
{% macro _lookup(relation, key_column, value_column, key, where='true') -%}
    {% set lookup_map -%}
        (
            select {{ map_of_lists('lookup.' ~ key_column, 'lookup.' ~ value_column) }}
            from {{ relation }} as lookup
            where {{ where }} and lookup.{{ key_column }} is not null
        )
    {%- endset %}
    {{ map_lookup(lookup_map, key) }}
{%- endmacro %}

{% macro _synonym(kind, key) -%}
    {{ _lookup(ref('value_synonyms'), 'raw_value', 'canonical_value', key,
               where="lookup.kind = '" ~ kind ~ "'") }}
{%- endmacro %}

{# Sizes: upper case, single spaces; synonyms ('extra large' -> XL, 'N/A' -> ONE SIZE). #}
{% macro normalise_size(column) -%}
    coalesce(
        {{ _synonym('size', vocabulary_key(column, 'upper')) }},
        nullif(upper(trim({{ regexp_replace_all(column, "'\\s+'", "' '") }})), '')
    )
{%- endmacro %}

{# Categories, colours, materials, fits: lower case, single spaces; synonyms (gray -> grey). #}
{% macro normalise_label(kind, column) -%}
    coalesce(
        {{ _synonym(kind, vocabulary_key(column, 'lower')) }},
        nullif(lower(trim({{ regexp_replace_all(column, "'\\s+'", "' '") }})), '')
    )
{%- endmacro %}

{# ISO 3166-1 alpha-2 from a code or a name in one of our markets' languages; null if unknown. #}
{% macro normalise_country(column) -%}
    {{ _lookup(ref('countries'), 'alias', 'country_code', vocabulary_key(column, 'upper')) }}
{%- endmacro %}

{#
  A canonical return reason (seeds/return_reasons.csv) from a code or a free text: the code
  itself ('Too small' and 'too_small' both give too_small), else a synonym, else 'other'.
#}
{% macro normalise_return_reason(column) -%}
    coalesce(
        {{ _lookup(ref('return_reasons'), 'reason_code', 'reason_code',
                   "replace(" ~ vocabulary_key(column, 'lower') ~ ", ' ', '_')") }},
        {{ _synonym('return_reason', vocabulary_key(column, 'lower')) }}
    )
{%- endmacro %}
