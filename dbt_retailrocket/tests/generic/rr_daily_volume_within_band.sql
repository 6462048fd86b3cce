{#- gate_rowcount (meant as a warning): the row count of each date in the run window lies within
    [low, high] x the median row count of the `trailing_days` dates before it (vars
    volume_band_low_ratio, volume_band_high_ratio, volume_trailing_days). Dates with fewer than
    `min_history_days` earlier dates are not judged. Fails one row per date outside the band,
    counted against that date alone (meta rr_failing_rows_date). -#}
{% test rr_daily_volume_within_band(model, column_name, min_history_days=7) %}
{#- each failing row names its date: the verdict counts it against that date only, so a ranged run
    and the daily runs of its dates agree (rr_failing_dates) -#}
{{ config(meta={'rr_failing_rows_date': 'volume_date'}) }}
{%- set trailing_days = var('volume_trailing_days') | int -%}
{%- set low = var('volume_band_low_ratio') | float -%}
{%- set high = var('volume_band_high_ratio') | float -%}
{%- set w = rr_window(true) -%}

with

daily_rows as (

    select
        {{ column_name }} as volume_date,
        count(*) as row_count
    from {{ model }}
    {%- if w.start is not none %}
    where {{ column_name }} between {{ rr_add_days(rr_date_literal(w.start), -trailing_days) }}
        and {{ rr_date_literal(w.end) }}
    {%- endif %}
    group by 1

),

judged_dates as (

    select * from daily_rows
    {%- if w.start is not none %}
    where volume_date between {{ rr_date_literal(w.start) }} and {{ rr_date_literal(w.end) }}
    {%- endif %}

),

dates_with_trailing_median as (

    select
        judged_dates.volume_date,
        judged_dates.row_count,
        count(*) as history_days,
        percentile_cont(0.5) within group (order by history.row_count) as trailing_median
    from judged_dates
    inner join daily_rows as history
        on history.volume_date < judged_dates.volume_date
        and history.volume_date >= {{ rr_add_days('judged_dates.volume_date', -trailing_days) }}
    group by 1, 2

)

select
    volume_date,
    row_count,
    trailing_median,
    history_days,
    cast(row_count as {{ rr_type_double() }}) / trailing_median as ratio_to_median
from dates_with_trailing_median
where history_days >= {{ min_history_days }}
    and (
        row_count < {{ low }} * trailing_median
        or row_count > {{ high }} * trailing_median
    )

{% endtest %}
