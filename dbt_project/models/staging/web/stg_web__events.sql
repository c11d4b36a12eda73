-- One row per web event id; a duplicate delivered again keeps its first load.
with source as (
    select * from {{ source('web', 'web_events') }}
),

deduplicated as (
    select *
    from source
    qualify row_number() over (
        partition by event_id
        order by _source_file, _record_no
    ) = 1
),

final as (
    select
        event_id,
        event_type,
        occurred_at,
        anonymous_id,
        session_id,
        customer_id,
        sku,
        size,
        search_query,
        result_count
    from deduplicated
)

select * from final
