{% macro rr_definitions_lock(required=true) -%}
    {#- The committed definitions lock: models/qa/_qa__definitions_lock.yml, the meta `rr_lock`
        of model rr_definitions_lock (dbt parses it; no var can change it). Missing and not
        `required` (the lock tool writing the first lock): an empty lock. -#}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.rr_definitions_lock') -%}
    {%- set lock = (node.config.meta or {}).get('rr_lock') if node is not none else none -%}
    {%- if lock and lock.entries is mapping and lock.rules is mapping -%}
        {{- return(lock) -}}
    {%- elif required -%}
        {%- do exceptions.raise_compiler_error(
            'the definitions lock is missing or unreadable (models/qa/_qa__definitions_lock.yml, meta rr_lock): '
            ~ 'write it with make lock-definitions REASON="..."') -%}
    {%- endif -%}
    {{- return({'entries': {}, 'rules': {}, 'definitions_version': none, 'definitions_sha256': none}) -}}
{%- endmacro %}
