{% macro rr_require_recorded_raw_load() -%}
    {#- Refuses to start on raw data that no recorded load describes (a load under way or one that
        stopped half-way); warns when the raw data predates the load bookkeeping. -#}
    {%- if rr_raw_load_unfinished() -%}
        {%- do exceptions.raise_compiler_error(
            'the raw data is being replaced, or a raw load stopped before it was recorded '
            ~ '(raw.raw_rr_load_unfinished exists): wait for the load, or run it again '
            ~ '(python -m seeds_loader load); nothing is built on raw data no load describes') -%}
    {%- endif -%}
    {%- if not rr_raw_bookkeeping_exists() -%}
        {{ log('WARNING: raw.raw_rr_loads is missing: the raw data was loaded by an earlier version or not at all; load it with `python -m seeds_loader load` (nothing can be certified before)', info=True) }}
    {%- endif -%}
{%- endmacro %}
