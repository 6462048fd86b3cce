{#-
    SQL helpers (time, text) that give the same answer on DuckDB and PostgreSQL whatever the session
    time zone: raw timestamps are epoch milliseconds (UTC); Asia/Seoul is UTC+9 all year
    (no daylight saving since 1988), so its wall clock is the UTC instant shifted by 9 hours,
    computed on plain timestamps (without time zone), never through the session's zone.
-#}

{% macro rr_kst_offset_ms() -%}
    {#- Asia/Seoul minus UTC in milliseconds, from the one definition (var
        asia_seoul_utc_offset_hours, also read by seeds_loader/rules.py). -#}
    {%- set hours = var('asia_seoul_utc_offset_hours') -%}
    {%- if hours is not number or hours is boolean or (hours | int) != hours -%}
        {{ exceptions.raise_compiler_error("var asia_seoul_utc_offset_hours must be a whole number of hours; got " ~ hours) }}
    {%- endif -%}
    {{- return((hours | int) * 3600000) -}}
{%- endmacro %}

{% macro rr_session_gap_ms() -%}
    {#- The session rule's inactivity limit: 30 minutes. A gap strictly greater starts a new
        session (see docs block `rr_session_rule`). Deliberately not a var: changing it changes
        every session-based KPI. -#}
    1800000
{%- endmacro %}


{% macro rr_epoch_ms_to_timestamp(ms_expression) -%}
    {{ return(adapter.dispatch('rr_epoch_ms_to_timestamp')(ms_expression)) }}
{%- endmacro %}

{% macro default__rr_epoch_ms_to_timestamp(ms_expression) -%}
    (cast('1970-01-01 00:00:00' as timestamp) + ({{ ms_expression }}) * interval '1 millisecond')
{%- endmacro %}

{% macro duckdb__rr_epoch_ms_to_timestamp(ms_expression) -%}
    epoch_ms(cast({{ ms_expression }} as bigint))
{%- endmacro %}


{% macro rr_epoch_ms_to_kst(ms_expression) -%}
    {{ rr_epoch_ms_to_timestamp('(' ~ ms_expression ~ ') + ' ~ rr_kst_offset_ms()) }}
{%- endmacro %}


{% macro rr_epoch_ms_to_kst_date(ms_expression) -%}
    cast({{ rr_epoch_ms_to_kst(ms_expression) }} as date)
{%- endmacro %}


{% macro rr_format_date_compact(date_expression) -%}
    {{ return(adapter.dispatch('rr_format_date_compact')(date_expression)) }}
{%- endmacro %}

{% macro default__rr_format_date_compact(date_expression) -%}
    to_char({{ date_expression }}, 'YYYYMMDD')
{%- endmacro %}

{% macro duckdb__rr_format_date_compact(date_expression) -%}
    strftime({{ date_expression }}, '%Y%m%d')
{%- endmacro %}


{% macro rr_format_timestamp(ts_expression) -%}
    {#- 'YYYY-MM-DD HH:MM:SS' text (seconds precision), identical on both warehouses. -#}
    {{ return(adapter.dispatch('rr_format_timestamp')(ts_expression)) }}
{%- endmacro %}

{% macro default__rr_format_timestamp(ts_expression) -%}
    to_char({{ ts_expression }}, 'YYYY-MM-DD HH24:MI:SS')
{%- endmacro %}

{% macro duckdb__rr_format_timestamp(ts_expression) -%}
    strftime({{ ts_expression }}, '%Y-%m-%d %H:%M:%S')
{%- endmacro %}


{% macro rr_week_start(date_expression) -%}
    {#- Monday of the date's ISO week, as a date. -#}
    cast({{ dbt.date_trunc('week', date_expression) }} as date)
{%- endmacro %}


{% macro rr_add_days(date_expression, days_expression) -%}
    cast({{ dbt.dateadd('day', days_expression, date_expression) }} as date)
{%- endmacro %}


{% macro rr_days_between(start_date_expression, end_date_expression) -%}
    {{ dbt.datediff(start_date_expression, end_date_expression, 'day') }}
{%- endmacro %}


{% macro rr_safe_bigint(text_expression) -%}
    {#- A text value as bigint when it is a plain integer, else null. -#}
    {{ return(adapter.dispatch('rr_safe_bigint')(text_expression)) }}
{%- endmacro %}

{% macro default__rr_safe_bigint(text_expression) -%}
    case
        when trim({{ text_expression }}) ~ '^-?[0-9]{1,18}$' then cast(trim({{ text_expression }}) as bigint)
    end
{%- endmacro %}

{% macro duckdb__rr_safe_bigint(text_expression) -%}
    case
        when regexp_full_match(trim({{ text_expression }}), '-?[0-9]{1,18}') then cast(trim({{ text_expression }}) as bigint)
    end
{%- endmacro %}


{% macro rr_type_double() -%}
    {#- The 8-byte float type's name. -#}
    {{- return(adapter.dispatch('rr_type_double')()) -}}
{%- endmacro %}

{% macro default__rr_type_double() -%}double precision{%- endmacro %}

{% macro spark__rr_type_double() -%}double{%- endmacro %}


{#- Spark: epoch ms through timestamp_millis (an instant, shown in the session time zone, which
    the profile and the local Spark's defaults set to UTC); datetime patterns are Java's. -#}
{% macro spark__rr_epoch_ms_to_timestamp(ms_expression) -%}
    timestamp_millis(cast({{ ms_expression }} as bigint))
{%- endmacro %}

{% macro spark__rr_format_date_compact(date_expression) -%}
    date_format({{ date_expression }}, 'yyyyMMdd')
{%- endmacro %}

{% macro spark__rr_format_timestamp(ts_expression) -%}
    date_format({{ ts_expression }}, 'yyyy-MM-dd HH:mm:ss')
{%- endmacro %}

{% macro spark__rr_safe_bigint(text_expression) -%}
    case
        when trim({{ text_expression }}) rlike '^-?[0-9]{1,18}$' then cast(trim({{ text_expression }}) as bigint)
    end
{%- endmacro %}


{% macro rr_iso_day_of_week(date_expression) -%}
    {#- 1 (Monday) .. 7 (Sunday). -#}
    {{- return(adapter.dispatch('rr_iso_day_of_week')(date_expression)) -}}
{%- endmacro %}

{% macro default__rr_iso_day_of_week(date_expression) -%}
    cast(extract(isodow from {{ date_expression }}) as integer)
{%- endmacro %}

{% macro spark__rr_iso_day_of_week(date_expression) -%}
    cast(extract(dayofweek_iso from {{ date_expression }}) as integer)
{%- endmacro %}
