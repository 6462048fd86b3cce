"""Running the real dbt project against a test warehouse, and reading tables back.

Every dbt call is a subprocess of the venv's ``dbt`` with the warehouse settings of the test in
its environment (exactly what an analyst or the Makefile does), and its own target path so
tests never touch ``dbt_retailrocket/target``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seeds_loader.settings import Settings
from seeds_loader.warehouse import connect

ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = ROOT / "dbt_retailrocket"
DBT = Path(sys.executable).parent / "dbt"
# the tables dbt builds (schema kpi holds views of kpi_build: the certified dates only)
BUILT_SCHEMAS = ("staging", "mart", "kpi_build")


@dataclass
class DbtRun:
    args: list[str]
    returncode: int
    output: str
    results: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def statuses(self) -> dict[str, str]:
        return {r["unique_id"]: r["status"] for r in self.results}

    def failed(self) -> dict[str, dict[str, Any]]:
        return {r["unique_id"]: r for r in self.results if r["status"] in ("fail", "error")}


def run_dbt(
    settings: Settings,
    *args: str,
    vars: dict[str, Any] | None = None,
    target_path: Path,
    check: bool = True,
    timeout: int = 900,
) -> DbtRun:
    target_path.mkdir(parents=True, exist_ok=True)
    command = [str(DBT), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    command += ["--target-path", str(target_path), "--log-path", str(target_path / "logs")]
    if vars:
        command += ["--vars", json.dumps(vars)]
    env = {**os.environ, **settings.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    env.pop("DBT_PROFILES_DIR", None)
    proc = subprocess.run(
        command, env=env, cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=timeout
    )
    results_file = target_path / "run_results.json"
    results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
    if results_file.exists():
        results_file.unlink()  # never read a previous run's results
    run = DbtRun(
        args=list(args), returncode=proc.returncode, output=proc.stdout + proc.stderr, results=results
    )
    if check and not run.ok:
        raise AssertionError(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{run.output[-6000:]}")
    return run


def tables(settings: Settings, schemas: tuple[str, ...] = BUILT_SCHEMAS) -> list[str]:
    with connect(settings, create=False) as wh:
        if settings.target == "spark":  # no information_schema: SHOW TABLES (views included)
            found = []
            for schema in schemas:
                if wh.query("show databases like %s", (schema,)):
                    rows = wh.query(f"show tables in {schema}")
                    found += [f"{schema}.{name}" for _, name, temporary in rows if not temporary]
            return sorted(found)
        placeholders = ", ".join(["%s"] * len(schemas))
        rows = wh.query(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_schema in ({placeholders}) order by 1",
            schemas,
        )
    return [r[0] for r in rows]


def table_rows(settings: Settings, table: str, where: str | None = None) -> tuple[list[str], list[tuple]]:
    """All rows of a table in a total order (every column, in table order), as Python values."""
    with connect(settings, create=False) as wh:
        schema, name = table.split(".")
        columns = wh.columns(schema, name)
        order = ", ".join(str(i + 1) for i in range(len(columns)))
        sql = f"select * from {table}" + (f" where {where}" if where else "") + f" order by {order}"
        return columns, wh.query(sql)


def snapshot(
    settings: Settings, schemas: tuple[str, ...] = BUILT_SCHEMAS
) -> dict[str, tuple[list[str], list[tuple]]]:
    return {t: table_rows(settings, t) for t in tables(settings, schemas)}


def query(settings: Settings, sql: str, params: tuple | None = None) -> list[tuple]:
    with connect(settings, create=False) as wh:
        return wh.query(sql, params)


def assert_same_tables(left: dict, right: dict, label: str = "") -> None:
    assert sorted(left) == sorted(right), f"{label}: different table sets {sorted(left)} vs {sorted(right)}"
    for table in sorted(left):
        lcols, lrows = left[table]
        rcols, rrows = right[table]
        assert lcols == rcols, f"{label}: {table} columns differ: {lcols} vs {rcols}"
        if lrows != rrows:
            first = next((i for i, (a, b) in enumerate(zip(lrows, rrows, strict=False)) if a != b), None)
            detail = (
                f"first difference at row {first}: {lrows[first]} vs {rrows[first]}"
                if first is not None
                else f"row counts {len(lrows)} vs {len(rrows)}"
            )
            raise AssertionError(f"{label}: {table} differs ({len(lrows)} vs {len(rrows)} rows); {detail}")
