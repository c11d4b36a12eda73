-- One row per order; a re-sent order keeps the newest delivery (and its _loaded_at). Since
-- the ERP renamed `channel` to `sales_channel`, the new name arrives in the _extra overflow
-- column. The shipping country is normalised to ISO 3166-1 alpha-2 (null when unknown; the
-- delivered value stays in shipping_country_raw and is reported in reports.vocabulary_report).
with source as {{ not_materialized() }} (
    select * from {{ source('erp', 'erp_orders') }}
),

latest as (
    {{ deduplicated_mostly_unique('source', 'order_id', '_source_file desc, _record_no desc') }}
),

final as (
    select
        latest.order_id,
        latest.crm_id as customer_id,
        nullif(lower(trim(latest.guest_email)), '') as guest_email,
        latest.crm_id is null as is_guest_order,
        latest.ordered_at,
        upper(trim(latest.currency)) as currency_code,
        coalesce(latest.channel, {{ json_text('latest._extra', 'sales_channel') }}) as channel,
        {{ normalise_country('latest.shipping_country') }} as shipping_country_code,
        nullif(trim(latest.shipping_country), '') as shipping_country_raw,
        latest._loaded_at
    from latest
)

select * from final
