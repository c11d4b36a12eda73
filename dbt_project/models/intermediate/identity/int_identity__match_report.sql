-- How well identities were stitched: per identifier type, how many identifiers were linked to a
-- known CRM customer and how many stayed anonymous (incl. browsers that never logged in).
with identity_map as (
    select * from {{ ref('int_identity__map') }}
),

events as (
    select * from {{ ref('int_web__events') }}
),

linked as (
    select
        identifier_type,
        count(*) as identifiers,
        count(*) filter (where is_known_customer) as linked_to_customer,
        count(*) filter (where not is_known_customer) as not_linked,
        count(distinct person_id) as persons
    from identity_map
    group by identifier_type
),

never_logged_in as (
    select
        'anon_never_logged_in' as identifier_type,
        count(distinct events.anonymous_id) as identifiers,
        0 as linked_to_customer,
        count(distinct events.anonymous_id) as not_linked,
        null::bigint as persons
    from events
    left join identity_map on identity_map.identifier = 'anon:' || events.anonymous_id
    where identity_map.identifier is null and not events.is_bot
),

final as (
    select * from linked
    union all
    select * from never_logged_in
)

select * from final
