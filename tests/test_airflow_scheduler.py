"""rr_funnel_daily under a real Airflow: the native Airflow of `make airflow` (airflow/ops/native.py).

One module-scoped session starts api-server, scheduler (LocalExecutor), dag-processor and triggerer
with the metadata in a PostgreSQL database of its own and the warehouse on PostgreSQL (tasks run in
parallel), on the hand-made golden data set, and drives it as an operator would:

1. what the scheduler sees before anything runs: 09:00 Asia/Seoul, catchup off, one active run,
   the next run's time;
2. a run triggered through the REST API (conf target_date, run id manual_backfill_<D>); unpausing
   for it also starts the scheduled run of the last 09:00 KST, which must stop in
   check_raw_freshness (the golden data end on 2015-09-15) with nothing downstream run;
3. a run triggered through the CLI (`airflow dags trigger --conf`);
   then `airflow backfill create` of two logical dates, one run at a time, each reporting the
   Asia/Seoul day before its logical date;
4. a run with an invalid conf.target_date: fails in its first task, nothing downstream runs;
5. a run on corrupted raw data: fails at its gate, no report of the date is left, and the failing
   gate is named in the task's log;
then tear-down stops every process it started and drops the metadata database.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pendulum
import psycopg
import pytest

from exports.report import report_names
from seeds_loader.rules import previous_kst_day
from seeds_loader.settings import Settings
from tests.airflow_support import AIRFLOW, DAG_ID, ROOT, subprocess_env, warehouse_env
from tests.golden_data import kst_ms, write_golden_files

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

OPS = ROOT / "airflow" / "ops"
NATIVE = OPS / "native.py"
D = dt.date(2015, 9, 15)  # the last date of the golden data (partial: the data end inside it)
D_CLI = dt.date(2015, 9, 14)
# `airflow backfill create` of two logical dates: each run reports the Asia/Seoul day before its own
BACKFILL_LOGICAL = (
    pendulum.datetime(2015, 9, 15, 9, tz="Asia/Seoul"),
    pendulum.datetime(2015, 9, 16, 9, tz="Asia/Seoul"),
)
V4_VIEW_ON_D = f"{kst_ms('2015-09-15', '11:00:00')},4,view,200,"
RUN_TIMEOUT = 900


def _ops_module(name: str):
    sys.path.insert(0, str(OPS))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(OPS))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Run:
    run_id: str
    state: str
    run_type: str
    states: dict[str, str]
    seconds: float = 0.0

    def tasks_in(self, *states: str) -> set[str]:
        return {t for t, s in self.states.items() if s in states}


@dataclass
class Session:
    settings: Settings
    home: Path
    reports_dir: Path
    env: dict[str, str]  # the components' environment (for the CLI)
    up_output: str
    client: Any
    details: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    reports: dict[str, dict[str, bytes]] = field(default_factory=dict)
    pids: list[int] = field(default_factory=list)

    def task_log(self, run_id: str, task_id: str) -> str:
        folder = self.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob("attempt=*.log")))

    def xcom(self, run_id: str, task_id: str) -> Any:
        path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.client._ok("GET", path)["value"]


def _wait(session: Session, run_id: str) -> Run:
    started = time.monotonic()
    run = session.client.wait(run_id, RUN_TIMEOUT, poll=3)
    states = {t["task_id"]: str(t["state"]) for t in session.client.task_instances(run_id)}
    return Run(run_id, run["state"], run["run_type"], states, time.monotonic() - started)


def _airflow_cli(session: Session, *args: str) -> str:
    """`airflow <args>` against the session's Airflow (its metadata database); must succeed."""
    done = subprocess.run(
        [str(AIRFLOW), *args], env=session.env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _reports(reports_dir: Path, d: dt.date) -> dict[str, bytes]:
    return {
        key: (reports_dir / name).read_bytes()
        for key, name in report_names(d).items()
        if (reports_dir / name).exists()
    }


@pytest.fixture(scope="module")
def session(new_warehouse, tmp_path_factory) -> Session:
    folder = tmp_path_factory.mktemp("native_airflow")
    settings = new_warehouse("postgres", data_dir=folder / "raw")
    write_golden_files(settings.data_dir)
    reports_dir = folder / "reports"
    home = folder / "airflow_home"
    metadata_db = f"rr_test_airflow_{uuid.uuid4().hex[:10]}"
    run_env = subprocess_env(
        warehouse_env(settings, reports_dir),
        {
            "AIRFLOW_HOME": str(home),
            "RR_AIRFLOW_PORT": str(_free_port()),
            "RR_AIRFLOW_DATABASE": metadata_db,
        },
    )
    native_mod = _ops_module("native")
    rest = _ops_module("airflow_rest")
    up = subprocess.run(
        [sys.executable, str(NATIVE), "up"],
        env=run_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    from seeds_loader.settings import load_settings

    native = native_mod.Native(load_settings(run_env, use_dotenv=False), run_env)
    session = Session(
        settings,
        home,
        reports_dir,
        native.env(),
        up.stdout + up.stderr,
        None,
        pids=[p for p in native.running().values() if p],
    )
    try:
        assert up.returncode == 0, session.up_output[-4000:]
        session.client = native.client()
        client = session.client
        session.details = client.dag_details()

        # 2. through the REST API (unpausing also starts the scheduled run of the last 09:00 KST)
        client.set_paused(False)
        rest_id = client.trigger(
            {"target_date": D.isoformat()}, rest.backfill_run_id({"target_date": D.isoformat()})
        )
        session.runs["rest"] = _wait(session, rest_id)
        session.reports["rest"] = _reports(reports_dir, D)
        scheduled = [r for r in client.runs() if r["run_type"] == "scheduled"]
        assert scheduled, "unpausing started no scheduled run"
        session.runs["scheduled"] = _wait(session, scheduled[-1]["dag_run_id"])

        # 3. through the CLI
        cli_id = f"cli_{D_CLI.isoformat()}"
        _airflow_cli(
            session,
            "dags",
            "trigger",
            DAG_ID,
            "--run-id",
            cli_id,
            "--conf",
            json.dumps({"target_date": D_CLI.isoformat()}),
        )
        session.runs["cli"] = _wait(session, cli_id)
        session.reports["cli"] = _reports(reports_dir, D_CLI)

        # 3b. Airflow's own backfill: one run per logical date (09:00 KST), one at a time
        _airflow_cli(
            session,
            "backfill",
            "create",
            "--dag-id",
            DAG_ID,
            "--from-date",
            BACKFILL_LOGICAL[0].isoformat(),
            "--to-date",
            BACKFILL_LOGICAL[-1].isoformat(),
            "--max-active-runs",
            "1",
        )
        backfill = sorted(
            (r for r in client.runs() if r["run_type"] == "backfill"), key=lambda r: r["logical_date"]
        )
        assert len(backfill) == len(BACKFILL_LOGICAL), backfill
        for logical, found in zip(BACKFILL_LOGICAL, backfill, strict=True):
            name = f"backfill {previous_kst_day(logical)}"
            session.runs[name] = _wait(session, found["dag_run_id"])
            session.reports[name] = _reports(reports_dir, previous_kst_day(logical))
        session.details["backfill_runs"] = sorted(
            (r for r in client.runs() if r["run_type"] == "backfill"), key=lambda r: r["logical_date"]
        )

        # 4. an invalid date
        bad_id = client.trigger({"target_date": "2015-02-30"}, "bad_conf")
        session.runs["bad_conf"] = _wait(session, bad_id)

        # 5. the data of D re-delivered with an unknown event type
        events = settings.data_dir / "events.csv"
        lines = events.read_text().splitlines()
        assert lines.count(V4_VIEW_ON_D) == 1
        lines[lines.index(V4_VIEW_ON_D)] = V4_VIEW_ON_D.replace(",view,", ",purchase,")
        events.write_text("\n".join(lines) + "\n")
        session.reports["before gate"] = _reports(reports_dir, D)
        gate_id = client.trigger(
            {"target_date": D.isoformat()}, rest.backfill_run_id({"target_date": D.isoformat()})
        )
        session.runs["gate"] = _wait(session, gate_id)
        session.reports["gate"] = _reports(reports_dir, D)
        for name, run in session.runs.items():
            print(f"{name}: {run.run_id} {run.state} in {run.seconds:.0f} s")
        yield session
    finally:
        down = subprocess.run(
            [sys.executable, str(NATIVE), "down", "--drop-database"],
            env=run_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        session.up_output += down.stdout + down.stderr


def test_the_scheduler_sees_0900_seoul_catchup_off_one_active_run(session):
    details = session.details
    assert "imported" in session.up_output and "password" in session.up_output
    assert details["timetable_summary"] == "0 9 * * *"
    assert details["catchup"] is False
    assert details["max_active_runs"] == 1
    assert details["max_active_tasks"] > 1  # PostgreSQL: tasks run in parallel
    assert details["is_paused"] is True  # until someone unpauses it (here: for the REST run)
    next_run = pendulum.parse(details["next_dagrun_run_after"]).in_timezone("Asia/Seoul")
    assert (next_run.hour, next_run.minute) == (9, 0)
    # the scheduled run started by unpausing reports on the day before its logical date
    scheduled = session.runs["scheduled"]
    logical = pendulum.parse(details["next_dagrun_logical_date"])
    assert session.xcom(scheduled.run_id, "resolve_target_date") == previous_kst_day(logical).isoformat()


def test_a_run_triggered_through_the_rest_api_writes_the_reports(session):
    run = session.runs["rest"]
    assert run.run_id == f"manual_backfill_{D}"
    assert run.state == "success", {t: s for t, s in run.states.items() if s != "success"}
    # every task the scheduler knows of the DAG ran and succeeded (the dbt group's included)
    dag_tasks = {t["task_id"] for t in session.client._ok("GET", f"/api/v2/dags/{DAG_ID}/tasks")["tasks"]}
    assert run.tasks_in("success") == set(run.states) == dag_tasks
    assert len([t for t in dag_tasks if t.startswith("dbt.") and t.endswith("_model_build")]) >= 16
    reports = session.reports["rest"]
    assert sorted(reports) == ["cohort", "crm", "funnel", "html", "summary"]
    summary = reports["summary"].decode()
    assert re.search(rf"(?m)^airflow run id\s+{re.escape(run.run_id)}$", summary), summary
    assert "CERTIFIED" in summary
    funnel = reports["funnel"].decode().splitlines()
    row = dict(zip(funnel[0].split(","), funnel[1].split(","), strict=True))
    assert (row["kpi_date"], row["visitors"], row["sessions"], row["purchases"]) == (
        D.isoformat(),
        "6",
        "7",
        "2",
    )
    # D is the last day of the data: partial, a warning in check_raw_freshness, not a failure
    assert "is the last day of the raw data and partial" in session.task_log(
        run.run_id, "check_raw_freshness"
    )
    # the dbt tasks reached the test's PostgreSQL warehouse (not profiles.yml's defaults)
    with psycopg.connect(session.settings.pg_conninfo) as conn:
        ids = {r[0] for r in conn.execute("select distinct pipeline_run_id from qa.rr_node_results")}
    assert run.run_id in ids


def test_unpausing_on_historical_data_stops_in_check_raw_freshness(session):
    run = session.runs["scheduled"]
    assert run.run_type == "scheduled" and run.state == "failed"
    assert run.tasks_in("failed") == {"check_raw_freshness"}
    assert run.tasks_in("success") == {"resolve_target_date", "load_raw_if_changed"}
    assert run.tasks_in("upstream_failed") == set(run.states) - {
        "check_raw_freshness",
        "resolve_target_date",
        "load_raw_if_changed",
    }
    log = session.task_log(run.run_id, "check_raw_freshness")
    assert "the raw data ends on 2015-09-15" in log and "nothing covers" in log
    assert "up_for_retry" not in json.dumps(run.states)


def test_a_run_triggered_through_the_cli_writes_its_date(session):
    run = session.runs["cli"]
    assert run.state == "success", {t: s for t, s in run.states.items() if s != "success"}
    assert run.tasks_in("success") == set(run.states) == set(session.runs["rest"].states)
    assert sorted(session.reports["cli"]) == ["cohort", "crm", "funnel", "html", "summary"]
    assert "raw events cover 2015-09-14 completely" in session.task_log(run.run_id, "check_raw_freshness")


def test_airflow_backfill_create_runs_each_logical_date_for_its_previous_day_one_at_a_time(session):
    runs = session.details["backfill_runs"]
    for logical, found in zip(BACKFILL_LOGICAL, runs, strict=True):
        day = previous_kst_day(logical)
        run = session.runs[f"backfill {day}"]
        assert pendulum.parse(found["logical_date"]) == logical
        assert run.state == "success", {t: s for t, s in run.states.items() if s != "success"}
        assert run.tasks_in("success") == set(session.runs["rest"].states)
        assert session.xcom(run.run_id, "resolve_target_date") == day.isoformat()
        reports = session.reports[f"backfill {day}"]
        assert sorted(reports) == ["cohort", "crm", "funnel", "html", "summary"]
        summary = reports["summary"].decode()
        assert re.search(rf"(?m)^airflow run id\s+{re.escape(run.run_id)}$", summary), summary
        assert f"{day}" in reports["funnel"].decode().splitlines()[1]
    # --max-active-runs 1: the second run started after the first ended
    assert pendulum.parse(runs[0]["end_date"]) <= pendulum.parse(runs[1]["start_date"])


def test_an_invalid_target_date_fails_in_the_first_task(session):
    run = session.runs["bad_conf"]
    assert run.state == "failed"
    assert run.tasks_in("failed") == {"resolve_target_date"}
    assert run.tasks_in("upstream_failed") == set(run.states) - {"resolve_target_date"}
    assert "invalid dag_run.conf: target_date is not a real calendar date: '2015-02-30'" in session.task_log(
        run.run_id, "resolve_target_date"
    )


def test_a_failing_gate_stops_the_run_and_leaves_no_report(session):
    run = session.runs["gate"]
    assert run.run_id == f"manual_backfill_{D}_2"  # a repeat of the same date gets its own id
    assert run.state == "failed"
    assert run.tasks_in("failed") == {"dbt.stg_rr_events_model_build"}
    assert "export_reports" in run.tasks_in("upstream_failed")
    # no report written: the earlier one of D is left as it was (make check names it STALE)
    assert session.reports["before gate"] and session.reports["gate"] == session.reports["before gate"]
    log = session.task_log(run.run_id, "dbt.stg_rr_events_model_build")
    assert "quality gate failed" in log and "event_type" in log


def test_tear_down_leaves_no_process_and_no_database(session, request):
    # runs last in the module: the fixture's tear-down has not happened yet, so check it here
    native_mod = _ops_module("native")
    down = subprocess.run(
        [sys.executable, str(NATIVE), "down", "--drop-database"],
        env=subprocess_env(session.env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert down.returncode == 0, down.stdout + down.stderr
    assert all(not native_mod.group_members(pid) for pid in session.pids), session.pids
    with psycopg.connect(session.settings.pg_conninfo_for("postgres")) as conn:
        name = session.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].rsplit("/", 1)[1]
        assert conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is None
    assert not list((session.home / "native").glob("*.pid"))
