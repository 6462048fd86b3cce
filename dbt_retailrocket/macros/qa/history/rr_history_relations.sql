{% macro rr_history_relations() -%}
    {#- The relations macro rr_date_certification_sql reads, by name (what the view model passes
        in as refs). -#}
    {{- return({
        'verdicts': rr_history_relation('rr_date_verdicts'),
        'builds': rr_history_relation('rr_model_builds'),
        'catalog': rr_history_relation('rr_catalog'),
        'invocations': rr_history_relation('rr_invocations'),
        'loads': 'raw.raw_rr_loads',
        'fingerprints': 'raw.raw_rr_date_fingerprints',
    }) -}}
{%- endmacro %}
