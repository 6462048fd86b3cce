{% macro rr_gate_order_sql(gate_expression) -%}
    {#- A gate's place in the locked gate list (1, 2, ...), as SQL. -#}
    case {{ gate_expression }}
    {%- for gate in rr_quality_gates() %} when {{ rr_sql_text(gate) }} then {{ loop.index }}{% endfor %}
    else {{ rr_quality_gates() | length + 1 }} end
{%- endmacro %}
