-- The size scale of every category: which sizes exist and in which order (one row per category
-- and size). A size comes from
--   * the catalogue (declared): each product's size_range and in-stock sizes. A range 'A-B'
--     declares every size of the scale from A to B (for numbers: A, B and every size between
--     them that was sold or viewed); 'A|B' or 'A,B' declares each; anything else one size;
--   * orders and web events (observed): a size sold or viewed that the catalogue never declared
--     is kept, and reported (reports.vocabulary_report, kind undeclared_size);
--   * seeds/size_chart.csv (charted), so measurements can vote.
-- Order: a size listed in seeds/size_order.csv ranks in its scale (alpha XXS..5XL, length
-- PETITE..TALL, one ONE SIZE); a size that is a number ranks by its value (scale 'numeric'); any
-- other size has no known order (scale null: it sorts last, fit corrections skip it, and it is
-- reported as unknown_size_order). scale_rank counts the category's sizes of one scale (1 = the
-- smallest); sort_order orders all of a category's sizes (scales alphabetically, then rank).
with products as (
    select * from {{ ref('stg_catalogue__products') }}
),

order_lines as (
    select * from {{ ref('stg_erp__order_lines') }}
),

events as (
    select * from {{ ref('int_web__events') }}
),

size_order as (
    select * from {{ ref('size_order') }}
),

size_chart as (
    select * from {{ ref('size_chart') }}
),

observed as (
    select
        seen.category,
        seen.size,
        count(*) as occurrences
    from (
        select
            order_lines.category,
            order_lines.size
        from order_lines
        where order_lines.size is not null and order_lines.category is not null
        union all
        select
            products.category,
            events.size
        from events
        inner join products on events.sku = products.sku
        where events.size is not null and products.category is not null
    ) as seen
    group by seen.category, seen.size
),

range_tokens as (
    select
        products.category,
        trim(token.part) as token
    from products, {{ unnested(split_regex('products.size_range', "'[|,;]'"), 'token', 'part') }}
    where products.category is not null and trim(token.part) <> ''
),

{% set range_end = "regexp_extract(range_tokens.token, '^(.+?) *- *(.+)$', {})" %}
range_parts as (
    select
        range_tokens.category,
        {{ normalise_size('range_tokens.token') }} as whole,
        {{ normalise_size(range_end.format(1)) }} as range_from,
        {{ normalise_size(range_end.format(2)) }} as range_to
    from range_tokens
),

ranked_parts as (
    select
        range_parts.*,
        whole_order.size is not null or try_cast(range_parts.whole as double) is not null
            as whole_is_known,
        from_order.scale as from_scale,
        from_order.size_rank as from_rank,
        to_order.size_rank as to_rank,
        try_cast(range_parts.range_from as double) as from_number,
        try_cast(range_parts.range_to as double) as to_number
    from range_parts
    left join size_order as whole_order on range_parts.whole = whole_order.size
    left join size_order as from_order on range_parts.range_from = from_order.size
    left join size_order as to_order
        on range_parts.range_to = to_order.size and from_order.scale = to_order.scale
),

declared as (
    -- a single size (also a known size such as 'X-LARGE' that only looks like a range)
    select
        ranked_parts.category,
        ranked_parts.whole as size
    from ranked_parts
    where
        ranked_parts.whole_is_known
        or (
            ranked_parts.to_rank is null
            and (ranked_parts.from_number is null or ranked_parts.to_number is null)
        )

    union

    -- a range within a scale of seeds/size_order.csv
    select
        ranked_parts.category,
        size_order.size
    from ranked_parts
    inner join size_order
        on
            ranked_parts.from_scale = size_order.scale
            and size_order.size_rank between ranked_parts.from_rank and ranked_parts.to_rank
    where not ranked_parts.whole_is_known and ranked_parts.to_rank is not null

    union

    -- a numeric range: its ends and every size between them that was sold or viewed
    select
        ranked_parts.category,
        {{ unnest_list(list_of(['ranked_parts.range_from', 'ranked_parts.range_to'])) }} as size
    from ranked_parts
    where
        not ranked_parts.whole_is_known
        and ranked_parts.from_number is not null and ranked_parts.to_number is not null

    union

    select
        ranked_parts.category,
        observed.size
    from ranked_parts
    inner join observed
        on
            ranked_parts.category = observed.category
            and try_cast(observed.size as double)
            between ranked_parts.from_number and ranked_parts.to_number
    where not ranked_parts.whole_is_known

    union

    select
        products.category,
        {{ unnest_list('products.in_stock_sizes') }} as size
    from products
    where products.category is not null
),

charted as (
    select distinct
        size_chart.category,
        size_chart.size
    from size_chart
),

sizes as (
    select
        all_sizes.category,
        all_sizes.size,
        bool_or(all_sizes.origin = 'declared') as is_declared,
        bool_or(all_sizes.origin = 'charted') as is_charted,
        coalesce(sum(all_sizes.occurrences), 0) as occurrences
    from (
        select
            declared.category,
            declared.size,
            'declared' as origin,
            null::bigint as occurrences
        from declared
        where declared.size is not null
        union all
        select
            observed.category,
            observed.size,
            'observed' as origin,
            observed.occurrences
        from observed
        union all
        select
            charted.category,
            charted.size,
            'charted' as origin,
            null::bigint as occurrences
        from charted
    ) as all_sizes
    group by all_sizes.category, all_sizes.size
),

ordered as (
    select
        sizes.*,
        coalesce(
            size_order.scale,
            case when try_cast(sizes.size as double) is not null then 'numeric' end
        ) as scale,
        coalesce(size_order.size_rank::double, try_cast(sizes.size as double)) as rank_value
    from sizes
    left join size_order on sizes.size = size_order.size
),

final as (
    select
        ordered.category,
        ordered.size,
        ordered.scale,
        case
            when ordered.scale is not null
                then dense_rank() over (
                    partition by ordered.category, ordered.scale order by ordered.rank_value
                )
        end::integer as scale_rank,
        row_number() over (
            partition by ordered.category
            order by ordered.scale nulls last, ordered.rank_value, ordered.size
        )::integer as sort_order,
        ordered.is_declared,
        ordered.occurrences::bigint as occurrences,
        ordered.category in (select charted.category from charted) as has_size_chart
    from ordered
)

select * from final
