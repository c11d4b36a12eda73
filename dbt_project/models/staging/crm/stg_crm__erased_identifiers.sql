-- Who asked to be forgotten: every CRM id whose newest version is a deletion ('crm:…'), and every
-- email any version of that record carried ('email:…') unless a living CRM record holds it now.
-- Their signals are dropped from every feed (int_order_lines__enriched,
-- int_web__events_attributed), never re-labelled anonymous.
with source as (
    select * from {{ source('crm', 'crm_customers') }}
),

latest as (
    {{ deduplicated('source', 'crm_id', 'updated_at desc, _source_file desc, _record_no desc') }}
),

erased as (
    select latest.crm_id
    from latest
    where latest.op = 'delete'
),

living_emails as (
    select nullif(lower(trim(latest.email)), '') as email
    from latest
    where latest.op = 'upsert'
),

final as (
    select 'crm:' || erased.crm_id as identifier
    from erased

    union

    select 'email:' || lower(trim(source.email)) as identifier
    from source
    inner join erased on source.crm_id = erased.crm_id
    where
        nullif(trim(source.email), '') is not null
        and lower(trim(source.email)) not in (
            select living_emails.email
            from living_emails
            where living_emails.email is not null
        )
)

select * from final
