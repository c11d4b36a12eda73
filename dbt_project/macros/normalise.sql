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
    nullif(trim(regexp_replace(
        {{ case }}(strip_accents(replace({{ column }}, 'ß', 'ss'))), '[^\p{L}\p{N}]+', ' ', 'g'
    )), '')
{%- endmacro %}

{% macro _synonym(kind, key) -%}
    (
        select syn.canonical_value from {{ ref('value_synonyms') }} as syn
        where syn.kind = '{{ kind }}' and syn.raw_value = {{ key }}
    )
{%- endmacro %}

{# Sizes: upper case, single spaces; synonyms ('extra large' -> XL, 'N/A' -> ONE SIZE). #}
{% macro normalise_size(column) -%}
    coalesce(
        {{ _synonym('size', vocabulary_key(column, 'upper')) }},
        nullif(upper(trim(regexp_replace({{ column }}, '\s+', ' ', 'g'))), '')
    )
{%- endmacro %}

{# Categories, colours, materials, fits: lower case, single spaces; synonyms (gray -> grey). #}
{% macro normalise_label(kind, column) -%}
    coalesce(
        {{ _synonym(kind, vocabulary_key(column, 'lower')) }},
        nullif(lower(trim(regexp_replace({{ column }}, '\s+', ' ', 'g'))), '')
    )
{%- endmacro %}

{# ISO 3166-1 alpha-2 from a code or a name in one of our markets' languages; null if unknown. #}
{% macro normalise_country(column) -%}
    (
        select country.country_code from {{ ref('countries') }} as country
        where country.alias = {{ vocabulary_key(column, 'upper') }}
    )
{%- endmacro %}

{#
  A canonical return reason (seeds/return_reasons.csv) from a code or a free text: the code
  itself ('Too small' and 'too_small' both give too_small), else a synonym, else 'other'.
#}
{% macro normalise_return_reason(column) -%}
    coalesce(
        (
            select reason.reason_code from {{ ref('return_reasons') }} as reason
            where reason.reason_code = replace({{ vocabulary_key(column, 'lower') }}, ' ', '_')
        ),
        {{ _synonym('return_reason', vocabulary_key(column, 'lower')) }}
    )
{%- endmacro %}
