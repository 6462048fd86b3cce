{% macro rr_sample_rows(res, limit=5) -%}
    {#- Up to `limit` failing rows of a failed or warned test, as JSON text (values as text). -#}
    {%- if (res.status | string) not in ('fail', 'warn') or not res.node.compiled_code -%}{{ return(none) }}{%- endif -%}
    {%- set sample = run_query('select * from (' ~ res.node.compiled_code ~ ') as failing_rows limit ' ~ limit) -%}
    {%- set rows = [] -%}
    {%- for row in sample.rows -%}
        {%- set item = {} -%}
        {%- for name, value in zip(sample.column_names, row.values()) -%}
            {%- do item.update({name: none if value is none else (value | string)}) -%}
        {%- endfor -%}
        {%- do rows.append(item) -%}
    {%- endfor -%}
    {{- return(tojson(rows)) -}}
{%- endmacro %}
