"""A certified golden warehouse per target, cloned cheaply for each attack on it.

The golden data (tests/golden_data.py) is loaded, built and certified once per module and
target, and its reports of the last date exported; each test gets a clone (a copy of the DuckDB
file, ``create database ... template`` on PostgreSQL) so that an attack never leaks into another
test, and, when it edits the dbt project, a copy of the project folder (the repository's stays
untouched: tests run in parallel).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg

from exports.report import export_reports
from seeds_loader.load import load
from seeds_loader.settings import Settings
from tests.dbt_support import DBT, DBT_PROJECT_DIR, ROOT, DbtRun, query, run_dbt
from tests.golden_data import write_golden_files

D = dt.date(2015, 9, 15)  # the last date of the golden data
DATES = [dt.date(2015, 9, day) for day in range(8, 16)]


@dataclass
class Golden:
    """A certified warehouse of the golden data, with the reports of D exported into ``reports``."""

    settings: Settings
    target_path: Path
    reports: Path


def build_golden(new_warehouse, folder: Path, target: str) -> Golden:
    raw = write_golden_files(folder / "raw")
    settings = new_warehouse(target, data_dir=raw)
    load(settings, raw, progress=False)
    target_path = folder / "target"
    run_dbt(settings, "build", target_path=target_path)
    reports = folder / "reports"
    export_reports(settings, D, reports)
    return Golden(settings, target_path, reports)


def clone(golden: Golden, folder: Path, pg_databases: list[str]) -> Golden:
    """A copy of ``golden``'s warehouse and reports (its target folder too: a warm dbt parse)."""
    folder.mkdir(parents=True)
    settings = golden.settings
    if settings.target == "duckdb":
        path = folder / "warehouse.duckdb"
        shutil.copyfile(settings.duckdb_path, path)
        settings = replace(settings, duckdb_path=path)
    elif settings.target == "postgres":
        name = f"rr_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(settings.pg_conninfo_for("postgres"), autocommit=True) as conn:
            conn.execute(f'create database "{name}" template "{settings.pg_database}"')
        pg_databases.append(name)
        settings = replace(settings, pg_database=name)
    else:
        raise ValueError(settings.target)
    reports = folder / "reports"
    shutil.copytree(golden.reports, reports)
    target_path = folder / "target"
    shutil.copytree(golden.target_path, target_path, ignore=shutil.ignore_patterns("logs"))
    return Golden(settings, target_path, reports)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def project_copy(folder: Path) -> Path:
    """A copy of the dbt project (its packages included) that a test may edit."""
    copy = folder / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"), symlinks=True)
    return copy


def dbt_in(
    project: Path, settings: Settings, *args: str, target_path: Path, vars: dict | None = None
) -> DbtRun:
    """`dbt <args>` on an edited copy of the project (run_dbt runs the repository's)."""
    import json

    command = [str(DBT), *args, "--project-dir", str(project), "--profiles-dir", str(project)]
    command += ["--target-path", str(target_path), "--log-path", str(target_path / "logs")]
    if vars:
        command += ["--vars", json.dumps(vars)]
    env = {**os.environ, **settings.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    env.pop("DBT_PROFILES_DIR", None)
    proc = subprocess.run(command, env=env, cwd=project, capture_output=True, text=True, timeout=900)
    return DbtRun(args=list(args), returncode=proc.returncode, output=proc.stdout + proc.stderr, results=[])


def export_cli(settings: Settings, out: Path, d: dt.date = D, *extra: str) -> subprocess.CompletedProcess:
    """``python -m exports`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "exports", "--target-date", d.isoformat(), "--out", str(out), *extra],
        env={**os.environ, **settings.dbt_env()},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def make_check(settings: Settings, reports: Path) -> subprocess.CompletedProcess:
    """What `make check` runs, on this warehouse and reports folder."""
    return subprocess.run(
        [sys.executable, "-m", "exports.pipeline", "check"],
        cwd=ROOT,
        env={**os.environ, **settings.dbt_env(), "RR_REPORTS_DIR": str(reports)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def certification_of(settings: Settings, d: dt.date = D) -> tuple[bool, str | None, int | None]:
    [(certified, reason, version)] = query(
        settings,
        "select is_certified, reason, definitions_version from qa.rr_date_certification where kpi_date = %s",
        (d,),
    )
    return bool(certified), reason, version
