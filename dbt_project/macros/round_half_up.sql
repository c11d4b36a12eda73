{#
  `x` rounded to `digits` places, half away from zero, as a DOUBLE, alike on both engines:
  through DECIMAL(38, 12), so neither a double's last bits nor each engine's own float rounding
  (DuckDB scales by 10^digits, Spark rounds the exact binary value) decides a tie such as
  0.2375. Every rounded figure the models keep or publish goes through here.
#}
{% macro round_half_up(x, digits) -%}
    cast(round(cast({{ x }} as decimal(38, 12)), {{ digits }}) as double)
{%- endmacro %}
