-- Every identifier → the person it belongs to (connected components of the identity graph,
-- computed in SQL by transitive closure; components are small because shared devices and
-- household phones never become edges).
-- person_id is the smallest CRM id in the component ('crm:C…'), else its smallest guest order
-- ('guest_order:O…', never an email or phone): it stays the same when new identifiers join,
-- and when two people merge the older CRM id wins.
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

nodes as (
    select a as node from edges
    union
    select node from customers
),

reach (node, reached) as (
    select
        node,
        node as reached
    from nodes
    union
    select
        reach.node,
        edges.b
    from reach
    inner join edges on reach.reached = edges.a
),

components as (
    select
        node,
        coalesce(
            min(reached) filter (where reached like 'crm:%'),
            min(reached) filter (where reached like 'guest_order:%' or reached like 'anon:%'),
            min(reached)
        ) as representative
    from reach
    group by node
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
        representative like 'crm:%' as is_known_customer
    from components
)

select * from final
