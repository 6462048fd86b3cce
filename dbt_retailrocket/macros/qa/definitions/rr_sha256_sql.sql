{% macro rr_sha256_sql(text) -%}
    {#- SQL: the sha256 (hex) of a text's UTF-8 bytes. dbt's Jinja has md5 only; the warehouse
        computes it, Python's hashlib gives the same for the lock (exports/definitions.py). -#}
    {{- return(adapter.dispatch('rr_sha256_sql')(text)) -}}
{%- endmacro %}

{% macro default__rr_sha256_sql(text) -%}sha256({{ rr_sql_text(text) }}){%- endmacro %}

{% macro postgres__rr_sha256_sql(text) -%}encode(sha256(convert_to({{ rr_sql_text(text) }}, 'UTF8')), 'hex'){%- endmacro %}

{% macro spark__rr_sha256_sql(text) -%}sha2({{ rr_sql_text(text) }}, 256){%- endmacro %}
