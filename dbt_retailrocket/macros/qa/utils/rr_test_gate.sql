{% macro rr_test_gate(node) -%}
    {#- The quality gate of a test: its tag among the locked gates (none: not a gate test). -#}
    {%- for gate in rr_quality_gates() if gate in node.tags -%}
        {%- if loop.first -%}{{ return(gate) }}{%- endif -%}
    {%- endfor -%}
    {{- return(none) -}}
{%- endmacro %}
