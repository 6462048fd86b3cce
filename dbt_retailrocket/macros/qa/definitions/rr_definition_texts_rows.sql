{% macro rr_definition_texts_recorded(sha256) -%}
    {%- if rr_relation_type('qa', 'rr_definition_texts') is none -%}{{ return(false) }}{%- endif -%}
    {%- set found = run_query('select count(*) from ' ~ rr_history_relation('rr_definition_texts')
        ~ ' where definitions_sha256 = ' ~ rr_sql_text(sha256)) -%}
    {{- return(found.rows[0][0] | int > 0) -}}
{%- endmacro %}


{% macro rr_definition_texts_rows(definitions) -%}
    {#- The statement recording a state of the definitions the first time an invocation runs under
        it: each entry with its fingerprint and text, and the rules in words. -#}
    {%- set rows = [] -%}
    {%- set now = rr_utc_now() -%}
    {%- for key in definitions.current.entries | sort -%}
        {%- set entry = definitions.current.entries[key] -%}
        {%- do rows.append(rr_definition_text_row(definitions.sha256, entry.kind, entry.name, entry.md5, entry.text, now)) -%}
    {%- endfor -%}
    {%- for key, rule in definitions.current.rules.items() | sort -%}
        {%- set text = rr_definition_value_text(rule.value) -%}
        {%- do rows.append(rr_definition_text_row(definitions.sha256, 'rule', key, local_md5(text), text, now)) -%}
    {%- endfor -%}
    {%- set values -%}
    select definitions_sha256, kind, name, md5, entry_text, recorded_at
    from (
        values
        {{ rows | join(',\n        ') }}
    ) as texts (definitions_sha256, kind, name, md5, entry_text, recorded_at)
    where not exists (
        select 1 from {{ rr_history_relation('rr_definition_texts') }} as recorded
        where recorded.definitions_sha256 = {{ rr_sql_text(definitions.sha256) }}
    )
    {%- endset -%}
    {{- return(rr_append('rr_definition_texts', ['definitions_sha256', 'kind', 'name', 'md5', 'entry_text', 'recorded_at'],
        'definitions', values)) -}}
{%- endmacro %}


{% macro rr_definition_text_row(sha256, kind, name, md5, text, now) -%}
    {{- return('(' ~ rr_sql_text(sha256) ~ ', ' ~ rr_sql_text(kind) ~ ', ' ~ rr_sql_text(name) ~ ', '
        ~ rr_sql_text(md5) ~ ', ' ~ rr_text(rr_sql_text(text)) ~ ', ' ~ rr_sql_timestamp(now) ~ ')') -}}
{%- endmacro %}
