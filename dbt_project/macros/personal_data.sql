{#
  Direct identifiers in free text (search queries, return texts, unknown vocabulary values):
  anything with an @ between non-blanks (email), 7 or more digits with at most one separator
  between two of them (phone, card number; a date matches too, which errs on the safe side), and
  IBANs (two letters, two digits, then groups of letters and digits). One definition, used by
  every model that publishes or reports free text.
#}
{% macro personal_data_pattern() -%}
    '[^\s@]+@[^\s@]+|[0-9](?:[ ./()-]?[0-9]){6,}|(?i)\b[a-z]{2}[0-9]{2}(?:[ ]?[a-z0-9]{4}){2,7}(?:[ ]?[a-z0-9]{1,4})?\b'
{%- endmacro %}

{% macro contains_personal_data(column) -%}
    coalesce({{ regexp_contains(column, personal_data_pattern()) }}, false)
{%- endmacro %}

{% macro redact_personal_data(column) -%}
    {{ regexp_replace_all(column, personal_data_pattern(), "'[redacted]'") }}
{%- endmacro %}
