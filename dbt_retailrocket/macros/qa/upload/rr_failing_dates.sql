{% macro rr_failing_dates(res) -%}
    {#- A failed or warned test whose failing rows name their date (its config's meta
        rr_failing_rows_date: the column): [[date, failing rows], ...]; none for any other result. -#}
    {%- set column = (res.node.config.meta or {}).get('rr_failing_rows_date') -%}
    {%- if not column or (res.status | string) not in ('fail', 'warn') or not res.node.compiled_code -%}{{ return(none) }}{%- endif -%}
    {%- set found = run_query(
        'select cast(' ~ column ~ ' as date), count(*) from (' ~ res.node.compiled_code
        ~ ') as failing_rows group by cast(' ~ column ~ ' as date)') -%}
    {%- set dates = [] -%}
    {%- for row in found.rows -%}
        {%- if row[0] is none -%}
            {#- a failing row without a date cannot be placed: the result counts against every date -#}
            {{ return(none) }}
        {%- endif -%}
        {#- a date, or its text where the adapter's driver gives text (Spark over Thrift) -#}
        {%- set day = modules.datetime.date.fromisoformat((row[0] | string)[:10]) -%}
        {%- do dates.append([day, row[1] | int]) -%}
    {%- endfor -%}
    {{- return(dates) -}}
{%- endmacro %}
