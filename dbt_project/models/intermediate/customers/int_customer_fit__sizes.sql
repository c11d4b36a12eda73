-- The size that fits, per known person and category. Each piece of evidence is a vote for one
-- size (sizes ranked by seeds/size_chart.csv):
--   * every kept unit (bought, not returned) votes for its size;
--   * every unit returned as too_small votes for the next size up, too_large for the next size
--     down (clamped to the size range); other return reasons say nothing about size;
--   * a stated measurement (chest for tops and dresses, waist for trousers and skirts, from the
--     golden record) votes once for the size the chart gives it.
-- The recommended size has the most votes (a tie goes to the larger size: a maker can take in).
-- confidence = winning votes / (all votes + 1): agreement, damped when evidence is thin
-- (one kept unit gives 0.5, three agreeing units 0.75).
with order_lines as (
    select * from {{ ref('int_order_lines__enriched') }}
    where is_known_customer
),

returns as (
    select * from {{ ref('stg_erp__returns') }}
),

golden as (
    select * from {{ ref('int_customers__golden') }}
),

size_chart as (
    select * from {{ ref('size_chart') }}
),

size_range as (
    select
        category,
        min(size_rank) as min_rank,
        max(size_rank) as max_rank
    from size_chart
    group by category
),

kept_votes as (
    select
        order_lines.person_id,
        order_lines.category,
        size_chart.size_rank,
        greatest(order_lines.quantity - order_lines.returned_quantity, 0) as votes,
        'kept' as evidence
    from order_lines
    inner join size_chart
        on order_lines.category = size_chart.category and order_lines.size = size_chart.size
),

return_votes as (
    select
        order_lines.person_id,
        order_lines.category,
        least(greatest(
            size_chart.size_rank + case returns.reason_code when 'too_small' then 1 else -1 end,
            size_range.min_rank
        ), size_range.max_rank) as size_rank,
        returns.quantity as votes,
        'return_correction' as evidence
    from returns
    inner join order_lines on returns.order_line_id = order_lines.order_line_id
    inner join size_chart
        on order_lines.category = size_chart.category and order_lines.size = size_chart.size
    inner join size_range on order_lines.category = size_range.category
    where returns.reason_code in ('too_small', 'too_large')
),

measurement_votes as (
    select
        golden.person_id,
        size_chart.category,
        size_chart.size_rank,
        1 as votes,
        'measurement' as evidence
    from golden
    inner join size_chart
        on
            case size_chart.measure when 'chest' then golden.chest_cm else golden.waist_cm end
            >= size_chart.min_cm
            and case size_chart.measure when 'chest' then golden.chest_cm else golden.waist_cm end
            < size_chart.max_cm
),

votes as (
    select * from kept_votes
    union all
    select * from return_votes
    union all
    select * from measurement_votes
),

per_size as (
    select
        person_id,
        category,
        size_rank,
        sum(votes) as votes
    from votes
    where votes > 0
    group by person_id, category, size_rank
),

per_category as (
    select
        person_id,
        category,
        arg_max(size_rank, struct_pack(v := votes, r := size_rank)) as size_rank,
        max(votes) as winning_votes,
        sum(votes) as total_votes
    from per_size
    group by person_id, category
),

evidence as (
    select
        person_id,
        category,
        sum(votes) filter (where evidence = 'kept') as kept_units,
        sum(votes) filter (where evidence = 'return_correction') as corrected_units,
        bool_or(evidence = 'measurement') as has_measurement
    from votes
    group by person_id, category
),

final as (
    select
        per_category.person_id,
        per_category.category,
        size_chart.size as recommended_size,
        round(per_category.winning_votes / (per_category.total_votes + 1), 2) as confidence,
        coalesce(evidence.kept_units, 0)::integer as kept_units,
        coalesce(evidence.corrected_units, 0)::integer as corrected_units,
        coalesce(evidence.has_measurement, false) as has_measurement
    from per_category
    inner join size_chart
        on
            per_category.category = size_chart.category
            and per_category.size_rank = size_chart.size_rank
    inner join evidence
        on
            per_category.person_id = evidence.person_id
            and per_category.category = evidence.category
)

select * from final
