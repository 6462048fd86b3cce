{% macro rr_quality_gates() -%}
    {#- The quality gates, in report order, from the definitions lock: never from a run-time var
        (var quality_gates is the source `make lock-definitions` locks; a run that passes another
        list runs under definitions that differ from the lock and certifies nothing). -#}
    {{- return(rr_definitions_lock().rules.quality_gates) -}}
{%- endmacro %}
