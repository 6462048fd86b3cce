{#-
    Data tests restricted to the run window.

    A test's `where` config may contain the placeholders `__rr_window__(<date column>)` and
    `__rr_known_by__(<epoch ms column>)`; they are replaced at run time by the window predicate
    of the current run (see `rr_window`), so a daily run checks the dates it rebuilt and a run
    without target_date checks everything. Rows whose date is null are in every window (a
    not_null test on the date column itself must see them).
    Replacing at run time (not parse time) keeps one parsed manifest valid for every date,
    which is what Cosmos' manifest load mode relies on.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set where = rr_expand_window_placeholders(where) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{- return(filtered) -}}
    {%- else -%}
        {{- return(relation) -}}
    {%- endif -%}
{%- endmacro %}


{% macro rr_expand_window_placeholders(text) -%}
    {#- __rr_window__(date_column): the run window on an Asia/Seoul date column;
        __rr_known_by__(epoch_ms_column): raw rows known by the end of the run's date. -#}
    {%- set ns = namespace(out=text) -%}
    {%- for kind, column in modules.re.findall('__rr_(window|known_by)__\\(\\s*("?[A-Za-z_][A-Za-z0-9_]*"?)\\s*\\)', text) -%}
        {%- set placeholder = modules.re.compile('__rr_' ~ kind ~ '__\\(\\s*' ~ modules.re.escape(column) ~ '\\s*\\)') -%}
        {#- "name" is a quoted identifier: quoted the adapter's way ("..." on DuckDB and PostgreSQL,
            `...` on Spark, where "..." is a string) -#}
        {%- set column = adapter.quote(column[1:-1]) if column.startswith('"') else column -%}
        {%- if kind == 'window' -%}
            {#- a row without a date belongs to no window: every run checks it -#}
            {%- set predicate = column ~ ' is null or ' ~ (rr_date_filter(column, true) | trim) -%}
        {%- else -%}
            {%- set predicate = rr_epoch_ms_filter(column, false) | trim -%}
        {%- endif -%}
        {%- set ns.out = placeholder.sub('(' ~ predicate ~ ')', ns.out) -%}
    {%- endfor -%}
    {%- if '__rr_' in ns.out -%}
        {{ exceptions.raise_compiler_error("malformed __rr_window__(<date column>) or __rr_known_by__(<epoch ms column>) placeholder in a test's where config: " ~ text) }}
    {%- endif -%}
    {{- return(ns.out) -}}
{%- endmacro %}
