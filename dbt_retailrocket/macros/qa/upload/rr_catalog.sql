{% macro rr_catalog() -%}
    {#- What a complete check of a date is, read from the manifest (the whole project, whatever
        the invocation selected):
          gate_test        every data test tagged with a locked quality gate
          test_parent      the models each gate test reads (its result is stale once one of
                           them is rebuilt)
          certified_model  every incremental model: the date-partitioned tables whose rows for
                           a date feed its reports
        Returns {'id': md5 of the entries and of the history's contracts (a new id is a new
        version of the project: rr_on_run_start then checks the history's columns), 'entries':
        [[kind, unique_id, name, gate, model], ...]}. -#}
    {%- set entries = [] -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
        {%- if node.resource_type == 'test' -%}
            {%- set gate = rr_test_gate(node) -%}
            {%- if gate -%}
                {%- do entries.append(['gate_test', node.unique_id, node.name, gate, rr_test_model(node)]) -%}
                {%- for parent in node.depends_on.nodes | sort if parent.startswith('model.') -%}
                    {%- do entries.append(['test_parent', node.unique_id, node.name, gate, parent]) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- elif node.resource_type == 'model' and node.config.materialized == 'incremental' -%}
            {%- do entries.append(['certified_model', node.unique_id, node.name, none, node.name]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set fingerprint = [] -%}
    {%- for e in entries -%}{%- do fingerprint.append(e | join('|')) -%}{%- endfor -%}
    {%- for node in rr_history_nodes() -%}
        {%- for column in node.columns.values() -%}
            {%- do fingerprint.append('history|' ~ node.name ~ '|' ~ column.name ~ '|' ~ column.data_type) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return({'id': local_md5(fingerprint | join('\n')), 'entries': entries}) -}}
{%- endmacro %}


{% macro rr_catalog_recorded(catalog_id) -%}
    {%- if rr_relation_type('qa', 'rr_catalog') is none -%}{{ return(false) }}{%- endif -%}
    {%- set found = run_query('select count(*) from ' ~ rr_history_relation('rr_catalog') ~ ' where catalog_id = ' ~ rr_sql_text(catalog_id)) -%}
    {{- return(found.rows[0][0] | int > 0) -}}
{%- endmacro %}


{% macro rr_catalog_rows(catalog) -%}
    {#- The statement recording a new catalog (guarded: PostgreSQL's tasks may start together;
        on Spark two identical copies are harmless, readers take distinct rows). -#}
    {%- set rows -%}
    select catalog_id, kind, unique_id, name, gate, model
    from (
        {%- for e in catalog.entries %}
        select {{ rr_sql_text(catalog.id) }} as catalog_id, {{ rr_sql_text(e[0]) }} as kind,
            {{ rr_sql_text(e[1]) }} as unique_id, {{ rr_sql_text(e[2]) }} as name,
            cast({{ rr_sql_text(e[3]) }} as varchar(64)) as gate, cast({{ rr_sql_text(e[4]) }} as varchar(512)) as model
        {%- if not loop.last %} union all{% endif -%}
        {%- endfor %}
    ) as entries
    where not exists (select 1 from {{ rr_history_relation('rr_catalog') }} where catalog_id = {{ rr_sql_text(catalog.id) }})
    {%- endset -%}
    {{- return(rr_append('rr_catalog', ['catalog_id', 'kind', 'unique_id', 'name', 'gate', 'model'], 'catalog', rows)) -}}
{%- endmacro %}
