{#-
    generate_surrogate_key(field_list)

    Offline fallback of dbt_utils.generate_surrogate_key. The key is the md5 hex digest of the
    fields cast to the adapter's string type and joined with '-', where a NULL field is written
    as the text '_dbt_utils_surrogate_key_null_' (or as '' when the legacy var
    `surrogate_key_treat_nulls_as_empty_strings` is truthy). The text fed to md5 is exactly the
    one the real package builds, so both give byte-identical keys for the same inputs on DuckDB
    and PostgreSQL (tests/test_offline_packages.py proves it against the real package).

    field_list: a list of column names or SQL expressions, inserted as written.
-#}
{%- macro generate_surrogate_key(field_list) -%}
    {%- if field_list is string or field_list is mapping or field_list is not iterable -%}
        {{- exceptions.raise_compiler_error(
            "dbt_utils.generate_surrogate_key (retailrocket offline fallback): field_list must be a list of "
            ~ "column names or SQL expressions, got " ~ field_list | string
        ) -}}
    {%- endif -%}
    {%- if field_list | length == 0 -%}
        {{- exceptions.raise_compiler_error(
            "dbt_utils.generate_surrogate_key (retailrocket offline fallback): field_list is empty"
        ) -}}
    {%- endif -%}
    {%- set null_marker = '' if var('surrogate_key_treat_nulls_as_empty_strings', false) else '_dbt_utils_surrogate_key_null_' -%}
    {%- set string_type = dbt.type_string() -%}
    {%- set pieces = [] -%}
    {%- for field in field_list -%}
        {%- if not loop.first -%}
            {%- do pieces.append("'-'") -%}
        {%- endif -%}
        {%- do pieces.append("coalesce(cast(" ~ field ~ " as " ~ string_type ~ "), '" ~ null_marker ~ "')") -%}
    {%- endfor -%}
    {{- dbt.hash(dbt.concat(pieces)) -}}
{%- endmacro -%}
