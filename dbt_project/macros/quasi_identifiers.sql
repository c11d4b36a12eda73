{#
  Quasi-identifiers of a published profile: what an outsider holding the order export could
  compute for anyone and join on (marts/customer_needs.sql publishes them only coarsened, at the
  finest level that min_group_size people share).
#}

{# A count capped at `cap` (cap = cap or more); null stays null (DuckDB's least() skips nulls). #}
{% macro capped(column, cap) -%}
    case when {{ column }} is not null then least({{ column }}, {{ cap }}) end
{%- endmacro %}

{# Revenue in EUR as a band: full <100, 100-250, 250-500, 500-1000, 1000+; coarse <250, 250+. #}
{% macro revenue_band(column, level='full') -%}
    case
        when {{ column }} is null then null
        {%- if level == 'full' %}
            when {{ column }} < 100 then '<100'
            when {{ column }} < 250 then '100-250'
            when {{ column }} < 500 then '250-500'
            when {{ column }} < 1000 then '500-1000'
            else '1000+'
        {%- else %}
            when {{ column }} < 250 then '<250'
            else '250+'
        {%- endif %}
    end
{%- endmacro %}

{#
  Share of units bought made to order as a band: never, rarely (under a quarter), often (a
  quarter to half), mostly (half or more). A shop where a third of the catalogue is made to
  order puts a customer choosing at random near the rarely/often line.
#}
{% macro made_to_order_band(column) -%}
    case
        when {{ column }} is null then null
        when {{ column }} = 0 then 'never'
        when {{ column }} < 0.25 then 'rarely'
        when {{ column }} < 0.5 then 'often'
        else 'mostly'
    end
{%- endmacro %}

{#
  The published value of each quasi-identifier at a level, by name; `p` is a relation with
  int_customer_purchases' columns. full: dates to the month and week, counts capped, five
  revenue bands; coarse: no dates, counts capped low, two revenue bands; minimal: nothing.
#}
{% macro quasi_identifier(name, level, p) -%}
    {%- set full = {
        'first_order_month': "date_trunc('month', " ~ p ~ ".first_order_date)::date",
        'last_order_week': "date_trunc('week', " ~ p ~ ".last_order_at)::date",
        'order_count': capped(p ~ '.order_count', 10),
        'units_bought': capped(p ~ '.units_bought', 20),
        'units_returned': capped(p ~ '.units_returned', 10),
        'revenue_band': revenue_band(p ~ '.revenue'),
        'net_revenue_band': revenue_band(p ~ '.net_revenue'),
    } -%}
    {%- set coarse = {
        'order_count': capped(p ~ '.order_count', 2),
        'units_returned': capped(p ~ '.units_returned', 1),
        'revenue_band': revenue_band(p ~ '.revenue', 'coarse'),
    } -%}
    {%- set chosen = full if level == 'full' else coarse if level == 'coarse' else {} -%}
    {{ chosen.get(name, 'null') }}
{%- endmacro %}

{# Every quasi-identifier at a level, as one struct: equal structs cannot be told apart. #}
{% macro quasi_identifiers(level, p) -%}
    {%- set fields = [] -%}
    {%- for name in ['first_order_month', 'last_order_week', 'order_count', 'units_bought',
                     'units_returned', 'revenue_band', 'net_revenue_band'] -%}
        {%- do fields.append((name, quasi_identifier(name, level, p))) -%}
    {%- endfor -%}
    {%- do fields.append(('made_to_order', made_to_order_band(p ~ '.made_to_order_share'))) -%}
    {%- do fields.append(('discount', p ~ '.discount_sensitivity')) -%}
    {{ struct_of(fields) }}
{%- endmacro %}
