{% macro rr_append(name, columns, write_key, rows) -%}
    {#- The one way rows are appended to the run history: an INSERT of `rows` (a SELECT or VALUES
        giving `columns` in order) into the qa model `name`, each row stamped with the append's
        rr_write_id (this invocation's id + `write_key`, unique per table and invocation).

        Spark: concurrent INSERT INTOs of one Parquet table share its _temporary folder, and the
        first to commit deletes the others' files (measured: 8 parallel appends of 3 rows kept
        18 to 21 of 24 rows, some with an error, some silently). Each append is therefore a
        dynamic partition overwrite of the partition rr_write_id, which no other append writes,
        staged in a folder of its own: parallel Airflow tasks and dbt threads append safely; and
        written as one file (hint COALESCE(1)): a union of 245 one-row selects made 245 Parquet
        files, and every later read of the history paid for each of them. -#}
    {{- return(adapter.dispatch('rr_append')(rr_history_relation(name), columns, invocation_id ~ '.' ~ write_key, rows)) -}}
{%- endmacro %}

{% macro default__rr_append(table, columns, write_id, rows) -%}
    insert into {{ table }} ({{ columns | join(', ') }}, rr_write_id)
    select rr_rows.*, {{ rr_sql_text(write_id) }}
    from (
    {{ rows }}
    ) as rr_rows
{%- endmacro %}

{% macro spark__rr_append(table, columns, write_id, rows) -%}
    insert overwrite table {{ table }} partition (rr_write_id) ({{ columns | join(', ') }}, rr_write_id)
    select /*+ COALESCE(1) */ rr_rows.*, {{ rr_sql_text(write_id) }}
    from (
    {{ rows }}
    ) as rr_rows
{%- endmacro %}
