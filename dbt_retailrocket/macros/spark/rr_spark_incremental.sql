{#-
    The incremental contracts on Apache Spark (dbt-spark, Parquet tables: no DELETE, no MERGE).

    rr_replace_dates  Spark partitions such a model by its rr_date_column (spark__partition_cols
                      below), and a run replaces the window's partitions: it drops every date
                      partition of the window (a date with no rows any more is emptied too, as
                      on the other warehouses), then writes the new rows with a dynamic
                      partition overwrite. The daily cost is the window's, not the history's.
    delete+insert     (by unique_key, the item and visitor histories) a new table is written
                      with the rows of the keys the run did not rebuild plus the rebuilt rows,
                      then takes the model's name. The new rows are computed in full before the
                      old table is touched (they may read it: stg_rr_item_state_history does).

    Neither is atomic on Parquet: a run killed in between leaves the model half replaced. The
    model's build is therefore stamped BEFORE it starts on Spark (rr_stamp_model_build): the
    certification then sees a build newer than every test of its dates, and refuses them until
    a run rebuilds and re-checks them.

    dbt-spark accepts four strategies; these two macros override its validation and its SQL
    dispatch (root-project macros take precedence over the adapter's). The branches for
    dbt-spark's own strategies are dbt-spark 1.11's, unchanged.
-#}

{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) %}
    {%- if raw_strategy in ('rr_replace_dates', 'delete+insert') -%}
        {%- if file_format not in ('parquet', 'orc', 'delta', 'iceberg', 'hudi') -%}
            {% do exceptions.raise_compiler_error("incremental strategy " ~ raw_strategy ~ " needs a table format (parquet, orc, delta, iceberg, hudi); got " ~ file_format) %}
        {%- endif -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {%- if raw_strategy not in ['append', 'merge', 'insert_overwrite', 'microbatch'] -%}
        {% do exceptions.raise_compiler_error("Invalid incremental strategy provided: " ~ raw_strategy ~ "\n    Expected one of: 'append', 'merge', 'insert_overwrite', 'microbatch', 'rr_replace_dates', 'delete+insert'") %}
    {%- endif -%}
    {%- if raw_strategy == 'merge' and file_format not in ['delta', 'iceberg', 'hudi'] -%}
        {% do exceptions.raise_compiler_error("Invalid incremental strategy provided: merge\n    You can only choose this strategy when file_format is set to 'delta' or 'iceberg' or 'hudi'") %}
    {%- endif -%}
    {%- if raw_strategy in ['insert_overwrite', 'microbatch'] and target.endpoint -%}
        {% do exceptions.raise_compiler_error("Invalid incremental strategy provided: " ~ raw_strategy ~ "\n    You cannot use this strategy when connecting via endpoint") %}
    {%- endif -%}
    {{ return(raw_strategy) }}
{% endmacro %}


{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) %}
    {%- if strategy == 'rr_replace_dates' -%}
        {{ rr_spark_replace_dates_sql(source, target) }}
    {%- elif strategy == 'delete+insert' -%}
        {{ rr_spark_replace_keys_sql(source, existing, unique_key) }}
    {%- elif strategy == 'append' -%}
        {{ get_insert_into_sql(source, target) }}
    {%- elif strategy in ('insert_overwrite', 'microbatch') -%}
        {%- if strategy == 'microbatch' and not config.get('partition_by') -%}
            {{ exceptions.raise_compiler_error("dbt-spark 'microbatch' incremental strategy requires a `partition_by` config.") }}
        {%- endif -%}
        {{ get_insert_overwrite_sql(source, target, existing) }}
    {%- elif strategy == 'merge' -%}
        {{ get_merge_sql(target, source, unique_key, dest_columns=none, incremental_predicates=incremental_predicates) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("No known SQL for the incremental strategy provided: " ~ strategy) }}
    {%- endif -%}
{% endmacro %}


{% macro spark__partition_cols(label, required=false) %}
    {#- dbt-spark's, with the model's rr_date_column as the partition column when partition_by
        is not set: every rr_replace_dates model is partitioned by the date it replaces. -#}
    {%- set cols = config.get('partition_by', validator=validation.any[list, basestring]) -%}
    {%- if cols is none and config.get('incremental_strategy') == 'rr_replace_dates' -%}
        {%- set cols = config.get('rr_date_column') -%}
    {%- endif -%}
    {%- if cols is not none %}
        {%- if cols is string -%}{%- set cols = [cols] -%}{%- endif -%}
        {{ label }} ({{ cols | join(', ') }})
    {%- endif %}
{%- endmacro %}


{% macro rr_spark_replace_dates_sql(source, target) -%}
    {#- Drops the window's date partitions (run here), returns the dynamic partition overwrite. -#}
    {%- set date_column = config.get('rr_date_column') -%}
    {%- if not date_column -%}
        {{ exceptions.raise_compiler_error("incremental_strategy 'rr_replace_dates' needs the model config rr_date_column") }}
    {%- endif -%}
    {%- set w = rr_window(true) -%}
    {%- if w.start is none or w.end is none -%}
        {%- do run_query('truncate table ' ~ target) -%}
    {%- else -%}
        {%- set specs = [] -%}
        {%- for offset in range((w.end - w.start).days + 1) -%}
            {%- do specs.append("partition (" ~ date_column ~ " = '" ~ (w.start + modules.datetime.timedelta(days=offset)).isoformat() ~ "')") -%}
        {%- endfor -%}
        {%- do run_query('alter table ' ~ target ~ ' drop if exists ' ~ specs | join(', ')) -%}
    {%- endif -%}
    {%- do run_query('set spark.sql.sources.partitionOverwriteMode = DYNAMIC') -%}
    {%- set dest_columns = adapter.get_columns_in_relation(target) -%}
    insert overwrite table {{ target }} partition ({{ date_column }})
    select {{ dest_columns | map(attribute='quoted') | join(', ') }} from {{ source }}
{%- endmacro %}


{% macro rr_spark_replace_keys_sql(source, target, unique_key) -%}
    {#- target: the existing relation (its type known, for the drop) -#}
    {#- Writes <target>__rr_next (kept rows + rebuilt rows), swaps it in; returns a no-op. -#}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set next = target.incorporate(path={'identifier': target.identifier ~ '__rr_next'}, type='table') -%}
    {%- set dest_columns = adapter.get_columns_in_relation(target) -%}
    {%- set columns_csv = dest_columns | map(attribute='quoted') | join(', ') -%}
    {%- do run_query('drop table if exists ' ~ next) -%}
    {#- dbt's relation cache learns of the drop and the rename through the adapter calls -#}
    {%- set create_next -%}
        create table {{ next }} using {{ config.get('file_format', 'parquet') }} as
        select {{ columns_csv }} from {{ target }} as kept
        where not exists (
            select 1 from {{ source }} as rebuilt
            where {% for key in keys %}rebuilt.{{ key }} = kept.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
        )
        union all
        select {{ columns_csv }} from {{ source }}
    {%- endset -%}
    {%- do run_query(create_next) -%}
    {%- do adapter.drop_relation(target) -%}
    {%- do adapter.rename_relation(next, target) -%}
    select 1 as rr_keys_replaced
{%- endmacro %}
