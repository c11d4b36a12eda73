-- Human web events (bots excluded) attributed to a person: the identity of the logged-in CRM
-- id when the event carries one (also a CRM id without a CRM record), else of the browser
-- (linked by an earlier login), else the browser itself as an anonymous person ('anon:…').
-- Events of erased customers are dropped: those carrying an erased CRM id, and those of a
-- browser that only ever logged in as erased customers.
--
-- Built once per run for its four readers, incrementally (delete+insert by event_id): a run
-- attributes the events loaded since the last one, and re-attributes every event whose CRM id
-- or browser the identity map now resolves differently from the map the last run applied
-- (kept beside this table by the post-hook as <this>__map: one row per crm:/anon: identifier).
-- A full refresh attributes everything; both give the same table (tests/unit/test_transform).
-- Rows to forget are deleted by the erasure purge (upstream.erasure), which also clears the
-- applied map.
--
-- DuckDB estimates the human events after its filters at a hundredth of their number and would
-- build its hash tables on them (48 M wide rows at SF 10: out of memory at any limit); with
-- build_side_probe_side off each join builds on its right side, the identity map, as written.
{% set applied_map = this.identifier ~ '__map' %}
{{ config(
    materialized=state_materialization(),
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='fail',
    pre_hook="{{ duckdb_setting(\"set disabled_optimizers = 'build_side_probe_side'\") }}",
    post_hook=[
        "{{ duckdb_setting('reset disabled_optimizers') }}",
        "{{ state_record_map(\"identifier_type in ('crm', 'anon')\") }}",
    ]
) }}
{% set applied = adapter.get_relation(
    database=this.database, schema=this.schema, identifier=applied_map) %}

with identity_map as (
    select
        identifier,
        person_id,
        is_known_customer
    from {{ ref('int_identity__map') }}
    where identifier_type in ('crm', 'anon')
),

erased as (
    select identifier from {{ ref('stg_crm__erased_identifiers') }}
),

{% if is_incremental() and applied is not none %}
    changed as (
        {{ rows_that_differ('identity_map', applied,
                            'identifier, person_id, is_known_customer') }}
    ),
{% endif %}

events as (
    select *
    from {{ ref('int_web__events') }}
    where
        not is_bot
    {% if is_incremental() and applied is not none %}
        and (
            _loaded_at > (
                select coalesce(max(loaded._loaded_at), {{ earliest_timestamp() }})
                from {{ this }} as loaded
            )
            or 'crm:' || customer_id in (select changed.identifier from changed)
            or 'anon:' || anonymous_id in (select changed.identifier from changed)
        )
    {% endif %}
),

-- all logins, not only the events of this run: a browser's status needs its whole history
erased_browsers as (
    select logins.anonymous_id
    from {{ ref('int_web__events') }} as logins
    left join erased on erased.identifier = 'crm:' || logins.customer_id
    where logins.event_type = 'login' and logins.customer_id is not null and not logins.is_bot
    group by logins.anonymous_id
    having bool_and(erased.identifier is not null)
),

final as (
    select
        coalesce(by_customer.person_id, by_browser.person_id, 'anon:' || events.anonymous_id)
            as person_id,
        coalesce(by_customer.is_known_customer, by_browser.is_known_customer, false)
            as is_known_customer,
        events.event_id,
        events.event_type,
        events.occurred_at,
        events.anonymous_id,
        events.session_id,
        events.sku,
        events.size,
        events.search_query,
        events.result_count,
        events.option_name,
        events.option_value,
        events._loaded_at
    from events
    left join identity_map as by_customer
        on by_customer.identifier = 'crm:' || events.customer_id
    left join identity_map as by_browser
        on by_browser.identifier = 'anon:' || events.anonymous_id
    left join erased on erased.identifier = 'crm:' || events.customer_id
    left join erased_browsers on events.anonymous_id = erased_browsers.anonymous_id
    where erased.identifier is null and erased_browsers.anonymous_id is null
)

select * from final
