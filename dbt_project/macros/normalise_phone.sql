{# E.164 for the German numbers the CRMs hold: "0151 …" and "+49 151 …" become "+49151…". #}
{% macro normalise_phone(column) -%}
    case
        when {{ column }} is null or regexp_replace({{ column }}, '[^0-9]', '', 'g') = '' then null
        when trim({{ column }}) like '+%' then '+' || regexp_replace({{ column }}, '[^0-9]', '', 'g')
        when trim({{ column }}) like '00%' then '+' || substr(regexp_replace({{ column }}, '[^0-9]', '', 'g'), 3)
        when trim({{ column }}) like '0%' then '+49' || substr(regexp_replace({{ column }}, '[^0-9]', '', 'g'), 2)
        else '+' || regexp_replace({{ column }}, '[^0-9]', '', 'g')
    end
{%- endmacro %}
