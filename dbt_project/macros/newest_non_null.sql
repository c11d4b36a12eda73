{#
  Survivorship: the newest non-null value of `column` in the group, newest by `order_by`
  (ties broken by the following fields of the struct, so the pick is deterministic).
#}
{% macro newest_non_null(column, order_by=none) -%}
    {%- set order_by = order_by or struct_of([('t', 'updated_at'), ('id', 'customer_id')]) -%}
    {{ arg_max(column, order_by) }} filter (where {{ column }} is not null)
{%- endmacro %}
