{#-
    The run window: which Asia/Seoul dates a run builds and checks, and which raw rows it may
    read (see the docs blocks `rr_point_in_time` and `rr_incremental_window`).

    target_date D set, incremental run  -> dates D - lookback_days .. D
    target_date D set, first/full build -> every date up to D
    start_date S + end_date E (a range) -> the same as target_date E with lookback_days E - S:
                                           dates S .. E (a full build: every date up to E)
    none of them                        -> every date

    The range is another spelling of the same window (rr_target_date is E, rr_lookback_days is
    E - S), so every model, test and the certification treat both alike. It cannot be combined
    with target_date or lookback_days.

    In every case nothing later than the end of D (Asia/Seoul) is read.
    Every date that reaches SQL has been validated here first.
-#}

{% macro rr_date_problem(value, name) -%}
    {#- none when `value` is a strict YYYY-MM-DD calendar date (or a date object), else why not.
        The same rule as seeds_loader/rules.py parse_date: tests/test_dates.py feeds both the
        same inputs (macro rr_check_dates) and requires the same verdicts. -#}
    {%- if value is not string -%}
        {%- if value is none or value is number or value is boolean or value.year is not defined -%}
            {{- return(name ~ " must be a calendar date written YYYY-MM-DD; got " ~ (value | string)) -}}
        {%- endif -%}
        {%- if value.hour is defined -%}
            {{- return(name ~ " must be a date without a time of day (YYYY-MM-DD); got " ~ (value | string)) -}}
        {%- endif -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set m = modules.re.fullmatch('([0-9]{4})-([0-9]{2})-([0-9]{2})', value) -%}
    {%- if not m -%}
        {{- return(name ~ " must be a calendar date written YYYY-MM-DD; got '" ~ value ~ "'") -}}
    {%- endif -%}
    {%- set y = m.group(1) | int -%}
    {%- set mo = m.group(2) | int -%}
    {%- set d = m.group(3) | int -%}
    {%- set leap = (y % 4 == 0 and y % 100 != 0) or (y % 400 == 0) -%}
    {%- set month_days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
    {%- if y < 1 or mo < 1 or mo > 12 or d < 1 or d > month_days[mo - 1] -%}
        {{- return(name ~ " is not a real calendar date: '" ~ value ~ "'") -}}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}


{% macro rr_parse_date(value, name) -%}
    {#- Returns a datetime.date for a strict YYYY-MM-DD calendar date, else a compile error. -#}
    {%- set problem = rr_date_problem(value, name) -%}
    {%- if problem is not none -%}
        {{ exceptions.raise_compiler_error(problem) }}
    {%- endif -%}
    {%- if value is string -%}
        {{- return(modules.datetime.date(value[0:4] | int, value[5:7] | int, value[8:10] | int)) -}}
    {%- endif -%}
    {{- return(modules.datetime.date(value.year, value.month, value.day)) -}}
{%- endmacro %}


{% macro rr_check_dates(values) -%}
    {#- dbt run-operation rr_check_dates --args '{values: [...]}': prints one JSON line with the
        verdict (none = valid, else the message) of every value, for tests/test_dates.py. -#}
    {%- set verdicts = [] -%}
    {%- for value in values -%}
        {%- do verdicts.append(rr_date_problem(value, 'target_date')) -%}
    {%- endfor -%}
    {{ print('RR_DATE_VERDICTS ' ~ tojson(verdicts)) }}
{%- endmacro %}


{% macro rr_date_range() -%}
    {#- {'start': date, 'end': date} from the vars start_date / end_date, or none when neither is
        set. Both must be set, strict dates, start <= end, and neither target_date nor
        lookback_days may be set beside them (the same rules as seeds_loader/rules.py
        parse_run_conf for dag_run.conf). -#}
    {%- set raw_start = var('start_date', none) -%}
    {%- set raw_end = var('end_date', none) -%}
    {%- if raw_start is none and raw_end is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if raw_start is none or raw_end is none -%}
        {{ exceptions.raise_compiler_error("vars start_date and end_date go together: set both (a range of dates) or neither") }}
    {%- endif -%}
    {%- if var('target_date', none) is not none -%}
        {{ exceptions.raise_compiler_error("var target_date cannot be combined with start_date/end_date: give one date or a range") }}
    {%- endif -%}
    {%- if var('lookback_days', none) is not none -%}
        {{ exceptions.raise_compiler_error("var lookback_days cannot be combined with start_date/end_date: the range is the window") }}
    {%- endif -%}
    {%- set start = rr_parse_date(raw_start, 'var start_date') -%}
    {%- set end = rr_parse_date(raw_end, 'var end_date') -%}
    {%- if end < start -%}
        {{ exceptions.raise_compiler_error("var end_date (" ~ end.isoformat() ~ ") is before start_date (" ~ start.isoformat() ~ ")") }}
    {%- endif -%}
    {{- return({'start': start, 'end': end}) -}}
{%- endmacro %}


{% macro rr_target_date() -%}
    {#- The validated run date as a datetime.date (the end of a range), or none when no date is
        set. An empty string, 'none', 'null' or a date with spaces is refused, never taken for
        "every date": only the absence of target_date means every date. -#}
    {%- set range = rr_date_range() -%}
    {%- if range is not none -%}
        {{- return(range.end) -}}
    {%- endif -%}
    {%- set raw = var('target_date', none) -%}
    {%- if raw is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(rr_parse_date(raw, 'var target_date')) -}}
{%- endmacro %}


{% macro rr_lookback_days() -%}
    {#- Days before the run date that the run rebuilds: E - S for a range, else var
        lookback_days (1 when unset). -#}
    {%- set range = rr_date_range() -%}
    {%- if range is not none -%}
        {{- return((range.end - range.start).days) -}}
    {%- endif -%}
    {%- set raw = var('lookback_days', none) -%}
    {%- if raw is none -%}
        {{- return(1) -}}
    {%- endif -%}
    {%- set text = raw | string | trim -%}
    {%- if raw is boolean or not modules.re.fullmatch('[0-9]{1,4}', text) -%}
        {{ exceptions.raise_compiler_error("var lookback_days must be a whole number of days >= 0; got '" ~ text ~ "'") }}
    {%- endif -%}
    {{- return(text | int) -}}
{%- endmacro %}


{% macro rr_window(incremental) -%}
    {#- {'start': date|none, 'end': date|none} of the dates this run (re)builds and checks. -#}
    {%- set d = rr_target_date() -%}
    {%- if d is none -%}
        {{- return({'start': none, 'end': none}) -}}
    {%- elif incremental -%}
        {{- return({'start': d - modules.datetime.timedelta(days=rr_lookback_days()), 'end': d}) -}}
    {%- else -%}
        {{- return({'start': none, 'end': d}) -}}
    {%- endif -%}
{%- endmacro %}


{% macro rr_date_literal(d) -%}
    cast('{{ d.isoformat() }}' as date)
{%- endmacro %}


{% macro rr_kst_day_start_ms(d) -%}
    {#- Epoch milliseconds of 00:00 Asia/Seoul (UTC+9, no daylight saving) on date d. -#}
    {{- return((d - modules.datetime.date(1970, 1, 1)).days * 86400000 - rr_kst_offset_ms()) -}}
{%- endmacro %}


{% macro rr_date_filter(date_column, incremental) -%}
    {#- Predicate on an Asia/Seoul date column for the run window. -#}
    {{- rr_date_filter_for(date_column, rr_window(incremental)) -}}
{%- endmacro %}


{% macro rr_date_filter_for(date_column, w) -%}
    {#- Predicate on an Asia/Seoul date column for a window {'start', 'end'} (none: open). -#}
    {%- if w.start is not none and w.end is not none -%}
        {{ date_column }} between {{ rr_date_literal(w.start) }} and {{ rr_date_literal(w.end) }}
    {%- elif w.end is not none -%}
        {{ date_column }} <= {{ rr_date_literal(w.end) }}
    {%- elif w.start is not none -%}
        {{ date_column }} >= {{ rr_date_literal(w.start) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}


{% macro rr_epoch_ms_filter(ms_column, incremental) -%}
    {#- The same window on a raw epoch-millisecond column: plain integer bounds, so both
        warehouses use their indexes / zone maps and no time zone setting is involved. -#}
    {%- set w = rr_window(incremental) -%}
    {%- if w.end is none -%}
        1 = 1
    {%- else -%}
        {%- set end_ms = rr_kst_day_start_ms(w.end + modules.datetime.timedelta(days=1)) -%}
        {%- if w.start is not none -%}
            {{ ms_column }} >= {{ rr_kst_day_start_ms(w.start) }} and {{ ms_column }} < {{ end_ms }}
        {%- else -%}
            {{ ms_column }} < {{ end_ms }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro rr_plausible_event_ms(bound) -%}
    {#- Epoch-ms bounds of the plausible event window (vars plausible_event_date_min/max,
        Asia/Seoul dates, both inclusive): 'min' is 00:00 KST of the first date, 'max' the last
        millisecond of the last date. -#}
    {%- if bound == 'min' -%}
        {{- return(rr_kst_day_start_ms(rr_parse_date(var('plausible_event_date_min'), 'var plausible_event_date_min'))) -}}
    {%- else -%}
        {%- set last_day = rr_parse_date(var('plausible_event_date_max'), 'var plausible_event_date_max') -%}
        {{- return(rr_kst_day_start_ms(last_day + modules.datetime.timedelta(days=1)) - 1) -}}
    {%- endif -%}
{%- endmacro %}
