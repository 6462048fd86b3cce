{% macro rr_history_type(data_type) -%}
    {#- A history column's type from its contract: `string` is the warehouse's text type, `double`
        its 8-byte float (written so in models/qa/_qa__models.yml because the three warehouses
        spell them differently); any other type is portable as written (varchar(n), integer,
        bigint, boolean, date, timestamp). -#}
    {%- if data_type == 'string' -%}
        {{- return(dbt.type_string()) -}}
    {%- elif data_type == 'double' -%}
        {{- return(rr_type_double()) -}}
    {%- endif -%}
    {{- return(data_type) -}}
{%- endmacro %}
