{#- qa.rr_date_certification: is each date certified now, under which definitions, and if not, why
    (docs block rr_certification; the rule: macro rr_date_certification_sql). Everyone asks this
    view: the published views of schema kpi, the export, make check and the DAG. -#}

{{ rr_date_certification_sql({
    'verdicts': ref('rr_date_verdicts'),
    'builds': ref('rr_model_builds'),
    'catalog': ref('rr_catalog'),
    'invocations': ref('rr_invocations'),
    'loads': source('retailrocket_raw', 'raw_rr_loads'),
    'fingerprints': source('retailrocket_raw', 'raw_rr_date_fingerprints'),
}) }}
