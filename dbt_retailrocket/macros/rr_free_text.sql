{#-
    Free text that a run records and the reports write: the vars pipeline_run_id (Airflow passes
    its run_id) and window_note (why a run's window was widened).

    The rule is seeds_loader/rules.py free_text_problem (its docstring says why): absent (none)
    or a string of 1 .. max_length characters without a control character (Unicode Cc:
    \x00-\x1f, \x7f-\x9f) or a line/paragraph separator (U+2028, U+2029), so that the text can
    never forge a line of a key=value summary, a log or a CSV. Spaces (leading and trailing too)
    and format characters such as the zero-width space U+200B are allowed; an empty string and
    anything but a string are refused. tests/test_free_text.py feeds this macro and the Python
    rule the same inputs (macro rr_check_free_texts) and requires the same messages.

    A message never repeats the text: it names the first refused character, escaped as Python's
    repr (and rules.one_line) writes it, and its position (1 = the first character).
-#}

{% macro rr_free_text_limits() -%}
    {#- The longest value of each free-text var: seeds_loader/rules.py PIPELINE_RUN_ID_MAX and
        WINDOW_NOTE_MAX (tests/test_free_text.py checks they agree). -#}
    {{- return({'pipeline_run_id': 250, 'window_note': 900}) -}}
{%- endmacro %}


{% macro rr_free_text_problem(value, name, max_length) -%}
    {#- none when `value` is none or one line of free text of at most max_length characters,
        else why not (the words of seeds_loader/rules.py free_text_problem). -#}
    {%- if value is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set rule = name ~ ' must be one line of at most ' ~ max_length
        ~ ' characters without control characters' -%}
    {%- if value is not string -%}
        {%- if value is boolean -%}
            {%- set kind = 'a boolean' -%}
        {%- elif value is number -%}
            {%- set kind = 'a number' -%}
        {%- elif value is mapping -%}
            {%- set kind = 'a mapping' -%}
        {%- elif value.year is defined -%}
            {%- set kind = 'a date' -%}
        {%- elif value is sequence -%}
            {%- set kind = 'a list' -%}
        {%- else -%}
            {%- set kind = 'a value of another type' -%}
        {%- endif -%}
        {{- return(rule ~ '; got ' ~ kind ~ ', not text') -}}
    {%- endif -%}
    {%- if value == '' -%}
        {{- return(rule ~ '; got an empty string') -}}
    {%- endif -%}
    {#- the same pattern text as rules._REFUSED_RE and rules._LINE_BREAK_RE (a Jinja string
        literal unescapes \\ to \, so re receives \x00 ... as escapes) -#}
    {%- set refused = modules.re.search('[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]', value) -%}
    {%- if refused -%}
        {%- set char = refused.group(0) -%}
        {%- if modules.re.fullmatch('[\\n\\x0b\\x0c\\r\\x1c-\\x1e\\x85\\u2028\\u2029]', char) -%}
            {%- set what = 'a line break' -%}
        {%- else -%}
            {%- set what = 'a control character' -%}
        {%- endif -%}
        {#- repr of one refused character without its quotes: \n \r \t, \xHH, \uHHHH -#}
        {%- set escaped = ('%r' % char)[1:-1] -%}
        {{- return(rule ~ '; got ' ~ what ~ ' (' ~ escaped ~ ') at character ' ~ (refused.start() + 1)) -}}
    {%- endif -%}
    {%- if value | length > max_length -%}
        {{- return(rule ~ '; got ' ~ (value | length) ~ ' characters') -}}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}


{% macro rr_free_text_var(var_name, max_length=none) -%}
    {#- The validated value of the free-text var `var_name`: none when it is unset, null or empty,
        else the string itself; anything else is a compile error naming the var. An empty var is
        absent: an orchestrator's template with no value renders as '' (Airflow's operator vars
        cannot leave a key out). max_length defaults to the var's limit in rr_free_text_limits(). -#}
    {%- if max_length is none -%}
        {%- set limits = rr_free_text_limits() -%}
        {%- if var_name not in limits -%}
            {{ exceptions.raise_compiler_error("rr_free_text_var: no limit known for var " ~ var_name ~ "; pass max_length") }}
        {%- endif -%}
        {%- set max_length = limits[var_name] -%}
    {%- endif -%}
    {%- set value = var(var_name, none) -%}
    {%- if value == '' -%}{{ return(none) }}{%- endif -%}
    {%- set problem = rr_free_text_problem(value, 'var ' ~ var_name, max_length) -%}
    {%- if problem is not none -%}
        {{ exceptions.raise_compiler_error(problem) }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}


{% macro rr_check_free_texts(values, max_length, name='text') -%}
    {#- dbt run-operation rr_check_free_texts --args '{"values": [...], "max_length": n}': prints
        one JSON line with the verdict (none = valid, else the message) of every value, and one
        with rr_free_text_limits(), for tests/test_free_text.py. -#}
    {%- set verdicts = [] -%}
    {%- for value in values -%}
        {%- do verdicts.append(rr_free_text_problem(value, name, max_length)) -%}
    {%- endfor -%}
    {{ print('RR_FREE_TEXT_VERDICTS ' ~ tojson(verdicts)) }}
    {{ print('RR_FREE_TEXT_LIMITS ' ~ tojson(rr_free_text_limits())) }}
{%- endmacro %}


{% macro rr_check_free_text_vars() -%}
    {#- dbt run-operation rr_check_free_text_vars --vars '{...}': prints the validated vars
        pipeline_run_id and window_note as one JSON line, or fails as a build would (for
        tests/test_free_text.py). -#}
    {%- set checked = {} -%}
    {%- for var_name in ['pipeline_run_id', 'window_note'] -%}
        {%- do checked.update({var_name: rr_free_text_var(var_name)}) -%}
    {%- endfor -%}
    {{ print('RR_FREE_TEXT_VARS ' ~ tojson(checked)) }}
{%- endmacro %}
