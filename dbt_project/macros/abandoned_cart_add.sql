{#
  A cart add (a row of int_web__unmet_events, alias `unmet`) whose session has no checkout; with
  `as_of` (a date literal), none before that date: what a person's needs know as of the run.
#}
{% macro abandoned_cart_add(as_of=none) -%}
    (
        unmet.is_cart_add
        and (unmet.session_checkout_at is null
            {%- if as_of %} or unmet.session_checkout_at >= date '{{ as_of }}'{% endif %})
    )
{%- endmacro %}
