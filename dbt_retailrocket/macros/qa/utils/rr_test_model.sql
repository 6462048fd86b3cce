{% macro rr_test_model(node) -%}
    {#- The model a test protects: the attached node of a generic test, else the first model
        (or source) the test reads. -#}
    {%- set attached = node.attached_node if node.attached_node is defined else none -%}
    {%- if attached -%}{{ return(attached.split('.')[-1]) }}{%- endif -%}
    {%- for uid in node.depends_on.nodes if uid.startswith('model.') or uid.startswith('source.') -%}
        {%- if loop.first -%}{{ return(uid.split('.')[-1]) }}{%- endif -%}
    {%- endfor -%}
    {%- if node.resource_type == 'unit_test' and node.model is defined -%}{{ return(node.model) }}{%- endif -%}
    {{- return(none) -}}
{%- endmacro %}
