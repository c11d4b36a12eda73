-- One row per living CRM customer: the newest version across full exports, deltas and the
-- legacy CRM. A customer whose newest version is a deletion is dropped (right to erasure).
with source as (
    select * from {{ source('crm', 'crm_customers') }}
),

latest as (
    {{ deduplicated('source', 'crm_id', 'updated_at desc, _source_file desc, _record_no desc') }}
),

final as (
    select
        crm_id as customer_id,
        first_name,
        last_name,
        nullif(lower(trim(email)), '') as email,
        {{ normalise_phone('phone') }} as phone_e164,
        street,
        postal_code,
        city,
        upper(country) as country_code,
        birth_year,
        segment,
        consent_marketing as has_marketing_consent,
        consent_profiling as has_profiling_consent,
        height_cm,
        chest_cm,
        waist_cm,
        preferred_fit,
        preferred_colours,
        created_at,
        updated_at,
        timezone('UTC', updated_at) as updated_at_utc
    from latest
    where op = 'upsert'
)

select * from final
