-- What a made-to-order designer needs to know about one consenting customer, in one row and a
-- few sentences a designer would write, e.g. "Usually buys knitwear in S (fairly sure: 2 kept
-- purchases; returned 1 as too large). Prefers a regular fit. Colours grey and black; materials
-- wool. Chose collar=mandarin in the configurator. Mid price; rarely buys on discount; often
-- orders made to order. Looked for 'vegan leather jacket' without finding it."
-- Built on customer_needs (only customers with profiling consent, quasi-identifiers already
-- coarsened) and the fit evidence behind each size (int_customer_needs); counts in sentences
-- are capped at 3 ("3+"). Customers with no purchase, signal, size or unmet search are left
-- out. Published with customer_id replaced by the keyed pseudonymous customer_key.
-- Confidence words: sure (>= 0.75), fairly sure (>= 0.5), unsure (below).
{% set count = "case when {n} >= 3 then '3+' else {n}::string end" %}
{% set quoted_queries = list_map('unmet_queries', 'q', "'''' || q || ''''") %}
with needs as {{ not_materialized() }} (
    select * from {{ ref('customer_needs') }}
    where
        lifecycle_stage <> 'prospect' or category_affinity is not null or top_options is not null
        or sizes_by_category is not null or unmet_queries is not null
),

evidence as (
    select
        customer_id,
        fit_evidence
    from {{ ref('int_customer_needs') }}
),

-- one row per customer and sized category, with what the size rests on
sized as (
    select
        needs.customer_id,
        {{ unnest_list('map_entries(needs.sizes_by_category)') }} as entry
    from needs
),

entries as (
    select
        sized.customer_id,
        {{ struct_field('sized.entry', 'key') }} as category,
        {{ struct_field(struct_field('sized.entry', 'value'), 'size') }} as recommended_size,
        {{ struct_field(struct_field('sized.entry', 'value'), 'confidence') }} as confidence,
        evidence.fit_evidence[{{ struct_field('sized.entry', 'key') }}] as basis
    from sized
    left join evidence on sized.customer_id = evidence.customer_id
),

counted as (
    select
        entries.*,
        coalesce({{ struct_field('entries.basis', 'kept_units') }}, 0) as kept,
        coalesce({{ struct_field('entries.basis', 'returned_too_small') }}, 0) as too_small,
        coalesce({{ struct_field('entries.basis', 'returned_too_large') }}, 0) as too_large,
        coalesce({{ struct_field('entries.basis', 'has_measurement') }}, false) as measured
    from entries
),

size_phrases as (
    select
        counted.customer_id,
        counted.category,
        counted.category || ' in ' || counted.recommended_size || ' ('
        || case
            when counted.confidence >= 0.75 then 'sure'
            when counted.confidence >= 0.5 then 'fairly sure'
            else 'unsure'
        end
        || ': '
        || concat_ws(
            '; ',
            case
                when counted.kept > 0
                    then
                        {{ count.format(n='counted.kept') }} || ' kept purchase'
                        || case when counted.kept > 1 then 's' else '' end
            end,
            case
                when counted.too_small > 0
                    then 'returned ' || {{ count.format(n='counted.too_small') }} || ' as too small'
            end,
            case
                when counted.too_large > 0
                    then 'returned ' || {{ count.format(n='counted.too_large') }} || ' as too large'
            end,
            case when counted.measured then 'stated measurements' end
        )
        || ')' as phrase
    from counted
),

sizes as (
    select
        size_phrases.customer_id,
        {{ ordered_list('size_phrases.phrase', 'size_phrases.category') }} as phrases
    from size_phrases
    group by size_phrases.customer_id
),

parsed as (
    select
        needs.*,
        coalesce(sizes.phrases, {{ empty_text_list() }}) as size_phrases,
        coalesce(map_keys(needs.colour_affinity), {{ empty_text_list() }}) as top_colours,
        coalesce(map_keys(needs.material_affinity), {{ empty_text_list() }}) as top_materials,
        coalesce(
            needs.stated_fit, {{ list_element('map_keys(needs.fit_affinity)', 1) }}
        ) as preferred_fit
    from needs
    left join sizes on needs.customer_id = sizes.customer_id
),

final as (
    select
        customer_id,
        lifecycle_stage,
        sizes_by_category,
        preferred_fit,
        top_colours,
        top_materials,
        top_options,
        price_band,
        discount_sensitivity,
        made_to_order_band,
        unmet_queries,
        concat_ws(
            ' ',
            case
                when {{ list_length('size_phrases') }} > 0
                    then 'Usually buys ' || {{ and_list('size_phrases') }} || '.'
            end,
            case when preferred_fit is not null then 'Prefers a ' || preferred_fit || ' fit.' end,
            case
                when {{ list_length('top_colours') }} > 0 and {{ list_length('top_materials') }} > 0
                    then
                        'Colours ' || {{ and_list('top_colours') }} || '; materials '
                        || {{ and_list('top_materials') }} || '.'
                when {{ list_length('top_colours') }} > 0
                    then 'Colours ' || {{ and_list('top_colours') }} || '.'
                when {{ list_length('top_materials') }} > 0
                    then 'Materials ' || {{ and_list('top_materials') }} || '.'
            end,
            case
                when {{ list_length('top_options') }} > 0
                    then 'Chose ' || {{ and_list('top_options') }} || ' in the configurator.'
            end,
            case
                when price_band is not null
                    then
                        upper(substr(price_band, 1, 1)) || substr(price_band, 2) || ' price; '
                        || case discount_sensitivity
                            when 'high' then 'mostly buys on discount'
                            when 'medium' then 'often buys on discount'
                            else 'rarely buys on discount'
                        end
                        || case made_to_order_band
                            when 'mostly' then '; mostly orders made to order'
                            when 'often' then '; often orders made to order'
                            when 'rarely' then '; sometimes orders made to order'
                            else ''
                        end
                        || '.'
            end,
            case
                when {{ list_length('unmet_queries') }} > 0
                    then 'Looked for ' || {{ and_list(quoted_queries) }} || ' without finding it.'
            end
        ) as brief
    from parsed
)

select * from final
