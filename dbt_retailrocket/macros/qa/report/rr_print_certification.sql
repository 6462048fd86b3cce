{% macro rr_print_certification() -%}
    {#- The certification of the dates this invocation checked, now: how many are certified, and
        the first five that are not, with their reasons; and the definitions it ran under. -#}
    {%- if not rr_raw_bookkeeping_exists() or rr_relation_type('qa', 'rr_date_certification') is none -%}{{ return('') }}{%- endif -%}
    {%- set w = rr_window(true) -%}
    {%- set certification = run_query(
        'select kpi_date, is_certified, reason from ' ~ rr_history_relation('rr_date_certification') ~ ' where '
        ~ rr_date_filter_for('kpi_date', w) ~ ' order by kpi_date') -%}
    {%- set ns = namespace(certified=0, shown=0) -%}
    {{ log('Certification of the dates checked (' ~ rr_window_text(w) ~ '):', info=True) }}
    {%- for row in certification.rows -%}
        {%- if row[1] -%}
            {%- set ns.certified = ns.certified + 1 -%}
        {%- elif ns.shown < 5 -%}
            {%- set ns.shown = ns.shown + 1 -%}
            {{ log('  ' ~ row[0] ~ '  NOT CERTIFIED: ' ~ row[2], info=True) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set missing = certification.rows | length - ns.certified -%}
    {{ log('  ' ~ ns.certified ~ ' of ' ~ (certification.rows | length) ~ ' dates certified' ~ ((', ' ~ (missing - ns.shown) ~ ' more not certified') if missing > ns.shown else ''), info=True) }}
{%- endmacro %}
