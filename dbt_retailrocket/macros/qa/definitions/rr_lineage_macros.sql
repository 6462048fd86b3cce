{% macro rr_lineage_macros(lineage) -%}
    {#- The project's macros that the lineage's nodes can call, transitively, with every dispatch
        variant of each (default__x, duckdb__x, postgres__x, spark__x: what one warehouse calls,
        another calls in its own variant). Left out: the run history's (macros/qa: they write
        history, never a number), and the macros of dbt, of the adapters and of the dbt packages,
        which their versions pin (the lock's `versions`: the same dbt_utils is installed from
        the hub or from the offline fallback, whose texts differ). -#}
    {%- set seen = {} -%}
    {%- set queue = [] -%}
    {%- for uid in lineage if uid in graph.nodes -%}
        {%- do queue.extend(graph.nodes[uid].depends_on.macros) -%}
    {%- endfor -%}
    {%- for uid in queue -%}
        {%- if uid not in seen -%}
            {%- set macro = rr_macro_by_id(uid) -%}
            {%- if macro is not none and not (macro.package_name == project_name and macro.original_file_path.startswith('macros/qa/')) -%}
                {%- do seen.update({uid: true}) -%}
                {%- do queue.extend(macro.depends_on.macros) -%}
                {%- do queue.extend(rr_dispatch_variants(uid)) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(seen.keys() | list) -}}
{%- endmacro %}


{% macro rr_macro_by_id(uid) -%}
    {#- The project's macro `macro.<project>.<name>`; none for any other package's. -#}
    {%- set parts = uid.split('.') -%}
    {%- set package, name = parts[1], parts[2] -%}
    {%- if package != project_name -%}{{ return(none) }}{%- endif -%}
    {%- set found = context.get(name) -%}
    {%- if found is none or found.macro is not defined or found.macro.unique_id != uid -%}{{ return(none) }}{%- endif -%}
    {{- return(found.macro) -}}
{%- endmacro %}


{% macro rr_dispatch_variants(uid) -%}
    {#- The other dispatch variants of macro `uid` in its package: x, default__x and <warehouse>__x. -#}
    {%- set parts = uid.split('.') -%}
    {%- set package, name = parts[1], parts[2] -%}
    {%- set prefixes = ['default__', 'duckdb__', 'postgres__', 'spark__'] -%}
    {%- set base = namespace(name=name) -%}
    {%- for prefix in prefixes if name.startswith(prefix) -%}{%- set base.name = name[prefix | length:] -%}{%- endfor -%}
    {%- set found = [] -%}
    {%- set candidates = [base.name] -%}
    {%- for prefix in prefixes -%}{%- do candidates.append(prefix ~ base.name) -%}{%- endfor -%}
    {%- for candidate in candidates -%}
        {%- set other = 'macro.' ~ package ~ '.' ~ candidate -%}
        {%- if other != uid and rr_macro_by_id(other) is not none -%}{%- do found.append(other) -%}{%- endif -%}
    {%- endfor -%}
    {{- return(found) -}}
{%- endmacro %}
