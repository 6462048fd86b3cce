{{ config(alias='mart_rr_crm_targets_daily') }}

{#- kpi.mart_rr_crm_targets_daily: the rows of kpi_build.mart_rr_crm_targets_daily whose date is certified (docs block rr_certification). -#}

{{ rr_published_rows(ref('mart_rr_crm_targets_daily'), ref('rr_date_certification')) }}
