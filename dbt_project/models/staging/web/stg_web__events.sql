-- One row per web event id (a duplicate keeps its first delivery); times in UTC; bots flagged.
with source as (
    select * from {{ source('web', 'web_events') }}
),

deduplicated as (
    {{ deduplicated('source', 'event_id', '_source_file, _record_no') }}
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
        upper(size) as size,
        lower(trim(search_query)) as search_query,
        result_count,
        option_name,
        option_value,
        coalesce(regexp_matches(lower(user_agent), 'bot|crawler|spider'), false) as is_bot
    from deduplicated
)

select * from final
