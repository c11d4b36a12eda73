-- One row per web event id, built incrementally: each run adds the events loaded since the last
-- run whose id is not known yet. The first delivery wins (load time, then file and line), the
-- same rule a full refresh applies to all of raw, so both give the same table. A file replaced
-- by a new version (see raw._load_manifest) needs a full refresh: mode=full_refresh.
{{ config(
    materialized='incremental', incremental_strategy='append', unique_key='event_id',
    on_schema_change='fail'
) }}

-- not materialized: the deduplication reads it three times (keys, unique rows, repeated rows)
with events as {{ not_materialized() }} (
    select * from {{ ref('stg_web__events') }}
    {% if is_incremental() %}
        where
            _loaded_at > (
                select coalesce(max(loaded._loaded_at), {{ earliest_timestamp() }})
                from {{ this }} as loaded
            )
            and event_id not in (select known.event_id from {{ this }} as known)
    {% endif %}
),

first_delivery as (
    {{ deduplicated_mostly_unique('events', 'event_id', '_loaded_at, _source_file, _record_no') }}
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
        result_count,
        option_name,
        option_value,
        is_bot,
        _loaded_at
    from first_delivery
)

select * from final
