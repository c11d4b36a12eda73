-- One row per CRM customer: the newest version across the full export and the daily deltas.
with source as (
    select * from {{ source('crm', 'crm_customers') }}
),

latest as (
    select *
    from source
    qualify row_number() over (
        partition by crm_id
        order by updated_at desc, _source_file desc, _record_no desc
    ) = 1
),

final as (
    select
        crm_id as customer_id,
        first_name,
        last_name,
        lower(trim(email)) as email,
        phone,
        upper(country) as country_code,
        birth_year,
        segment,
        consent_marketing as has_marketing_consent,
        consent_profiling as has_profiling_consent,
        created_at,
        updated_at
    from latest
)

select * from final
