-- What a made-to-order designer needs to know about one consenting customer, in one row and
-- one sentence. Built on customer_needs (so it holds only customers with profiling consent);
-- customers with no purchase, signal, size or unmet search have nothing to brief: left out.
-- Published with customer_id replaced by the keyed pseudonymous customer_key.
with needs as (
    select * from {{ ref('customer_needs') }}
    where
        lifecycle_stage <> 'prospect' or category_affinity is not null or top_options is not null
        or sizes_by_category is not null or unmet_queries is not null
),

parsed as (
    select
        *,
        json_keys(coalesce(sizes_by_category, '{}')) as size_categories,
        coalesce(json_keys(colour_affinity), []) as top_colours,
        coalesce(json_keys(material_affinity), []) as top_materials,
        coalesce(stated_fit, json_keys(fit_affinity)[1]) as preferred_fit,
        coalesce(from_json(top_options, '["VARCHAR"]'), []) as option_list,
        coalesce(from_json(unmet_queries, '["VARCHAR"]'), []) as query_list
    from needs
),

final as (
    select
        customer_id,
        lifecycle_stage,
        sizes_by_category,
        size_confidence_by_category,
        preferred_fit,
        to_json(top_colours)::varchar as top_colours,
        to_json(top_materials)::varchar as top_materials,
        top_options,
        price_band,
        discount_sensitivity,
        made_to_order_band,
        unmet_queries,
        concat_ws(
            '; ',
            case when len(size_categories) > 0 then 'sizes ' || array_to_string(
                list_transform(
                    size_categories, lambda c: c || ' ' || (sizes_by_category ->> c)
                    || ' (' || (size_confidence_by_category ->> c) || ')'
                ), ', '
            ) end,
            case when preferred_fit is not null then preferred_fit || ' fit' end,
            case
                when len(top_colours) > 0 then 'colours ' || array_to_string(top_colours, ', ')
            end,
            case
                when len(top_materials) > 0
                    then 'materials ' || array_to_string(top_materials, ', ')
            end,
            case
                when len(option_list) > 0 then 'options ' || array_to_string(option_list, ', ')
            end,
            case
                when price_band is not null
                    then price_band || ' price, ' || discount_sensitivity || ' discount sensitivity'
            end,
            case
                when len(query_list) > 0
                    then 'looked for ' || array_to_string(query_list, ', ') || ' (not found)'
            end
        ) as brief
    from parsed
)

select * from final
