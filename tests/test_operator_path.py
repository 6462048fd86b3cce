"""The operator's commands besides the DAG: the original project's Make targets, `make run-linux`
(the whole pipeline for one date without Airflow), `make psql` on DuckDB, and the native Airflow
helper's refusals (it never touches a process it did not start)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from exports.manifest import manifest_name, report_names
from seeds_loader.warehouse import connect
from tests.airflow_support import ROOT, subprocess_env, warehouse_env
from tests.golden_data import write_golden_files

NATIVE = ROOT / "airflow" / "ops" / "native.py"


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in (env or os.environ).items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_original_projects_targets_exist() -> None:
    plain = re.sub(r"\x1b\[[0-9;]*m", "", _make("help").stdout)
    listed = set(re.findall(r"(?m)^\s+([a-z][a-z-]*)\s", plain))
    original = {"up", "init", "run-dag", "check", "run-linux", "psql", "logs", "fmt", "lint", "down"}
    native = {"airflow", "airflow-down", "airflow-status", "trigger"}
    assert original | native <= listed, (original | native) - listed


def _pipeline(command: str, env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exports.pipeline", command],
        cwd=ROOT,
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_run_linux_runs_one_date_and_refuses_a_date_the_data_do_not_cover(
    make_settings, tmp_path: Path
) -> None:
    settings = make_settings("duckdb")
    write_golden_files(settings.data_dir)
    reports = tmp_path / "reports"
    env = subprocess_env(warehouse_env(settings, reports))

    done = _pipeline("run-linux", env, DATE="2015-09-14")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "events.csv: loaded" in done.stdout
    written = sorted(p.name for p in reports.iterdir())
    d = dt.date(2015, 9, 14)
    assert written == sorted([*report_names(d).values(), manifest_name(d)])
    summary = (reports / "rr_pipeline_summary_2015-09-14.txt").read_text()
    assert "CERTIFIED" in summary

    with connect(settings, create=False) as wh:
        invocations = wh.scalar("select count(*) from qa.rr_invocations")
    refused = _pipeline("run-linux", env, DATE="2015-09-20")
    assert refused.returncode == 2
    assert "events.csv: unchanged" in refused.stdout  # the load of what changed ran first
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith("error: the raw data ends on 2015-09-15 (the raw events run from ")
    )
    assert "nothing covers 2015-09-20" in refused.stderr
    assert sorted(p.name for p in reports.iterdir()) == written  # nothing else written
    with connect(settings, create=False) as wh:
        assert wh.scalar("select count(*) from qa.rr_invocations") == invocations  # no dbt run

    # the last day of the golden data is partial: a warning, and the run goes on
    partial = _pipeline("run-linux", env, DATE="2015-09-15")
    assert partial.returncode == 0, partial.stdout[-3000:] + partial.stderr[-3000:]
    assert "warning: 2015-09-15 is the last day of the raw data and partial" in partial.stdout

    # make psql on DuckDB without its CLI: a read-only Python console on the warehouse
    shell = subprocess.run(
        [sys.executable, "-m", "exports.pipeline", "sql"],
        cwd=ROOT,
        env={**env, "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin"},
        input='print("events", con.sql("select count(*) from raw.raw_rr_events").fetchall()[0][0])\n',
        capture_output=True,
        text=True,
        timeout=120,
    )
    with connect(settings, create=False) as wh:
        events = wh.scalar("select count(*) from raw.raw_rr_events")
    assert f"events {events}" in shell.stdout, shell.stdout + shell.stderr
    assert "read only" in shell.stderr  # the banner


def _native(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(NATIVE), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_native_airflow_never_signals_a_process_it_did_not_start(tmp_path: Path) -> None:
    """A PID file whose PID now belongs to another process (the PID was reused) is not ours."""
    home = tmp_path / "airflow_home"
    env = subprocess_env({"AIRFLOW_HOME": str(home), "RR_AIRFLOW_DATABASE": "rr_never_created_airflow"})
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        (home / "native").mkdir(parents=True)
        for name in ("api-server", "scheduler"):
            (home / "native" / f"{name}.pid").write_text(f"{bystander.pid} 1\n")  # wrong start time
        status = _native(env, "status")
        assert status.returncode == 1
        assert (
            "api-server      NOT RUNNING" in status.stdout and "start it with `make airflow`" in status.stdout
        )
        trigger = _native(env, "trigger", "--date", "2015-09-18")
        assert trigger.returncode == 1
        assert "error: the native Airflow is not running: start it with `make airflow`" in trigger.stderr
        down = _native(env, "down")
        assert down.returncode == 0 and "Airflow (native) is not running" in down.stdout
        assert bystander.poll() is None  # still alive: not signalled
        assert not list((home / "native").glob("*.pid"))  # the stale PID files are gone
        bad = _native(env, "trigger", "--date", "2015-02-30")
        assert bad.returncode == 1 and "DATE is not a real calendar date: '2015-02-30'" in bad.stderr
    finally:
        os.killpg(bystander.pid, signal.SIGKILL)
        bystander.wait()


def test_native_airflow_refuses_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = subprocess_env(
            {
                "AIRFLOW_HOME": str(tmp_path / "home"),
                "RR_AIRFLOW_PORT": str(port),
                "RR_AIRFLOW_DATABASE": "rr_x_airflow",
            }
        )
        up = _native(env, "up")
    assert up.returncode == 1
    assert (
        f"error: 127.0.0.1:{port} is in use by another program: stop it, or set RR_AIRFLOW_PORT" in up.stderr
    )
    assert not (tmp_path / "home" / "native").exists() or not list(
        (tmp_path / "home" / "native").glob("*.pid")
    )


WORKER_MAPS = r"""
import json, sys
from airflow.executors.local_executor import LocalExecutor
from exports.airflow_executor import PreloadingLocalExecutor

