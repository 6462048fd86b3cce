{#-
    Row fingerprints (docs block rr_certification): a published row carries the md5 of its values
    (`row_fingerprint`), a date's rows the md5 of their fingerprints in sorted order (null: no
    row). The build records the second (rr_record_row_fingerprints); the export recomputes it from
    the fingerprints of the rows it reads and refuses a date whose rows changed since they were
    checked. One definition here; the values' text is the warehouse's own rendering of the row
    (fingerprints compare within one warehouse).
-#}

{% macro rr_row_fingerprint(alias) -%}
    {{- return(adapter.dispatch('rr_row_fingerprint')(alias)) -}}
{%- endmacro %}

{% macro default__rr_row_fingerprint(alias) -%}md5(cast({{ alias }} as {{ dbt.type_string() }})){%- endmacro %}

{% macro spark__rr_row_fingerprint(alias) -%}md5(to_json(struct({{ alias }}.*))){%- endmacro %}


{% macro rr_sorted_md5(expression) -%}
    {#- Aggregate: md5 of the values of `expression` (md5 hex digests) concatenated in ascending
        order of their bytes (Python: md5(''.join(sorted(values)))). -#}
    {{- return(adapter.dispatch('rr_sorted_md5')(expression)) -}}
{%- endmacro %}

{% macro default__rr_sorted_md5(expression) -%}md5(string_agg({{ expression }}, '' order by {{ expression }})){%- endmacro %}

{% macro postgres__rr_sorted_md5(expression) -%}md5(string_agg({{ expression }}, '' order by {{ expression }} collate "C")){%- endmacro %}

{% macro spark__rr_sorted_md5(expression) -%}md5(array_join(array_sort(collect_list({{ expression }})), '')){%- endmacro %}


{% macro rr_row_fingerprints_sql(relation, date_column, window) -%}
    {#- Per date of the raw events now loaded within `window` ({start, end}: rr_window): kpi_date,
        row_count and rows_md5 (null for no row) of `relation`'s rows of the date. Every such
        date gets a row, so a date whose rows were all deleted later is seen too. -#}
    select
        spine.kpi_date,
        count(fingerprinted.row_fingerprint) as row_count,
        case when count(fingerprinted.row_fingerprint) > 0 then {{ rr_sorted_md5('fingerprinted.row_fingerprint') }} end as rows_md5
    from ({{ rr_events_spine_sql() }}) as spine
    left join (
        select rows_of_date.{{ date_column }} as kpi_date, {{ rr_row_fingerprint('rows_of_date') }} as row_fingerprint
        from {{ relation }} as rows_of_date
        where {{ rr_date_filter_for(date_column, window) }}
    ) as fingerprinted
        on fingerprinted.kpi_date = spine.kpi_date
    where {{ rr_date_filter_for('spine.kpi_date', window) }}
    group by spine.kpi_date
{%- endmacro %}
