{#- gate_rowcount: no missing day. With var target_date D the run's date must have rows;
    without it, no date between the first and the last date may be missing. Fails one row per
    gap (the last date before it and the first after it) or for a missing D. -#}
{% test rr_dates_are_complete(model, column_name) %}
{%- set run_date = rr_target_date() -%}

{%- if run_date is not none %}

select
    {{ rr_date_literal(run_date) }} as missing_date,
    cast(null as date) as next_date_with_rows
where not exists (
    select 1
    from {{ model }}
    where {{ column_name }} = {{ rr_date_literal(run_date) }}
)

{%- else %}

with

dates_with_rows as (

    select distinct {{ column_name }} as date_with_rows
    from {{ model }}
    where {{ column_name }} is not null

),

next_dates as (

    select
        date_with_rows,
        lead(date_with_rows) over (order by date_with_rows) as next_date_with_rows
    from dates_with_rows

)

select
    {{ rr_add_days('date_with_rows', '1') }} as missing_date,
    next_date_with_rows
from next_dates
where {{ rr_days_between('date_with_rows', 'next_date_with_rows') }} > 1

{%- endif %}

{% endtest %}
