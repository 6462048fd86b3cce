{% macro rr_history_relation(name) -%}
    {#- `schema.table` of the qa model `name` (a history table or a view), from the manifest: the
        hooks write where the models are declared, never to a name typed again. -#}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ name) -%}
    {%- if node is none -%}
        {%- do exceptions.raise_compiler_error('no model ' ~ name ~ ' in models/qa: the run history cannot be written') -%}
    {%- endif -%}
    {{- return(node.schema ~ '.' ~ (node.alias or node.name)) -}}
{%- endmacro %}
