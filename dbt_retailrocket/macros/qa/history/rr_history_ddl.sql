{% macro rr_history_ddl(node) -%}
    {#- CREATE TABLE IF NOT EXISTS of a history table from its contract. Spark: Parquet (a Hive
        text table would split a message with a line break), partitioned by rr_write_id, which
        each append overwrites alone (rr_append). -#}
    create table if not exists {{ rr_history_relation(node.name) }} (
    {%- for column in node.columns.values() %}
        {{ column.name }} {{ rr_history_type(column.data_type) }}
        {%- if column.constraints | selectattr('type', 'equalto', 'not_null') | list %} not null{% endif %}
        {{- ',' if not loop.last }}
    {%- endfor %}
    ){{ adapter.dispatch('rr_history_table_options')() }}
{%- endmacro %}

{% macro default__rr_history_table_options() -%}{%- endmacro %}

{% macro spark__rr_history_table_options() %}
    using parquet
    options (partitionOverwriteMode 'dynamic')
    partitioned by (rr_write_id)
{%- endmacro %}
