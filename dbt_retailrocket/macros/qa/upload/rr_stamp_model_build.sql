{% macro rr_stamp_model_build(hook='post') -%}
    {#- Hook of every model of staging, marts and kpi, run inside the model's transaction: the build
        and its row in qa.rr_model_builds commit together or not at all (a pre-hook where there
        are no transactions: rr_stamps_before_build). Records which dates the build replaced (an
        incremental run: the run window; a full build or a table: every date) and whether every
        date before its window was certified, under this invocation's definitions, when it was
        built (if not, its rows may rest on stale history and cannot be certified before a
        rebuild from that date). -#}
    {%- if not execute or (hook == 'pre') != rr_stamps_before_build() -%}{{ return('') }}{%- endif -%}
    {%- set incremental = is_incremental() -%}
    {%- set w = rr_window(true) if incremental else {'start': none, 'end': none} -%}
    {%- set checks_history = w.start is not none and rr_raw_bookkeeping_exists() and config.get('materialized') == 'incremental' -%}
    {%- set rows -%}
    select
        {{ rr_sql_text(invocation_id) }}, {{ rr_sql_text(rr_pipeline_run_id()) }},
        {{ rr_sql_text(model.unique_id) }}, {{ rr_sql_text(model.name) }},
        {{ rr_sql_text(config.get('materialized')) }}, {{ 'false' if incremental else 'true' }},
        {{ rr_sql_date(w.start) }}, {{ rr_sql_date(w.end) }}, {{ rr_sql_timestamp(rr_utc_now()) }},
        {%- if checks_history %}
        history.first_uncertified_date is null, history.first_uncertified_date
    from (
        select min(certification.kpi_date) as first_uncertified_date
        from ({{ rr_date_certification_sql(rr_history_relations()) }}) as certification
        where certification.kpi_date < {{ rr_date_literal(w.start) }}
            and (
                not certification.is_certified
                or certification.definitions_sha256 is null
                or certification.definitions_sha256 <> (
                    select max(starts.definitions_sha256) from {{ rr_history_relation('rr_invocations') }} as starts
                    where starts.invocation_id = {{ rr_sql_text(invocation_id) }} and starts.phase = 'start'
                )
            )
    ) as history
        {%- else %}
        true, cast(null as date)
        {%- endif %}
    {%- endset -%}
    {{- return(rr_append('rr_model_builds', [
        'invocation_id', 'pipeline_run_id', 'unique_id', 'model', 'materialized', 'is_full_build',
        'window_start', 'window_end', 'built_at', 'on_certified_history', 'first_uncertified_date'],
        'build.' ~ model.unique_id, rows)) -}}
{%- endmacro %}


{% macro rr_stamps_before_build() -%}
    {#- Where a model's build and its stamp cannot commit together (Spark: no transactions), the
        stamp is written before the build starts: a build that dies half-way is then newer than
        every test of its dates, which are refused until rebuilt and re-checked. -#}
    {{- return(adapter.dispatch('rr_stamps_before_build')()) -}}
{%- endmacro %}

{% macro default__rr_stamps_before_build() -%}{{- return(false) -}}{%- endmacro %}

{% macro spark__rr_stamps_before_build() -%}{{- return(true) -}}{%- endmacro %}
