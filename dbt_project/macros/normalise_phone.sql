{# E.164 for the German numbers the CRMs hold: "0151 …" and "+49 151 …" become "+49151…". #}
{% macro normalise_phone(column) -%}
    {%- set digits = regexp_replace_all(column, "'[^0-9]'", "''") -%}
    case
        when {{ column }} is null or {{ digits }} = '' then null
        when trim({{ column }}) like '+%' then '+' || {{ digits }}
        when trim({{ column }}) like '00%' then '+' || substr({{ digits }}, 3)
        when trim({{ column }}) like '0%' then '+49' || substr({{ digits }}, 2)
        else '+' || {{ digits }}
    end
{%- endmacro %}
