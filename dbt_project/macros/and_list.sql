{# A list read as English: 'a', 'a and b', 'a, b and c' (for the designers' briefs). #}
{% macro and_list(list) -%}
    case
        when len({{ list }}) <= 1 then array_to_string({{ list }}, '')
        else array_to_string(({{ list }})[1:-2], ', ') || ' and ' || ({{ list }})[-1]
    end
{%- endmacro %}
