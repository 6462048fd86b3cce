{#-
    Publication (write-audit-publish): the rows of a KPI table whose date is certified now, each
    with its `row_fingerprint` (rr_row_fingerprint), which the export checks against the
    fingerprint recorded when the rows were built and checked. The one rule behind every view of
    schema kpi (models/kpi/published); the model passes both relations in, so dbt docs show the
    lineage.
-#}
{% macro rr_published_rows(build_relation, certification_relation, date_column='kpi_date') -%}
with

built as (

    select * from {{ build_relation }}

),

certified_dates as (

    select kpi_date from {{ certification_relation }}
    where is_certified

),

final as (

    select
        built.*,
        {{ rr_row_fingerprint('built') }} as row_fingerprint
    from built
    where built.{{ date_column }} in (select certified_dates.kpi_date from certified_dates)

)

select * from final
{%- endmacro %}
