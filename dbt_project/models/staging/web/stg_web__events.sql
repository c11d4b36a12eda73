-- Web events as delivered (rename and cast only; duplicates are removed downstream in the
-- incremental int_web__events), UTC timestamps, bots flagged.
with source as (
    select * from {{ source('web', 'web_events') }}
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
        coalesce(regexp_matches(lower(user_agent), 'bot|crawler|spider'), false) as is_bot,
        _loaded_at,
        _source_file,
        _record_no
    from source
)

select * from final
