-- Every identifier → the person it belongs to (connected components of the identity graph,
-- computed in SQL by transitive closure; components are small because shared devices, household
-- phones and shared emails never become edges).
-- Nodes: every identifier of an edge, every living CRM record, and every CRM id that orders or
-- web events carry even without a CRM record (quarantined, or never exported), so such a buyer
-- is one person across orders and web. Erased CRM ids are not nodes: their signals are dropped.
-- person_id is the smallest CRM id of a living CRM record in the component, else its smallest
-- CRM id without a record, else its smallest guest order ('guest_order:O…', never an email or
-- phone): it stays the same when new identifiers join, and when two people merge the older
-- CRM id wins. is_known_customer: the component holds a
-- living CRM record (so there is a golden record and a consent to honour).
with recursive edges as (
    select
        from_id as a,
        to_id as b
    from {{ ref('int_identity__edges') }}
    union
    select
        to_id,
        from_id
    from {{ ref('int_identity__edges') }}
),

customers as (
    select 'crm:' || customer_id as node from {{ ref('stg_crm__customers') }}
),

referenced as (
    select 'crm:' || customer_id as node
    from {{ ref('stg_erp__orders') }}
    where customer_id is not null
    union
    select 'crm:' || customer_id as node
    from {{ ref('int_web__events') }}
    where customer_id is not null and not is_bot
),

erased as (
    select identifier from {{ ref('stg_crm__erased_identifiers') }}
),

nodes as (
    select a as node from edges
    union
    select node from customers
    union
    select referenced.node
    from referenced
    left join erased on referenced.node = erased.identifier
    where erased.identifier is null
),

{{ transitive_reach('nodes', 'edges') }},

components as (
    select
        reach.node,
        coalesce(
            min(reach.reached) filter (where customers.node is not null),
            min(reach.reached) filter (where reach.reached like 'crm:%'),
            min(reach.reached) filter (
                where reach.reached like 'guest_order:%' or reach.reached like 'anon:%'
            ),
            min(reach.reached)
        ) as representative,
        bool_or(customers.node is not null) as has_crm_record
    from reach
    left join customers on reach.reached = customers.node
    group by reach.node
),

final as (
    select
        node as identifier,
        split_part(node, ':', 1) as identifier_type,
        substr(node, length(split_part(node, ':', 1)) + 2) as identifier_value,
        case
            when representative like 'crm:%' then substr(representative, 5)
            else representative
        end as person_id,
        has_crm_record as is_known_customer
    from components
)

select * from final
