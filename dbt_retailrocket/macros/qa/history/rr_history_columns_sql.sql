{% macro rr_history_columns_sql() -%}
    {#- A history model's SQL: no row, one typed column per column of its contract, so that dbt
        docs and `dbt show` see its columns. The rows come from the run hooks. -#}
    {%- if not execute or not model.columns -%}
select 1 as no_column where 1 = 0
    {%- else -%}
select
        {%- for column in model.columns.values() %}
    cast(null as {{ rr_history_type(column.data_type) }}) as {{ column.name }}{{ ',' if not loop.last }}
        {%- endfor %}
where 1 = 0
    {%- endif -%}
{%- endmacro %}
