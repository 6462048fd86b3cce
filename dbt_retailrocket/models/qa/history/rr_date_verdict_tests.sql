{#- qa.rr_date_verdict_tests: an append-only history table (models/qa/_qa__models.yml has its contract and
    description; the run hooks append its rows). -#}
{{ rr_history_columns_sql() }}
