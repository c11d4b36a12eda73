{# A list read as English: 'a', 'a and b', 'a, b and c' (for the designers' briefs). #}
{% macro and_list(list) -%}
    {{ return(adapter.dispatch('and_list', 'upstream')(list)) }}
{%- endmacro %}

{% macro default__and_list(list) -%}
    case
        when len({{ list }}) <= 1 then array_to_string({{ list }}, '')
        else array_to_string(({{ list }})[1:-2], ', ') || ' and ' || ({{ list }})[-1]
    end
{%- endmacro %}

{% macro spark__and_list(list) -%}
    case
        when size({{ list }}) <= 1 then array_join({{ list }}, '')
        else array_join(slice({{ list }}, 1, size({{ list }}) - 1), ', ') || ' and '
            || element_at({{ list }}, -1)
    end
{%- endmacro %}
