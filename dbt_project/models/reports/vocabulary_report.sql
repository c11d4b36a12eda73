-- Every value the vocabularies do not know, so whoever maps a new source sees what to add
-- (not published to designers; the gate turns each kind into a warning, and
-- `upstream check-landing` prints it). One row per kind, category and value:
--   unknown_size_order       a size that seeds/size_order.csv does not rank and is not a number
--   undeclared_size          a size sold or viewed that the catalogue never declared
--   category_without_size_chart  a category without rows in seeds/size_chart.csv (no
--                            measurement votes)
--   unmapped_return_reason   a return reason no code or synonym maps (kept as 'other')
--   unknown_country          a country that seeds/countries.csv does not know (CRM, shipping)
--   unknown_currency         a currency missing from seeds/fx_rates.csv (its rows are quarantined)
-- Values are free text from the sources: direct identifiers in them are redacted.
{% set quarantined_currency = redact_personal_data(
    "upper(trim(" ~ json_text('quarantine.raw_text', 'currency') ~ "))") %}
with size_scale as (
    select * from {{ ref('int_catalogue__size_scale') }}
),

returns as (
    select * from {{ ref('stg_erp__returns') }}
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

orders as (
    select * from {{ ref('stg_erp__orders') }}
),

quarantine as (
    select * from {{ source('ingest', '_quarantine') }}
),

findings as (
    select
        'unknown_size_order' as kind,
        size_scale.category,
        size_scale.size as value,
        size_scale.occurrences,
        'add the size to dbt_project/seeds/size_order.csv' as action
    from size_scale
    where size_scale.scale is null

    union all

    select
        'undeclared_size' as kind,
        size_scale.category,
        size_scale.size as value,
        size_scale.occurrences,
        'declare it in the catalogue (size_range or in_stock_sizes), or map it in '
        || 'dbt_project/seeds/value_synonyms.csv' as action
    from size_scale
    where not size_scale.is_declared and size_scale.occurrences > 0

    union all

    select distinct
        'category_without_size_chart' as kind,
        size_scale.category,
        size_scale.category as value,
        null::bigint as occurrences,
        'add its measurements to dbt_project/seeds/size_chart.csv' as action
    from size_scale
    where not size_scale.has_size_chart

    union all

    select
        'unmapped_return_reason' as kind,
        null as category,
        {{ redact_personal_data('returns.reason_raw') }} as value,
        count(*) as occurrences,
        'map it in dbt_project/seeds/value_synonyms.csv (kind return_reason)' as action
    from returns
    where returns.reason_code = 'other' and returns.reason_raw is not null
    group by {{ redact_personal_data('returns.reason_raw') }}

    union all

    select
        'unknown_country' as kind,
        null as category,
        {{ redact_personal_data('unknown.raw') }} as value,
        count(*) as occurrences,
        'add the name to scripts/build_countries_seed.py (EXTRA) and rebuild the seed' as action
    from (
        select customers.country_raw as raw
        from customers
        where customers.country_code is null and customers.country_raw is not null
        union all
        select orders.shipping_country_raw as raw
        from orders
        where orders.shipping_country_code is null and orders.shipping_country_raw is not null
    ) as unknown
    group by {{ redact_personal_data('unknown.raw') }}

    union all

    select
        'unknown_currency' as kind,
        null as category,
        {{ quarantined_currency }}
            as value,
        count(*) as occurrences,
        'add it with its rate to dbt_project/seeds/fx_rates.csv, then re-deliver the file'
            as action
    from quarantine
    where quarantine.reason = 'unknown_currency'
    group by {{ quarantined_currency }}
),

final as (
    select
        findings.kind,
        findings.category,
        findings.value,
        findings.occurrences::bigint as occurrences,
        findings.action
    from findings
)

select * from final
