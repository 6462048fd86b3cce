{#- qa.rr_definitions_lock: the committed definitions lock as rows (docs block rr_definitions), so
    that analysts see which definitions are official in this version of the project. A view
    re-created only when the lock changes (rr_view); a table on Spark: a view's text of a few
    hundred rows is more than a Hive metastore keeps. -#}

{{ config(materialized='table' if target.type == 'spark' else 'rr_view') }}

{%- set lock = rr_definitions_lock(required=false) if execute else {'entries': {}} -%}

with

entries as (

    {%- if lock.entries %}
    select
        lock_entries.kind,
        lock_entries.name,
        lock_entries.entry_version,
        lock_entries.md5,
        lock_entries.last_change
    from (
        values
        {%- for key in lock.entries | sort %}
        {%- set entry = lock.entries[key] %}
        (
            {{ rr_sql_text(key.split(' ', 1)[0]) }},
            {{ rr_sql_text(key.split(' ', 1)[1]) }},
            {{ entry.version | int }},
            {{ rr_sql_text(entry.md5) }},
            {{ rr_sql_text((entry.history or [{}])[-1].get('reason')) }}
        ){{ ',' if not loop.last }}
        {%- endfor %}
    ) as lock_entries (kind, name, entry_version, md5, last_change)
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as kind,
        cast(null as {{ dbt.type_string() }}) as name,
        cast(null as integer) as entry_version,
        cast(null as {{ dbt.type_string() }}) as md5,
        cast(null as {{ dbt.type_string() }}) as last_change
    where 1 = 0
    {%- endif %}

),

final as (

    select
        entries.kind,
        entries.name,
        entries.entry_version,
        entries.md5,
        entries.last_change,
        cast(
            {{ lock.definitions_version if lock.definitions_version is not none else 'null' }} as integer
        ) as definitions_version,
        {{ rr_sql_text(lock.definitions_sha256) }} as definitions_sha256
    from entries

)

select * from final