executor = {"plain": LocalExecutor, "preloading": PreloadingLocalExecutor}[sys.argv[1]](parallelism=2)
executor.start()
try:
    found = {}
    for pid in executor.workers:
        with open(f"/proc/{pid}/maps") as maps:
            found[pid] = "_duckdb" in maps.read()
finally:
    executor.end()
# The workers log to the same stdout while they start: the verdict goes to a file of its own.
with open(sys.argv[2], "w") as out:
    json.dump(found, out)
"""


@pytest.mark.parametrize("kind", ["plain", "preloading"])
def test_the_executor_forks_its_workers_with_dbt_already_imported(tmp_path: Path, kind: str) -> None:
    """The scheduler's executor (exports/airflow_executor.py) imports dbt and the warehouse's
    adapter before it forks its workers, so the task processes forked from them start with dbt
    loaded: the workers have DuckDB's library mapped before they ran any task, which the plain
    LocalExecutor's workers do not."""
    env = {**subprocess_env(), "AIRFLOW_HOME": str(tmp_path), "RR_TARGET": "duckdb"}
    verdict = tmp_path / "workers.json"
    done = subprocess.run(
        [sys.executable, "-c", WORKER_MAPS, kind, str(verdict)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    workers = json.loads(verdict.read_text())
    assert len(workers) == 2, done.stdout + done.stderr[-3000:]
    assert set(workers.values()) == {kind == "preloading"}


PROJECT_MODULES_AFTER_PRELOAD = r"""
import sys
from exports.airflow_executor import preload, preload_modules

for target in ("duckdb", "postgres", "spark"):
    assert set(preload(preload_modules(target)).values()) == {"ok"}, target
print(sorted(m for m in sys.modules if m.split(".")[0] in ("exports", "seeds_loader", "tests")))
"""


def test_the_scheduler_imports_no_module_of_the_project() -> None:
    """The scheduler lives for days and every task process is forked from it: a project module it
    had imported would reach the tasks as the copy of the scheduler's start, and a fix to the
    certification or the exports would not apply. After importing the executor and preloading
    for every warehouse, only the executor's own module (and its package, which imports nothing)
    is loaded; every adapter imports."""
    done = subprocess.run(
        [sys.executable, "-c", PROJECT_MODULES_AFTER_PRELOAD],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "['exports', 'exports.airflow_executor']", done.stdout[-2000:]


def test_the_native_airflow_and_the_stack_run_the_same_scheduler_settings() -> None:
    """The native Airflow and the compose stack name the same executor and scheduler loop."""
    import yaml

    sys.path.insert(0, str(NATIVE.parent))
    try:
        import native
    finally:
        sys.path.remove(str(NATIVE.parent))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-airflow-common"]["environment"]
    assert (
        compose["AIRFLOW__CORE__EXECUTOR"]
        == native.EXECUTOR
        == "exports.airflow_executor.PreloadingLocalExecutor"
    )
    from exports.airflow_executor import PreloadingLocalExecutor  # what the name resolves to

    assert PreloadingLocalExecutor.__module__ + ".PreloadingLocalExecutor" == native.EXECUTOR
    assert (
        compose["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"] == native.SCHEDULER_IDLE_SLEEP_TIME == "0.2"
    )
