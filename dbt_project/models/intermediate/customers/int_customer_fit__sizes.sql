-- The size that fits, per known person and category. Each piece of evidence is a vote for one
-- size of the category's scale (int_catalogue__size_scale: sizes and their order come from the
-- catalogue and seeds/size_order.csv):
--   * every kept unit (bought, not returned) votes for its size;
--   * every returned unit whose reason has a size direction (seeds/return_reasons.csv: too_small
--     +1, too_large -1) votes for the next size of the same scale in that direction (clamped to
--     the scale's ends); a size without a known order, and reasons without a direction (wrong_size,
--     quality, ...), say nothing about the size;
--   * a stated measurement (chest or waist, from the golden record) votes once for the size that
--     seeds/size_chart.csv gives it in each charted category.
-- The recommended size has the most votes (a tie goes to the larger size: a maker can take in).
-- confidence = the posterior probability of that size (see the CTE posterior): how often votes
-- point at the true size is learnt from the people with the most evidence, so the figure is
-- calibrated (`upstream score` measures it against planted truth); one kept unit of five
-- sizes gives ≈ 0.7, three agreeing units ≈ 0.99.
with order_lines as {{ not_materialized() }} (
    select * from {{ ref('int_order_lines__enriched') }}
    where is_known_customer
),

returns as (
    select * from {{ ref('stg_erp__returns') }}
),

return_reasons as (
    select * from {{ ref('return_reasons') }}
),

golden as (
    select * from {{ ref('int_customers__golden') }}
),

size_scale as (
    select * from {{ ref('int_catalogue__size_scale') }}
),

size_chart as (
    select * from {{ ref('size_chart') }}
),

scale_ends as (
    select
        size_scale.category,
        size_scale.scale,
        max(size_scale.scale_rank) as max_rank
    from size_scale
    where size_scale.scale is not null
    group by size_scale.category, size_scale.scale
),

kept_votes as (
    select
        order_lines.person_id,
        order_lines.category,
        order_lines.size,
        greatest(order_lines.quantity - order_lines.returned_quantity, 0) as votes,
        'kept' as evidence
    from order_lines
),

return_votes as (
    select
        order_lines.person_id,
        order_lines.category,
        target.size,
        returns.quantity as votes,
        case
            when return_reasons.size_direction > 0 then 'returned_too_small'
            else 'returned_too_large'
        end as evidence
    from returns
    inner join return_reasons
        on returns.reason_code = return_reasons.reason_code and return_reasons.size_direction <> 0
    inner join order_lines on returns.order_line_id = order_lines.order_line_id
    inner join size_scale as bought
        on order_lines.category = bought.category and order_lines.size = bought.size
    inner join scale_ends
        on bought.category = scale_ends.category and bought.scale = scale_ends.scale
    inner join size_scale as target
        on
            bought.category = target.category
            and bought.scale = target.scale
            and target.scale_rank = least(
                greatest(bought.scale_rank + return_reasons.size_direction, 1), scale_ends.max_rank
            )
),

measurement_votes as (
    select
        golden.person_id,
        size_chart.category,
        size_chart.size,
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
        votes.person_id,
        votes.category,
        votes.size,
        size_scale.sort_order,
        sum(votes.votes) as votes
    from votes
    inner join size_scale on votes.category = size_scale.category and votes.size = size_scale.size
    where votes.votes > 0
    group by votes.person_id, votes.category, votes.size, size_scale.sort_order
),

per_category as (
    select
        person_id,
        category,
        {{ arg_max('size', struct_of([('v', 'votes'), ('r', 'sort_order')])) }} as recommended_size,
        max(votes) as winning_votes,
        sum(votes) as total_votes,
        count(*) as voted_sizes
    from per_size
    group by person_id, category
),

-- how often a vote points at the size its person and category settle on, learnt from the
-- people with the most evidence (>= 4 votes in a category), smoothed towards 0.7 with 20
-- pseudo-votes (so a small shop or a test fixture gets 0.7)
vote_accuracy as (
    select
        least(
            greatest(
                (coalesce(sum(per_size.votes) filter (
                    where per_size.size = per_category.recommended_size
                ), 0) + 20 * 0.7)
                / (coalesce(sum(per_size.votes), 0) + 20),
                0.5
            ),
            0.99
        ) as q
    from per_size
    inner join per_category
        on
            per_size.person_id = per_category.person_id
            and per_size.category = per_category.category
    where per_category.total_votes >= 4
),

category_sizes as (
    select
        category,
        count(*) as sizes
    from size_scale
    group by category
),

-- log r per category, r = q (K - 1) / (1 - q): how much more likely a vote is for the true size
-- than for one given other size (K: the category's sizes)
odds as (
    select
        category_sizes.category,
        category_sizes.sizes,
        ln(
            vote_accuracy.q * (greatest(category_sizes.sizes, 2) - 1) / (1 - vote_accuracy.q)
        ) as log_r
    from category_sizes
    cross join vote_accuracy
),

-- the posterior of the recommended size, with a uniform prior over the category's sizes and
-- each vote pointing at the true size with probability q, at any other with (1 - q)/(K - 1):
-- P(s) = r^votes(s) / (sum over voted sizes of r^votes + sizes without a vote), computed
-- relative to the winner so that it never overflows
posterior as (
    select
        per_category.person_id,
        per_category.category,
        1.0 / (
            sum(exp((per_size.votes - per_category.winning_votes) * odds.log_r))
            + (greatest(odds.sizes, per_category.voted_sizes) - per_category.voted_sizes)
            * exp(-per_category.winning_votes * odds.log_r)
        ) as confidence
    from per_category
    inner join per_size
        on
            per_category.person_id = per_size.person_id
            and per_category.category = per_size.category
    inner join odds on per_category.category = odds.category
    group by
        per_category.person_id,
        per_category.category,
        per_category.winning_votes,
        per_category.voted_sizes,
        odds.sizes,
        odds.log_r
),

evidence as (
    select
        person_id,
        category,
        sum(votes) filter (where evidence = 'kept') as kept_units,
        sum(votes) filter (where evidence like 'returned_%') as corrected_units,
        sum(votes) filter (where evidence = 'returned_too_small') as returned_too_small,
        sum(votes) filter (where evidence = 'returned_too_large') as returned_too_large,
        bool_or(evidence = 'measurement') as has_measurement
    from votes
    group by person_id, category
),

final as (
    select
        per_category.person_id,
        per_category.category,
        per_category.recommended_size,
        {{ round_half_up('posterior.confidence', 2) }} as confidence,
        coalesce(evidence.kept_units, 0)::bigint as kept_units,
        coalesce(evidence.corrected_units, 0)::bigint as corrected_units,
        coalesce(evidence.returned_too_small, 0)::bigint as returned_too_small,
        coalesce(evidence.returned_too_large, 0)::bigint as returned_too_large,
        coalesce(evidence.has_measurement, false) as has_measurement
    from per_category
    inner join evidence
        on
            per_category.person_id = evidence.person_id
            and per_category.category = evidence.category
    inner join posterior
        on
            per_category.person_id = posterior.person_id
            and per_category.category = posterior.category
)

select * from final
