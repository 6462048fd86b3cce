"""Report side of retailrocket-kpi: the certification (certification.py), the reports of a date
(report.py: funnel, cohort and CRM CSVs, the HTML page, the pipeline summary), the operator's
commands (pipeline.py) and the Airflow executor (airflow_executor.py).

Importing the package imports none of its modules: the scheduler imports
``exports.airflow_executor`` and forks every task process from itself, so a module imported
here would reach the tasks as the copy the scheduler loaded, not the file as it is now.
"""
