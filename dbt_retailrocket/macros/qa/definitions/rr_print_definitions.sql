{% macro rr_print_definitions(var_names=[]) -%}
    {#- dbt run-operation rr_print_definitions --args '{var_names: [...]}': the current definitions
        as one JSON line (RR_DEFINITIONS ...) for the lock tool (exports/definitions.py), which
        names every var of dbt_project.yml. -#}
    {%- set current = rr_definitions_current(var_names) -%}
    {%- set entries = {} -%}
    {%- for key, entry in current.entries.items() -%}
        {%- do entries.update({key: {'kind': entry.kind, 'name': entry.name, 'md5': entry.md5,
            'value': (fromjson(entry.text) if entry.kind == 'var' else (entry.text if entry.kind == 'dbt' else none))}}) -%}
    {%- endfor -%}
    {%- set rules = {} -%}
    {%- for key, rule in current.rules.items() -%}{%- do rules.update({key: rule.value}) -%}{%- endfor -%}
    {{ print('RR_DEFINITIONS ' ~ tojson({'listing': current.listing, 'entries': entries, 'rules': rules}, sort_keys=true)) }}
{%- endmacro %}
