-- One row per living CRM customer: the newest version across full exports, deltas and the
-- legacy CRM. A customer whose newest version is a deletion is dropped (right to erasure; see
-- stg_crm__erased_identifiers). The country is normalised to ISO 3166-1 alpha-2 (null when
-- unknown; the delivered value stays in country_raw and is reported).
with source as (
    select * from {{ source('crm', 'crm_customers') }}
),

latest as (
    {{ deduplicated('source', 'crm_id', 'updated_at desc, _source_file desc, _record_no desc') }}
),

final as (
    select
        latest.crm_id as customer_id,
        latest.first_name,
        latest.last_name,
        nullif(lower(trim(latest.email)), '') as email,
        {{ normalise_phone('latest.phone') }} as phone_e164,
        latest.street,
        latest.postal_code,
        latest.city,
        {{ normalise_country('latest.country') }} as country_code,
        nullif(trim(latest.country), '') as country_raw,
        latest.birth_year,
        latest.segment,
        latest.consent_marketing as has_marketing_consent,
        latest.consent_profiling as has_profiling_consent,
        latest.height_cm,
        latest.chest_cm,
        latest.waist_cm,
        {{ normalise_label('fit', 'latest.preferred_fit') }} as preferred_fit,
        latest.preferred_colours,
        latest.created_at,
        latest.updated_at,
        {{ utc_timestamp('latest.updated_at') }} as updated_at_utc
    from latest
    where latest.op = 'upsert'
)

select * from final
