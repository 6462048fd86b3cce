"""`make lint`: the Python code (ruff) and the dbt SQL (sqlfluff, dbt templater) pass, and the
SQL linter really lints.

The commands are the Makefile's, run with the venv's executables and the project's own
configuration (pyproject.toml [tool.ruff], dbt_retailrocket/.sqlfluff and .sqlfluffignore). Only
where dbt writes differs: each test compiles into its own temporary folder against its own
throw-away DuckDB file, so a test never touches dbt_retailrocket/target nor waits for the lock of
a `make lint` running beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = ROOT / "dbt_retailrocket"
BIN = Path(sys.executable).parent
# the dbt folders `make lint` passes to sqlfluff (those that exist; .sqlfluffignore skips macros)
SQL_DIRS = [
    d for d in ("models", "macros", "tests", "analyses", "snapshots") if (DBT_PROJECT_DIR / d).is_dir()
]


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _sqlfluff(project_dir: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`sqlfluff <args>` in `project_dir` as `make lint` runs it, dbt's output kept in tmp_path."""
    extra_config = tmp_path / "sqlfluff_test.cfg"
    extra_config.write_text(f"[sqlfluff:templater:dbt]\ntarget_path = {tmp_path / 'dbt_target'}\n")
    env = {
        **os.environ,
        "RR_TARGET": "duckdb",
        "RR_DUCKDB_PATH": str(tmp_path / "lint.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    env.pop("DBT_PROFILES_DIR", None)  # .sqlfluff names the profiles folder
    return _run([str(BIN / "sqlfluff"), *args, "--config", str(extra_config)], project_dir, env)


def test_make_lint_passes(tmp_path):
    failures = []
    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        proc = _run([str(BIN / command[0]), *command[1:]], ROOT)
        if proc.returncode != 0:
            failures.append(f"$ {' '.join(command)}\n{proc.stdout}{proc.stderr}")
    proc = _sqlfluff(DBT_PROJECT_DIR, tmp_path, "lint", *SQL_DIRS)
    if proc.returncode != 0:
        failures.append(f"$ sqlfluff lint {' '.join(SQL_DIRS)}\n{proc.stdout}{proc.stderr[-4000:]}")
    assert not failures, "make lint fails (make fmt fixes most of it):\n\n" + "\n\n".join(failures)


# A model in the project's style but for three faults the configured rules must each catch; it
# refs a model and calls a project macro, so it only compiles through the dbt templater.
BAD_MODEL = """\
with

events as (

    select * from {{ ref('fact_rr_events') }}

),

daily as (

    select
        event_date,
        count(distinct visitor_id) as visitors,
        {{ rr_count_views() }} as view_count,
        count(distinct case when event_type = 'transaction' then transaction_id end) as purchase_count,
        COUNT(*) AS event_count
    from events
    group by 1

)

select * from daily
      where event_date is not null
"""


def test_sql_linter_is_live(tmp_path):
    # a copy of the dbt project (its .sqlfluff and .sqlfluffignore included) with one bad model:
    # the repository's models folder is never written to
    project = tmp_path / "dbt_retailrocket"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    bad_model = project / "models" / "marts" / "lint_probe_bad_style.sql"
    bad_model.write_text(BAD_MODEL)

    proc = _sqlfluff(project, tmp_path, "lint", "--format", "json", str(bad_model.relative_to(project)))

    assert proc.returncode == 1, f"sqlfluff should fail on the bad model:\n{proc.stdout}{proc.stderr[-4000:]}"
    (report,) = json.loads(proc.stdout)
    found = {(v["code"], v["start_line_no"]) for v in report["violations"]}
    assert {
        ("CP01", 16),  # capitalisation.keywords: `AS` among lower-case keywords
        ("CP03", 16),  # capitalisation.functions: `COUNT`
        ("LT02", 23),  # layout.indent: `where` indented under a top-level `select`
    } <= found, found
    codes = {code for code, _ in found}
    # the model compiled (ref and macro resolved), and the project's settings, not sqlfluff's
    # defaults, were applied: the 103-character line 15 is within max_line_length = 110
    assert not codes & {"TMP", "PRS", "LT05"}, found
