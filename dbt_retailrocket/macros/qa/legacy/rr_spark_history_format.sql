{% macro rr_history_is_partitioned(name) -%}
    {#- Spark: does qa.<name> have the partition each append writes (rr_history_ddl)? -#}
    {%- set described = run_query('describe table qa.' ~ name) -%}
    {{- return(described.rows | selectattr(0, 'equalto', 'rr_write_id') | list | length > 0) -}}
{%- endmacro %}


{% macro default__rr_check_history_format() -%}{%- endmacro %}

{% macro spark__rr_check_history_format() -%}
    {#- A run history written before appends became partitions (one plain Parquet table each)
        would take no partitioned append: refused, naming the one-off migration. -#}
    {%- if rr_relation_type('qa', 'rr_invocations') == 'BASE TABLE' and not rr_history_is_partitioned('rr_invocations') -%}
        {%- do exceptions.raise_compiler_error(
            'the run history in schema qa was written by an earlier version of this project (its '
            ~ 'tables are not partitioned by rr_write_id, which parallel writers need on Spark): '
            ~ 'run `make spark-migrate-history` once (dbt run-operation rr_partition_spark_history), '
            ~ 'with no dbt run and no DAG run going on; it keeps every row') -%}
    {%- endif -%}
{%- endmacro %}


{% macro rr_partition_spark_history() -%}
    {#- One-off operation: the run history of an earlier version (plain Parquet tables) copied into
        tables partitioned by rr_write_id; the old rows keep rr_write_id 'before-partitioning'.
        Each old table is renamed first, then copied, then dropped: run again after a failure,
        it finishes the copy (the partition is overwritten, never doubled). -#}
    {%- if target.type != 'spark' -%}
        {{ log('the run history is partitioned only on Spark: nothing to do on ' ~ target.type, info=True) }}
        {{ return('') }}
    {%- endif -%}
    {%- set moved = [] -%}
    {%- for node in rr_history_nodes() -%}
        {%- set name = node.alias or node.name -%}
        {%- if rr_relation_type('qa', name) == 'BASE TABLE' and not rr_history_is_partitioned(name) -%}
            {%- if rr_relation_type('qa', name ~ '__unpartitioned') is not none -%}
                {%- do exceptions.raise_compiler_error('qa.' ~ name ~ ' and qa.' ~ name ~ '__unpartitioned both exist and neither is partitioned: move one aside by hand') -%}
            {%- endif -%}
            {%- do run_query('alter table qa.' ~ name ~ ' rename to qa.' ~ name ~ '__unpartitioned') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for node in rr_history_nodes() -%}
        {%- set name = node.alias or node.name -%}
        {%- do run_query(rr_history_ddl(node)) -%}
        {%- if rr_relation_type('qa', name ~ '__unpartitioned') is not none -%}
            {%- set old = run_query('describe table qa.' ~ name ~ '__unpartitioned').rows | map(attribute=0) | reject('equalto', '') | list -%}
            {%- set columns = [] -%}
            {%- for column in node.columns.values() if column.name != 'rr_write_id' -%}
                {%- do columns.append(column.name if column.name in old else 'null as ' ~ column.name) -%}
            {%- endfor -%}
            {%- do run_query('insert overwrite table qa.' ~ name ~ ' partition (rr_write_id) select ' ~ (columns | join(', '))
                ~ ", 'before-partitioning' from qa." ~ name ~ '__unpartitioned') -%}
            {%- set copied = run_query('select count(*) from qa.' ~ name ~ " where rr_write_id = 'before-partitioning'").rows[0][0] -%}
            {%- do run_query('drop table qa.' ~ name ~ '__unpartitioned') -%}
            {{ log('qa.' ~ name ~ ': ' ~ copied ~ ' rows of the earlier history kept, now partitioned by rr_write_id', info=True) }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
