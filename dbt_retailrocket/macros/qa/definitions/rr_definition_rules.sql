{% macro rr_definition_rules() -%}
    {#- The rules behind every session-based number, in words, each with the definition it comes
        from: what a refusal names when one changes ("session gap 30 min -> 60 min (macro
        rr_session_gap_ms)") and what a report says it was made under. -#}
    {%- set gap_ms = rr_session_gap_ms() | trim | int -%}
    {%- set gap = ((gap_ms // 60000) ~ ' min') if gap_ms % 60000 == 0 else (gap_ms ~ ' ms') -%}
    {%- set hours = var('asia_seoul_utc_offset_hours') -%}
    {%- set split = 'Asia/Seoul date (UTC' ~ ('+' if hours >= 0 else '') ~ hours ~ ')' -%}
    {{- return({
        'session_gap': {'label': 'session gap', 'value': gap, 'source': 'macro rr_session_gap_ms'},
        'date_split': {'label': 'session date split', 'value': split, 'source': 'var asia_seoul_utc_offset_hours'},
        'quality_gates': {'label': 'quality gates', 'value': var('quality_gates'), 'source': 'var quality_gates'},
        'session_rule': {'label': 'session rule', 'source': none,
            'value': 'a new session after more than ' ~ gap ~ ' without an event, or at a change of ' ~ split},
    }) -}}
{%- endmacro %}
