{% macro rr_report_models() -%}
    {#- The tables the reports read: the kpi_build models the views of schema kpi publish. -#}
    {%- set found = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.path.startswith('kpi/published/') -%}
        {%- for parent in node.depends_on.nodes if parent.startswith('model.') and not graph.nodes[parent].path.startswith('qa/') -%}
            {%- do found.append(parent) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(found | unique | sort) -}}
{%- endmacro %}


{% macro rr_report_lineage() -%}
    {#- The unique ids of the nodes whose definitions make a reported number or a certificate: the
        report models and every gate test (what checks them), the models and sources those read,
        transitively, and every data test of any of them. The run history of schema qa and the
        published views are not definitions. -#}
    {%- set queue = rr_report_models() -%}
    {#- the gates as this project states them (var quality_gates, the lock's source) -#}
    {%- set gates = var('quality_gates') -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'test' and node.tags | select('in', gates) | list -%}
        {%- do queue.append(node.unique_id) -%}
    {%- endfor -%}
    {%- set seen = {} -%}
    {%- for uid in queue -%}
        {%- set node = graph.nodes.get(uid) -%}
        {%- if uid not in seen and not (node is not none and (node.path.startswith('qa/') or node.path.startswith('kpi/published/'))) -%}
            {%- do seen.update({uid: true}) -%}
            {%- do queue.extend(node.depends_on.nodes if node is not none else []) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'test' and node.depends_on.nodes -%}
        {%- if node.depends_on.nodes | reject('in', seen) | list | length == 0 -%}
            {%- do seen.update({node.unique_id: true}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(seen.keys() | list) -}}
{%- endmacro %}
