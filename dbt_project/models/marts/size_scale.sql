-- The sizes of every category in their order, for sorting and reading the other feeds: S before
-- M before L, not alphabetically. From int_catalogue__size_scale (rules there).
with size_scale as (
    select * from {{ ref('int_catalogue__size_scale') }}
),

final as (
    select
        category,
        size,
        scale,
        sort_order,
        is_declared,
        has_size_chart
    from size_scale
)

select * from final
