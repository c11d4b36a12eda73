-- Edges of the identity graph between typed identifiers ('crm:…', 'email:…', 'phone:…',
-- 'anon:…', 'guest_order:…'). Rules (see _identity__models.yml):
--   crm ↔ email        from the CRM, only when every CRM record holding the email agrees on the
--                      name and birth year: an email shared by a family or an office must not
--                      merge different people
--   crm ↔ phone        only when the phone belongs to exactly one CRM record: a household
--                      phone shared by two people must not merge them
--   anon ↔ crm         from web login events: one browser logged in as both records merges them
--                      (a browser seen logging in as more than 3 CRM ids is a shared device and
--                      links nobody); a CRM id without a CRM record links too (it is still one
--                      person across orders and web); erased customers' logins link nobody
--   guest_order ↔ email  a guest order belongs to whoever owns its email (erased emails: nobody)
with customers as (
    select * from {{ ref('stg_crm__customers') }}
),

events as (
    select * from {{ ref('int_web__events') }}
),

orders as (
    select * from {{ ref('stg_erp__orders') }}
),

erased as (
    select * from {{ ref('stg_crm__erased_identifiers') }}
),

phone_owners as (
    select customers.phone_e164
    from customers
    where customers.phone_e164 is not null
    group by customers.phone_e164
    having count(*) = 1
),

email_owners as (
    select customers.email
    from customers
    where customers.email is not null
    group by customers.email
    having
        count(distinct lower(trim(customers.first_name || ' ' || customers.last_name))) <= 1
        and count(distinct customers.birth_year) <= 1
),

all_logins as (
    select distinct
        events.anonymous_id,
        events.customer_id
    from events
    where events.event_type = 'login' and events.customer_id is not null and not events.is_bot
),

devices as (
    select all_logins.anonymous_id
    from all_logins
    group by all_logins.anonymous_id
    having count(distinct all_logins.customer_id) <= 3
),

logins as (
    select all_logins.*
    from all_logins
    left join erased on erased.identifier = 'crm:' || all_logins.customer_id
    where erased.identifier is null
),

edges as (
    select
        'crm:' || customers.customer_id as from_id,
        'email:' || customers.email as to_id,
        'crm_email' as rule
    from customers
    inner join email_owners on customers.email = email_owners.email

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

    union all

    select
        'guest_order:' || orders.order_id as from_id,
        'email:' || orders.guest_email as to_id,
        'guest_email' as rule
    from orders
    left join erased on erased.identifier = 'email:' || orders.guest_email
    where orders.is_guest_order and orders.guest_email is not null and erased.identifier is null
),

final as (
    select distinct
        edges.from_id,
        edges.to_id,
        edges.rule
    from edges
)

select * from final
