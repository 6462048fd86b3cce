{#-
    The definitions this invocation runs under (docs block rr_definitions): everything that makes
    a reported number, each entry fingerprinted (md5 of its text), the whole named by the sha256
    of the sorted listing of the entries (rr_definitions_state).

      model, test, source  every node in the lineage of the reports (the kpi_build tables the
                           views of schema kpi publish, and their ancestors), every test of
                           them: its SQL before rendering and the config that shapes its result
      macro                every macro of the project those can call (each dispatch variant of
                           every warehouse), but the run history's own (macros/qa), which never
                           changes a number; the dbt packages' macros are pinned by the
                           packages' versions (the lock's `versions`, checked by the export)
      var                  every var but the run's own (rr_run_vars), resolved
      column, doc, metric  the texts the reports show: the description of each column of the
                           reported tables and of each column naming a docs block, every docs
                           block the models' descriptions use, the metrics
      dbt                  dbt's version (its own macros and materializations come with it; the
                           adapters' versions are in the lock's `versions`)

    The compiled SQL of a node is a function of these, the warehouse and the run window: the
    lock pins the inputs, so the same definitions give the same fingerprint on every date and
    every warehouse.
-#}

{% macro rr_definitions_current(var_names=none) -%}
    {%- set entries = {} -%}
    {%- set lineage = rr_report_lineage() -%}
    {%- for uid in lineage | sort -%}
        {%- set node = graph.nodes.get(uid) or graph.sources.get(uid) -%}
        {%- do rr_definition_entry(entries, rr_node_kind(node), node.name if node.resource_type != 'source' else node.source_name ~ '.' ~ node.name, rr_node_definition_text(node)) -%}
    {%- endfor -%}
    {%- for uid in rr_lineage_macros(lineage) | sort -%}
        {%- set macro = rr_macro_by_id(uid) -%}
        {%- do rr_definition_entry(entries, 'macro', uid.split('.')[-1], macro.macro_sql) -%}
    {%- endfor -%}
    {%- for name in rr_definition_var_names(var_names) -%}
        {%- do rr_definition_entry(entries, 'var', name, tojson(var(name, none), sort_keys=true)) -%}
    {%- endfor -%}
    {%- for uid in lineage | sort if uid in graph.nodes and graph.nodes[uid].resource_type == 'model' -%}
        {%- set node = graph.nodes[uid] -%}
        {%- for column in node.columns.values() if column.description and (uid in rr_report_models() or column.doc_blocks) -%}
            {%- do rr_definition_entry(entries, 'column', node.name ~ '.' ~ column.name,
                tojson({'description': column.description, 'docs': column.doc_blocks | map('replace', 'doc.' ~ project_name ~ '.', '') | list}, sort_keys=true)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for name, text in rr_doc_texts().items() -%}
        {%- do rr_definition_entry(entries, 'doc', name, text) -%}
    {%- endfor -%}
    {%- for metric in graph.metrics.values() | sort(attribute='name') if metric.package_name == project_name -%}
        {%- do rr_definition_entry(entries, 'metric', metric.name, tojson(rr_metric_definition(metric), sort_keys=true)) -%}
    {%- endfor -%}
    {%- do rr_definition_entry(entries, 'dbt', 'dbt-core', dbt_version) -%}
    {%- set listing = [] -%}
    {%- for key in entries | sort -%}
        {%- do listing.append(entries[key].kind ~ '|' ~ entries[key].name ~ '|' ~ entries[key].md5) -%}
    {%- endfor -%}
    {{- return({'entries': entries, 'listing': listing | join('\n'), 'rules': rr_definition_rules()}) -}}
{%- endmacro %}


{% macro rr_definition_var_names(var_names=none) -%}
    {#- The vars that are definitions, sorted: those named (the lock tool names every var of
        dbt_project.yml), those the lock has, and any given with --vars; but the run's own
        (rr_run_vars). -#}
    {%- set names = (var_names or []) + ((invocation_args_dict.get('vars') or {}).keys() | list) -%}
    {%- for key in rr_definitions_lock(required=false).entries if key.startswith('var ') -%}{%- do names.append(key[4:]) -%}{%- endfor -%}
    {{- return(names | unique | reject('in', rr_run_vars()) | sort | list) -}}
{%- endmacro %}


{% macro rr_definition_entry(entries, kind, name, text) -%}
    {%- do entries.update({kind ~ ' ' ~ name: {'kind': kind, 'name': name, 'md5': local_md5(text), 'text': text}}) -%}
{%- endmacro %}


{% macro rr_node_kind(node) -%}
    {{- return({'model': 'model', 'test': 'test', 'source': 'source', 'seed': 'seed', 'snapshot': 'snapshot'}.get(node.resource_type, node.resource_type)) -}}
{%- endmacro %}


{% macro rr_node_definition_text(node) -%}
    {#- A node's definition: its SQL before rendering (a generic test: the test and its
        arguments) and the config that shapes its result. Hooks are left out: they write the run
        history, never a number. -#}
    {%- set keys = ['materialized', 'incremental_strategy', 'unique_key', 'rr_date_column', 'on_schema_change',
        'enabled', 'alias', 'schema', 'full_refresh', 'severity', 'where', 'warn_if', 'error_if', 'fail_calc',
        'limit', 'tags', 'meta'] -%}
    {%- set config = {} -%}
    {%- for key in keys if node.config.get(key) is not none -%}
        {%- do config.update({key: node.config.get(key)}) -%}
    {%- endfor -%}
    {%- if node.resource_type == 'source' -%}
        {{- return(tojson({'schema': node.schema, 'identifier': node.identifier, 'loaded_at_field': node.loaded_at_field}, sort_keys=true)) -}}
    {%- endif -%}
    {%- set test = none -%}
    {%- if node.test_metadata is defined and node.test_metadata -%}
        {#- a quoted column's name is quoted the warehouse's way ("x" or `x`): the name counts -#}
        {%- set kwargs = {} -%}
        {%- for key, value in node.test_metadata.kwargs.items() -%}
            {%- do kwargs.update({key: value[1:-1] if key == 'column_name' and value is string and value[:1] in ('"', '`') and value[-1:] == value[:1] else value}) -%}
        {%- endfor -%}
        {%- set test = {'name': node.test_metadata.name, 'namespace': node.test_metadata.namespace, 'kwargs': kwargs} -%}
    {%- endif -%}
    {{- return(tojson({'sql': node.raw_code, 'test': test, 'config': config}, sort_keys=true)) -}}
{%- endmacro %}


{% macro rr_metric_definition(metric) -%}
    {#- A metric as the reports use it: label, type, and a ratio's numerator and denominator
        (the columns of their measures). -#}
    {%- set params = metric.type_params -%}
    {{- return({'label': metric.label, 'type': metric.type, 'description': metric.description,
        'measure': (params.measure.name if params.measure else none),
        'numerator': (params.numerator.name if params.numerator else none),
        'denominator': (params.denominator.name if params.denominator else none),
        'measures': rr_metric_measures(metric)}) -}}
{%- endmacro %}


{% macro rr_metric_measures(metric) -%}
    {#- {measure: its column (expr, else its name)} of the measures a metric reads. -#}
    {%- set wanted = metric.type_params.input_measures | map(attribute='name') | list -%}
    {%- set found = {} -%}
    {%- for semantic in graph.semantic_models.values() -%}
        {%- for measure in semantic.measures if measure.name in wanted -%}
            {%- do found.update({measure.name: measure.expr or measure.name}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(found) -}}
{%- endmacro %}


{% macro rr_doc_texts() -%}
    {#- {docs block name: its text} for every docs block a model's or a column's description uses
        (but those of schema qa, whose lock model describes the lock itself): dbt renders a block
        into the descriptions that name it (the blocks themselves are not in the run-time
        graph), so its text is the shortest description naming it alone (ties: the first in text
        order). -#}
    {%- set found = {} -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') if node.resource_type == 'model' and not node.path.startswith('qa/') -%}
        {%- for described in [node] + (node.columns.values() | list) if described.doc_blocks | length == 1 and described.description -%}
            {%- set name = described.doc_blocks[0].split('.')[-1] -%}
            {%- set known = found.get(name) -%}
            {%- if known is none or (described.description | length, described.description) < (known | length, known) -%}
                {%- do found.update({name: described.description}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(found) -}}
{%- endmacro %}
