{% macro rr_definitions_state() -%}
    {#- The definitions this invocation runs under, compared with the lock:
        {sha256, version (the lock's, when the sha256 is the lock's; else none), problem (how they
        differ from the lock, one line; none when they do not), current (rr_definitions_current;
        none when known by their key), key (rr_definitions_key), key_known}.
        Files whose key is recorded as making the lock's definitions are not computed again.
        An invocation whose version is none certifies nothing (rr_verdict_dates_sql). -#}
    {%- set lock = rr_definitions_lock() -%}
    {%- set locked = lock.definitions_sha256 | string | lower -%}
    {%- set key = rr_definitions_key() -%}
    {%- if key is not none and rr_definitions_of_key(key) == locked -%}
        {{- return({'sha256': locked, 'version': lock.definitions_version | int, 'problem': none, 'current': none, 'key': key, 'key_known': true}) -}}
    {%- endif -%}
    {%- set current = rr_definitions_current() -%}
    {%- set sha256 = run_query('select ' ~ rr_sha256_sql(current.listing)).rows[0][0] | string | lower -%}
    {%- if sha256 == locked -%}
        {{- return({'sha256': sha256, 'version': lock.definitions_version | int, 'problem': none, 'current': current, 'key': key, 'key_known': false}) -}}
    {%- endif -%}
    {%- set differences = rr_definitions_diff(current, lock) -%}
    {%- set problem = 'definitions differ from the lock (definitions v' ~ lock.definitions_version ~ '): '
        ~ ((differences | join('; ')) if differences else 'the lock does not match its own entries (rewrite it with make lock-definitions)') -%}
    {%- if problem | length > 1900 -%}{%- set problem = problem[:1880] ~ ' ... (more)' -%}{%- endif -%}
    {{- return({'sha256': sha256, 'version': none, 'problem': problem, 'current': current, 'key': key, 'key_known': false}) -}}
{%- endmacro %}
