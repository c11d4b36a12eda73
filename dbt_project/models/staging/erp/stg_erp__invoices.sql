with source as (
    select * from {{ source('erp', 'erp_invoices') }}
),

latest as (
    select *
    from source
    qualify row_number() over (
        partition by invoice_id order by _source_file desc, _record_no desc
    ) = 1
),

final as (
    select
        invoice_id,
        order_id,
        net_amount,
        vat_amount,
        gross_amount,
        upper(currency) as currency_code,
        issued_at,
        paid_at,
        paid_at is not null as is_paid
    from latest
)

select * from final
