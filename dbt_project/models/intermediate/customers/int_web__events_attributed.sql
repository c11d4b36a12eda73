-- Human web events (bots excluded) attributed to a person: the identity of the logged-in CRM
-- id when the event carries one (also a CRM id without a CRM record), else of the browser
-- (linked by an earlier login), else the browser itself as an anonymous person ('anon:…').
-- Events of erased customers are dropped: those carrying an erased CRM id, and those of a
-- browser that only ever logged in as erased customers. A view: consumers filter before reading.
{{ config(materialized='view') }}

with events as (
    select * from {{ ref('int_web__events') }}
    where not is_bot
),

identity_map as (
    select * from {{ ref('int_identity__map') }}
),

erased as (
    select * from {{ ref('stg_crm__erased_identifiers') }}
),

erased_browsers as (
    select events.anonymous_id
    from events
    left join erased on erased.identifier = 'crm:' || events.customer_id
    where events.event_type = 'login' and events.customer_id is not null
    group by events.anonymous_id
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
        events.option_value
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
