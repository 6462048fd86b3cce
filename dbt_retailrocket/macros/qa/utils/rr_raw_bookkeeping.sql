{#- The raw loads' bookkeeping (seeds_loader/fingerprints.py): which load the data is, and
    whether a load is under way. -#}

{% macro rr_raw_bookkeeping_exists() -%}
    {%- set raw = rr_relation_types('raw') -%}
    {{- return('raw_rr_loads' in raw and 'raw_rr_date_fingerprints' in raw) -}}
{%- endmacro %}


{% macro rr_raw_load_unfinished() -%}
    {#- raw.raw_rr_load_unfinished exists only while a raw load replaces tables and has not recorded
        itself (seeds_loader/fingerprints.py, UNFINISHED_TABLE): on Spark, which has no transactions,
        a load killed in between leaves the raw tables matching no recorded load. -#}
    {{- return(rr_relation_type('raw', 'raw_rr_load_unfinished') is not none) -}}
{%- endmacro %}


{% macro rr_current_raw_load_id_sql() -%}
    {#- null while a raw load is unfinished: an invocation that ends then certifies nothing -#}
    {%- if rr_raw_bookkeeping_exists() and not rr_raw_load_unfinished() -%}
        (select max(load_id) from raw.raw_rr_loads)
    {%- else -%}
        cast(null as bigint)
    {%- endif -%}
{%- endmacro %}
