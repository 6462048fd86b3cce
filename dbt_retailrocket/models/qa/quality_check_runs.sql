{#- qa.quality_check_runs: the original project's gate history (REFERENCE.md), by its column names. -#}

with

rr_node_results as (

    select * from {{ ref('rr_node_results') }}

),

final as (

    select
        rr_node_results.invocation_id || '/' || rr_node_results.name as id,
        rr_node_results.completed_at as checked_at,
        rr_node_results.pipeline_run_id as dag_run_id,
        rr_node_results.target_date,
        rr_node_results.name as check_name,
        case rr_node_results.status
            when 'pass' then 'PASS'
            when 'warn' then 'WARN'
            when 'skipped' then 'SKIPPED'
            else 'FAIL'
        end as status,
        rr_node_results.failures as result_row_count,
        rr_node_results.sample_rows,
        rr_node_results.gate,
        rr_node_results.model,
        rr_node_results.window_start,
        rr_node_results.window_end,
        rr_node_results.invocation_id
    from rr_node_results
    where rr_node_results.resource_type = 'test'

)

select * from final
