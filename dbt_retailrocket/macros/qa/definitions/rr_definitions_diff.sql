{% macro rr_definitions_diff(current, lock) -%}
    {#- What differs between the definitions `current` and the `lock`, one phrase each, rules
        first: "session gap 30 min -> 60 min (macro rr_session_gap_ms)", "var
        crm_high_intent_min_views 20 -> 3 (--vars)", "model mart_rr_cohort_weekly: SQL changed".
        An entry a rule already names (its source) is not named again. -#}
    {%- set phrases = [] -%}
    {%- set explained = [] -%}
    {%- set cli_vars = invocation_args_dict.get('vars') or {} -%}
    {%- for key, rule in current.rules.items() | sort if rule.source -%}
        {%- set locked = lock.rules.get(key) -%}
        {%- if locked is not none and tojson(locked, sort_keys=true) != tojson(rule.value, sort_keys=true) -%}
            {%- set given = ', --vars' if rule.source.startswith('var ') and rule.source[4:] in cli_vars else '' -%}
            {%- do phrases.append(rule.label ~ ' ' ~ rr_definition_value_text(locked) ~ ' → ' ~ rr_definition_value_text(rule.value) ~ ' (' ~ rule.source ~ given ~ ')') -%}
            {%- do explained.append(rule.source) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for key in ((current.entries.keys() | list) + (lock.entries.keys() | list)) | unique | sort if key not in explained -%}
        {%- set now, then = current.entries.get(key), lock.entries.get(key) -%}
        {%- set entry = now or then -%}
        {%- if now is none -%}
            {%- do phrases.append(key ~ ': in the lock, missing here') -%}
        {%- elif then is none -%}
            {%- do phrases.append(key ~ (' (--vars)' if entry.kind == 'var' and entry.name in cli_vars else '') ~ ': not in the lock') -%}
        {%- elif now.md5 != then.md5 -%}
            {%- if entry.kind == 'var' -%}
                {%- do phrases.append(key ~ ' ' ~ rr_definition_value_text(then.value) ~ ' → ' ~ now.text
                    ~ ' (' ~ ('--vars' if entry.name in cli_vars else 'dbt_project.yml') ~ ')') -%}
            {%- elif entry.kind in ('model', 'test', 'macro', 'source') -%}
                {%- do phrases.append(key ~ ': SQL changed') -%}
            {%- elif entry.kind == 'dbt' -%}
                {%- do phrases.append('dbt ' ~ then.get('value', '?') ~ ' → ' ~ now.text) -%}
            {%- else -%}
                {%- do phrases.append(key ~ ': text changed') -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(phrases) -}}
{%- endmacro %}


{% macro rr_definition_value_text(value) -%}
    {#- A value in a message: a text as is, anything else as JSON. -#}
    {{- return(value if value is string else tojson(value)) -}}
{%- endmacro %}
