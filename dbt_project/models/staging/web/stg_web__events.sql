-- Web events as delivered (rename and cast only; duplicates are removed downstream in the
-- incremental int_web__events), UTC timestamps, bots flagged, sizes normalised.
with source as (
    select * from {{ source('web', 'web_events') }}
),

final as (
    select
        source.event_id,
        source.event_type,
        source.occurred_at,
        source.anonymous_id,
        source.session_id,
        source.customer_id,
        source.sku,
        {{ normalise_size('source.size') }} as size,
        lower(trim(source.search_query)) as search_query,
        source.result_count,
        source.option_name,
        source.option_value,
        coalesce(
            {{ regexp_contains('lower(source.user_agent)', "'bot|crawler|spider'") }}, false
        ) as is_bot,
        source._loaded_at,
        source._source_file,
        source._record_no
    from source
)

select * from final
