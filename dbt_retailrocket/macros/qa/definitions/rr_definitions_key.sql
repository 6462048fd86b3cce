{% macro rr_definitions_key() -%}
    {#- The md5 of everything rr_definitions_current reads, serialised whole: the graph's nodes,
        sources, metrics and semantic models, every macro of the project (its text and calls),
        the resolved vars it reads and dbt's version. The same key gives the same definitions,
        so an invocation whose key is known (rr_definitions_of_key) need not compute them again
        (a few hundred milliseconds of Jinja on every invocation). The parse time of each node
        (created_at) is left out: every re-parse changes it and nothing else. none when the
        inputs cannot be serialised (then the definitions are always computed). -#}
    {%- set macros = [] -%}
    {%- for value in context.values() if value.macro is defined and value.macro.package_name == project_name -%}
        {%- do macros.append([value.macro.unique_id, value.macro.macro_sql, value.macro.depends_on.macros]) -%}
    {%- endfor -%}
    {%- set vars = {} -%}
    {%- for name in rr_definition_var_names() -%}{%- do vars.update({name: var(name, none)}) -%}{%- endfor -%}
    {%- set inputs = tojson({'nodes': graph.nodes, 'sources': graph.sources, 'metrics': graph.metrics,
        'semantic_models': graph.semantic_models, 'macros': macros | sort, 'vars': vars,
        'dbt': dbt_version, 'project': project_name}, sort_keys=true) -%}
    {%- if inputs is none or inputs | length < 1000 -%}{{ return(none) }}{%- endif -%}
    {{- return(local_md5(modules.re.sub('"created_at": [-+0-9.eE]+', '', inputs))) -}}
{%- endmacro %}


{% macro rr_definitions_of_key(key) -%}
    {#- The definitions_sha256 recorded for the key (a `files` row of qa.rr_definition_texts);
        none when it is not known. -#}
    {%- if key is none or rr_relation_type('qa', 'rr_definition_texts') is none -%}{{ return(none) }}{%- endif -%}
    {%- set found = run_query('select max(definitions_sha256) from ' ~ rr_history_relation('rr_definition_texts')
        ~ " where kind = 'files' and name = " ~ rr_sql_text(key)) -%}
    {{- return((found.rows[0][0] | string | lower) if found.rows and found.rows[0][0] is not none else none) -}}
{%- endmacro %}


{% macro rr_definitions_key_row(definitions) -%}
    {#- The statement recording that the key of this invocation's files makes its definitions
        (only for definitions equal to the lock's: the one case rr_definitions_state skips). -#}
    {%- set values -%}
    select {{ rr_sql_text(definitions.sha256) }}, 'files', {{ rr_sql_text(definitions.key) }},
        {{ rr_sql_text(definitions.key) }},
        'the project files (nodes, macros, vars, dbt version) that make these definitions',
        {{ rr_sql_timestamp(rr_utc_now()) }}
    {%- endset -%}
    {{- return(rr_append('rr_definition_texts', ['definitions_sha256', 'kind', 'name', 'md5', 'entry_text', 'recorded_at'],
        'definitions_key', values)) -}}
{%- endmacro %}
