{#-
    Incremental strategy `rr_replace_dates`: replace whole date partitions.

    Deletes every row of the target whose date column (model config `rr_date_column`) lies in
    the run window, then inserts the freshly built rows. Unlike delete+insert on a unique key,
    a date that no longer has rows (a day that vanished from the raw data) is emptied too, so
    re-running a date always leaves exactly what a full build would. Both statements run in
    the model's transaction.
-#}
{% macro get_incremental_rr_replace_dates_sql(arg_dict) -%}
    {%- set date_column = config.get('rr_date_column') -%}
    {%- if not date_column -%}
        {{ exceptions.raise_compiler_error("incremental_strategy 'rr_replace_dates' needs the model config rr_date_column") }}
    {%- endif -%}
    {%- set target_relation = arg_dict['target_relation'] -%}
    {%- set temp_relation = arg_dict['temp_relation'] -%}
    {%- set dest_columns = arg_dict['dest_columns'] -%}
    {%- set columns_csv = get_quoted_csv(dest_columns | map(attribute='name')) -%}

    delete from {{ target_relation }}
    where {{ rr_date_filter(date_column, true) }};

    insert into {{ target_relation }} ({{ columns_csv }})
    select {{ columns_csv }}
    from {{ temp_relation }};
{%- endmacro %}


{% macro rr_postgres_indexes(column_lists) -%}
    {#- `indexes` config for PostgreSQL only: b-tree indexes on the date partition column (the
        incremental delete and every windowed read and test) and on lookup keys, so that a
        daily run touches a day's rows, not the history. DuckDB needs none: its zone maps prune
        the date-ordered inserts. -#}
    {%- if target.type == 'postgres' -%}
        {%- set indexes = [] -%}
        {%- for columns in column_lists -%}
            {%- do indexes.append({'columns': columns}) -%}
        {%- endfor -%}
        {{- return(indexes) -}}
    {%- endif -%}
    {{- return([]) -}}
{%- endmacro %}
