with source as {{ not_materialized() }} (
    select * from {{ source('erp', 'erp_invoices') }}
),

latest as (
    {{ deduplicated_mostly_unique('source', 'invoice_id', '_source_file desc, _record_no desc') }}
),

final as (
    select
        invoice_id,
        order_id,
        net_amount,
        vat_amount,
        gross_amount,
        upper(trim(currency)) as currency_code,
        issued_at,
        paid_at,
        paid_at is not null as is_paid
    from latest
)

select * from final
