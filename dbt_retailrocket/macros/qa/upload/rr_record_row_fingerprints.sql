{% macro rr_record_row_fingerprints() -%}
    {#- Post-hook of the kpi_build tables, in the build's transaction (after it on Spark): for each
        date of the raw events the build replaced, the count and fingerprint of the rows it left
        (rr_row_fingerprints_sql; an empty date too), so that a row changed afterwards, by
        anything but a build, is seen by the export. -#}
    {%- set date_column = config.get('rr_date_column') -%}
    {%- if not execute or not date_column or config.get('materialized') != 'incremental' -%}{{ return('') }}{%- endif -%}
    {%- set rows -%}
    select
        {{ rr_sql_text(invocation_id) }}, {{ rr_sql_text(model.unique_id) }}, {{ rr_sql_text(model.name) }},
        fingerprints.kpi_date, fingerprints.row_count, fingerprints.rows_md5, {{ rr_sql_timestamp(rr_utc_now()) }}
    from (
        {{ rr_row_fingerprints_sql(this, date_column, rr_window(is_incremental())) }}
    ) as fingerprints
    {%- endset -%}
    {{- return(rr_append('rr_row_fingerprints', [
        'invocation_id', 'unique_id', 'model', 'kpi_date', 'row_count', 'rows_md5', 'recorded_at'],
        'rows.' ~ model.unique_id, rows)) -}}
{%- endmacro %}
