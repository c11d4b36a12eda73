-- Edges of the identity graph between typed identifiers ('crm:…', 'email:…', 'phone:…',
-- 'anon:…', 'guest_order:…'). Rules (see _identity.yml):
--   crm ↔ email        from the CRM
--   crm ↔ phone        only when the phone belongs to exactly one CRM record: a household
--                      phone shared by two people must not merge them
--   anon ↔ crm         from web login events: one browser logged in as both records merges them
--                      (a browser seen logging in as more than 3 CRM records is a shared device
--                      and links nobody); erased customers' logins link nobody
--   guest_order ↔ email  a guest order belongs to whoever owns its email
with customers as (
    select * from {{ ref('stg_crm__customers') }}
),

events as (
    select * from {{ ref('int_web__events') }}
),

orders as (
    select * from {{ ref('stg_erp__orders') }}
),

phone_owners as (
    select phone_e164
    from customers
    where phone_e164 is not null
    group by phone_e164
    having count(*) = 1
),

logins as (
    select distinct
        anonymous_id,
        customer_id
    from events
    where event_type = 'login' and customer_id is not null and not is_bot
),

devices as (
    select anonymous_id
    from logins
    group by anonymous_id
    having count(distinct customer_id) <= 3
),

edges as (
    select
        'crm:' || customer_id as from_id,
        'email:' || email as to_id,
        'crm_email' as rule
    from customers
    where email is not null

    union all

    select
        'crm:' || customers.customer_id as from_id,
        'phone:' || customers.phone_e164 as to_id,
        'crm_phone' as rule
    from customers
    inner join phone_owners on customers.phone_e164 = phone_owners.phone_e164

    union all

    select
        'anon:' || logins.anonymous_id as from_id,
        'crm:' || logins.customer_id as to_id,
        'web_login' as rule
    from logins
    inner join devices on logins.anonymous_id = devices.anonymous_id
    -- only living CRM records: an erased customer's logins link nobody
    inner join customers on logins.customer_id = customers.customer_id

    union all

    select
        'guest_order:' || order_id as from_id,
        'email:' || guest_email as to_id,
        'guest_email' as rule
    from orders
    where is_guest_order and guest_email is not null
),

final as (
    select distinct
        from_id,
        to_id,
        rule
    from edges
)

select * from final
