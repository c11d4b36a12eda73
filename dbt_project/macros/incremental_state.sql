{#
  Per-person incremental state (int_customer_signals): what a model needs to know about the
  previous run it built on, kept beside it, written by its post-hooks only after it succeeded
  (a failed run leaves them, so the next run sees every change since the last good one):
    <this>__map      the identity map it applied (identifier, person_id, is_known_customer);
    <this>__applied  the watermarks and the as-of date it applied, and a fingerprint of what
                     weighs every row (seeds, vars): a change there re-derives everybody.
  The erasure purge (upstream.erasure) deletes an erased person's state rows and their
  identifiers from every <model>__map, so the next run re-derives whoever remains of them.
#}

{# Persons (old and new) of every identifier whose person or known-ness changed since `applied`. #}
{% macro identity_changes(applied) -%}
    select changed.person_id
    from (
        (
            select identifier, person_id, is_known_customer from {{ ref('int_identity__map') }}
            except
            select identifier, person_id, is_known_customer from {{ applied }}
        )
        union all
        (
            select identifier, person_id, is_known_customer from {{ applied }}
            except
            select identifier, person_id, is_known_customer from {{ ref('int_identity__map') }}
        )
    ) as changed
{%- endmacro %}

{% macro save_applied_map() -%}
    create or replace table {{ this.schema }}.{{ this.identifier }}__map as
    select identifier, person_id, is_known_customer from {{ ref('int_identity__map') }}
{%- endmacro %}
