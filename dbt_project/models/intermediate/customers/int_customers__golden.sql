-- One golden record per known person (an identity component holding at least one living CRM
-- record). Survivorship rules, attribute by attribute:
--   * descriptive attributes (country, segment, birth year, measurements, stated fit and colours):
--     the newest non-null value across the person's CRM records (by updated_at, then CRM id);
--   * country falls back to the shipping country of the person's newest order only when no CRM
--     record has one (CRM wins over order data);
--   * consent: the strictest wins. Profiling or marketing consent holds only if every CRM record
--     of the person grants it, so a withdrawal on any record is honoured;
--   * created_at: the oldest record; updated_at: the newest.
with customers as (
    select * from {{ ref('stg_crm__customers') }}
),

identity_map as (
    select * from {{ ref('int_identity__map') }}
    where identifier_type = 'crm'
),

orders as (
    select * from {{ ref('int_order_lines__enriched') }}
),

records as (
    select
        identity_map.person_id,
        customers.*
    from customers
    inner join identity_map on customers.customer_id = identity_map.identifier_value
),

newest_order_country as (
    select
        orders.person_id,
        {{ newest_non_null('orders.shipping_country_code',
                           struct_of([('t', 'orders.ordered_at'), ('id', 'orders.order_id')])) }}
            as shipping_country_code
    from orders
    where orders.is_known_customer
    group by orders.person_id
),

golden as (
    select
        person_id,
        count(*) as crm_record_count,
        {{ ordered_list('customer_id', 'customer_id') }} as crm_ids,
        {{ newest_non_null('country_code') }} as crm_country_code,
        {{ newest_non_null('segment') }} as segment,
        {{ newest_non_null('birth_year') }} as birth_year,
        {{ newest_non_null('height_cm') }} as height_cm,
        {{ newest_non_null('chest_cm') }} as chest_cm,
        {{ newest_non_null('waist_cm') }} as waist_cm,
        {{ newest_non_null('preferred_fit') }} as preferred_fit,
        {{ newest_non_null('preferred_colours') }} as preferred_colours,
        bool_and(has_profiling_consent) as has_profiling_consent,
        bool_and(has_marketing_consent) as has_marketing_consent,
        min(created_at) as created_at,
        max(updated_at) as updated_at
    from records
    group by person_id
),

final as (
    select
        golden.person_id,
        golden.crm_record_count,
        golden.crm_ids,
        coalesce(golden.crm_country_code, newest_order_country.shipping_country_code)
            as country_code,
        golden.segment,
        golden.birth_year,
        golden.height_cm,
        golden.chest_cm,
        golden.waist_cm,
        lower(golden.preferred_fit) as preferred_fit,
        golden.preferred_colours,
        golden.has_profiling_consent,
        golden.has_marketing_consent,
        golden.created_at,
        golden.updated_at
    from golden
    left join newest_order_country on golden.person_id = newest_order_country.person_id
)

select * from final
