{{ config(alias='mart_rr_cohort_weekly') }}

{#- kpi.mart_rr_cohort_weekly: the rows of kpi_build.mart_rr_cohort_weekly whose date is certified (docs block rr_certification). -#}

{{ rr_published_rows(ref('mart_rr_cohort_weekly'), ref('rr_date_certification')) }}
