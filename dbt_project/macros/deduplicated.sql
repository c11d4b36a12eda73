{#
  One row per natural key, chosen deterministically: the first row by `order_by`.
  Tie-breaking rules live in the callers' order_by and always end in the delivery position
  (_source_file, _record_no), so the same raw data always gives the same row.
#}
{% macro deduplicated(relation, key, order_by) -%}
    select *
    from {{ relation }}
    qualify row_number() over (partition by {{ key }} order by {{ order_by }}) = 1
{%- endmacro %}
