{%- set first_day = rr_parse_date(var('plausible_event_date_min'), 'var plausible_event_date_min') -%}
{%- set last_day = rr_parse_date(var('plausible_event_date_max'), 'var plausible_event_date_max') -%}

{#- The calendar of the plausible event window (Asia/Seoul dates): a date dimension for
    analysts and the time spine of the semantic layer. -#}

with recursive

calendar as (

    select {{ rr_date_literal(first_day) }} as date_day

    union all

    select {{ rr_add_days('date_day', '1') }} as date_day
    from calendar
    where date_day < {{ rr_date_literal(last_day) }}

),

final as (

    select
        date_day,
        {{ rr_week_start('date_day') }} as week_start_date,
        {{ rr_iso_day_of_week("date_day") }} as iso_day_of_week,
        {{ rr_iso_day_of_week("date_day") }} in (6, 7) as is_weekend,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_date
    from calendar

)

select * from final
