{{ config(alias='mart_rr_layer_rows_daily') }}

{#- kpi.mart_rr_layer_rows_daily: the rows of kpi_build.mart_rr_layer_rows_daily whose date is certified (docs block rr_certification). -#}

{{ rr_published_rows(ref('mart_rr_layer_rows_daily'), ref('rr_date_certification')) }}
