{% macro rr_timing(res, phase, bound) -%}
    {#- started_at / completed_at of a node result's `compile` or `execute` phase. -#}
    {%- for t in res.timing if t.name == phase -%}
        {%- if loop.first -%}{{ return(t[bound]) }}{%- endif -%}
    {%- endfor -%}
    {{- return(none) -}}
{%- endmacro %}
