with source as (
    select * from {{ source('erp', 'erp_returns') }}
),

latest as (
    select *
    from source
    qualify row_number() over (
        partition by return_id order by _source_file desc, _record_no desc
    ) = 1
),

final as (
    select return_id, order_line_id, returned_at, quantity, reason_code, free_text
    from latest
)

select * from final
