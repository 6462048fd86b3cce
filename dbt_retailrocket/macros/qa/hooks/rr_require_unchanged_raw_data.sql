{% macro rr_require_unchanged_raw_data() -%}
    {#- Fails the invocation when the raw load it saw at its start is not the one it sees at its
        end: its results certify nothing (the verdict's finished invocations). -#}
    {%- if not rr_raw_bookkeeping_exists() -%}{{ return('') }}{%- endif -%}
    {%- set raw = run_query('select phase, raw_load_id from ' ~ rr_history_relation('rr_invocations')
        ~ ' where invocation_id = ' ~ rr_sql_text(invocation_id) ~ ' order by phase') -%}
    {%- set ids = {} -%}
    {%- for row in raw.rows -%}{%- do ids.update({row[0]: row[1]}) -%}{%- endfor -%}
    {%- if ids.get('start') != ids.get('end') -%}
        {{ exceptions.raise_compiler_error('the raw data changed during this dbt run (raw load ' ~ ids.get('start') ~ ' at its start, ' ~ ids.get('end') ~ ' at its end): its results certify nothing; run it again') }}
    {%- endif -%}
{%- endmacro %}
