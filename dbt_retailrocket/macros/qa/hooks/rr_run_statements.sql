{% macro rr_run_statements(statements) -%}
    {#- Runs a hook's statements in one transaction, all or nothing: one call, BEGIN ... COMMIT
        around them (DuckDB, PostgreSQL; dbt runs hooks outside its own transactions); on Spark,
        which has none, one call each. Every write of the run history goes through here. -#}
    {%- set statements = statements | map('trim') | select | list -%}
    {%- if statements -%}
        {%- do adapter.dispatch('rr_run_statements')(statements) -%}
    {%- endif -%}
{%- endmacro %}

{% macro default__rr_run_statements(statements) -%}
    {%- call statement('rr_history', auto_begin=false) -%}
        begin transaction
        ;
        {{ statements | join('\n;\n') }}
        ;
        commit
    {%- endcall -%}
{%- endmacro %}

{% macro spark__rr_run_statements(statements) -%}
    {%- for sql in statements -%}
        {%- call statement('rr_history', auto_begin=false) -%}{{ sql }}{%- endcall -%}
    {%- endfor -%}
{%- endmacro %}
