{% macro rr_history_nodes() -%}
    {#- The append-only history tables of schema qa: every model materialized rr_history, in name
        order (models/qa/history). -#}
    {%- set found = [] -%}
    {%- for node in graph.nodes.values() | sort(attribute='name')
        if node.resource_type == 'model' and node.config.materialized == 'rr_history' -%}
        {%- do found.append(node) -%}
    {%- endfor -%}
    {{- return(found) -}}
{%- endmacro %}
