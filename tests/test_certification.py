"""Certified reports: an adversary's attempts to get a number into a report that no gate checked,
or checked on other data, and the refusals (one line each) that stop them.

Every case starts from the hand-made golden data set (tests/golden_data.py), built and certified
by one `dbt build`, then tries one bypass of issue #10:

1. models rebuilt without their tests (`dbt run`), and a `dbt build` killed after its models ran;
2. a gate that ran only in part (`--exclude` of the one test that sees the corruption);
3. raw data changed under the numbers: a load that commits during a `dbt build` (PostgreSQL), or
   after a complete build;
4. a re-delivery that changes an old date: the loader names it, the date and every later one lose
   their certification, and the daily run widens its window to re-check them;
5. a file swapped during a load (tests/test_load.py has the loader's side; here: the numbers).

Schema kpi (the published views) shows exactly the certified dates, so an analyst querying it
directly is protected as the exports are.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from exports.certification import certification, plan_window
from exports.report import GateRefusal, export_reports
from seeds_loader.load import load
from seeds_loader.settings import Settings
from seeds_loader.warehouse import connect
from tests.dbt_support import DBT, DBT_PROJECT_DIR, ROOT, query, run_dbt
from tests.golden_data import kst_ms, write_golden_files

pytestmark = pytest.mark.slow

D = dt.date(2015, 9, 15)  # the last date of the golden data
DATES = [dt.date(2015, 9, day) for day in range(8, 16)]  # every date with events
V4_VIEW_ON_D = f"{kst_ms('2015-09-15', '11:00:00')},4,view,200,"
V7_VIEW_ON_C = f"{kst_ms('2015-09-11', '12:00:00')},7,view,300,"
C = dt.date(2015, 9, 11)
EVENT_TYPE_TEST = "dbt_expectations_expect_column_values_to_be_in_set_stg_rr_events_event_type__view__addtocart__transaction"


@dataclass
class Warehouse:
    settings: Settings
    raw: Path
    target_path: Path
    golden: Path

    def dbt(self, *args: str, vars: dict | None = None, check: bool = True):
        return run_dbt(self.settings, *args, vars=vars, target_path=self.target_path, check=check)

    def deliver(self, edit: Callable[[list[str]], list[str]] | None = None) -> None:
        """Write a new delivery of events.csv (the golden one, edited) and load what changed."""
        lines = (self.golden / "events.csv").read_text().splitlines()
        if edit:
            lines = edit(lines)
        tmp = self.raw / ".events.csv.tmp"
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.raw / "events.csv")
        load(self.settings, self.raw, only_changed=True, progress=False)

    def refusal(self, d: dt.date, out: Path) -> str:
        with pytest.raises(GateRefusal) as refused:
            export_reports(self.settings, d, out)
        assert not out.exists() or not any(out.glob(f"*{d.isoformat()}*")), list(out.iterdir())
        return str(refused.value).removeprefix(f"no report for {d.isoformat()}: ")

    def background_build(self, log_path: Path, vars: dict) -> subprocess.Popen:
        """``dbt build`` on one thread, its output line by line (unbuffered) on ``stdout``."""
        command = [
            str(DBT), "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(self.target_path), "--log-path", str(log_path), "--threads", "1",
            "--vars", json.dumps(vars),
        ]  # fmt: skip
        env = {**os.environ, **self.settings.dbt_env(), "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen(
            command, cwd=DBT_PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def certified(self) -> list[dt.date]:
        return [
            r[0]
            for r in query(
                self.settings, "select kpi_date from qa.rr_date_certification where is_certified order by 1"
            )
        ]

    def published(self) -> list[dt.date]:
        return [
            r[0] for r in query(self.settings, "select kpi_date from kpi.mart_rr_funnel_daily order by 1")
        ]


def make_check(wh: Warehouse, reports: Path) -> subprocess.CompletedProcess:
    """What `make check` runs, on this warehouse and reports folder."""
    return subprocess.run(
        [sys.executable, "-m", "exports.pipeline", "check"],
        cwd=ROOT,
        env={**os.environ, **wh.settings.dbt_env(), "RR_REPORTS_DIR": str(reports)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def replace_line(old: str, new: str) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        assert lines.count(old) == 1, old
        return [new if line == old else line for line in lines]

    return edit


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> Path:
    return write_golden_files(tmp_path_factory.mktemp("golden") / "raw")


@pytest.fixture
def certified_warehouse(golden, new_warehouse, tmp_path) -> Callable[[str], Warehouse]:
    """A new warehouse of the golden data, every date built and certified by one `dbt build`."""

    def make(target: str) -> Warehouse:
        raw = tmp_path / f"raw_{target}"
        raw.mkdir()
        for src in golden.iterdir():
            (raw / src.name).write_bytes(src.read_bytes())
        settings = new_warehouse(target, data_dir=raw)
        load(settings, raw, progress=False)
        wh = Warehouse(settings, raw, tmp_path / f"target_{target}", golden)
        wh.dbt("build")
        assert wh.certified() == DATES
        assert wh.published() == DATES
        return wh

    return make


# ---------------------------------------------------------------------------------------------
# 1. models rebuilt without their tests
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_dbt_run_without_tests_certifies_nothing(target, certified_warehouse, tmp_path):
    wh = certified_warehouse(target)
    export_reports(wh.settings, D, tmp_path / "before")  # certified: the report exists
    # raw data in which one view of D became a purchase, then `dbt run` (no tests)
    wh.deliver(replace_line(V4_VIEW_ON_D, V4_VIEW_ON_D.replace(",view,", ",purchase,")))
    reason = wh.refusal(D, tmp_path / "after_load")
    assert reason.startswith("raw data changed since this date was checked (load 2 at ")
    assert reason.endswith(" UTC changed 2015-09-15 (events.csv))"), reason
    run = wh.dbt("run", vars={"target_date": D.isoformat()})
    assert "2015-09-15  NOT CERTIFIED: " in run.output
    reason = wh.refusal(D, tmp_path / "after_run")
    assert reason.startswith("mart_rr_") or reason.startswith("fact_rr_") or reason.startswith("stg_rr_"), (
        reason
    )
    assert " was rebuilt at " in reason and reason.endswith(
        " UTC after its last complete check (no gate test has run since)"
    )
    # the refusals wrote nothing; the earlier report of D stays as it was (make check: STALE)
    assert not (tmp_path / "after_run").exists() or not list((tmp_path / "after_run").iterdir())
    assert len(list((tmp_path / "before").iterdir())) == 6
    assert wh.certified() == DATES[:-2]  # the run's window (09-14 .. 09-15) lost its certification
    assert wh.published() == DATES[:-2]  # ... and analysts reading schema kpi do not see it
    built = query(
        wh.settings, "select count(*) from kpi_build.mart_rr_funnel_daily where kpi_date = %s", (D,)
    )
    assert built == [(1,)]  # the unchecked row exists, where consumers cannot see it
    export_reports(wh.settings, D - dt.timedelta(days=2), tmp_path / "older")  # still certified


def test_a_build_killed_after_its_models_certifies_nothing(certified_warehouse, tmp_path):
    wh = certified_warehouse("duckdb")
    proc = wh.background_build(tmp_path / "logs", vars={"target_date": D.isoformat()})
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if "OK created sql incremental model kpi_build.mart_rr_funnel_daily" in line:
            proc.send_signal(signal.SIGKILL)  # as an OOM killer or a lost worker would
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen[-20:])
    assert not any("on-run-end" in line for line in seen)
    reason = wh.refusal(D, tmp_path / "reports")
    assert " was rebuilt at " in reason and reason.endswith(" UTC after its last complete check"), reason
    assert D not in wh.published()
    # the history claims no more than happened: the builds are there, no test after them
    builds = query(
        wh.settings,
        "select count(*) from qa.rr_model_builds where model = 'mart_rr_funnel_daily' and window_end = %s",
        (D,),
    )
    assert builds == [(1,)]
    # a complete build certifies the date again
    wh.dbt("build", vars={"target_date": D.isoformat()})
    assert wh.certified() == DATES


# ---------------------------------------------------------------------------------------------
# 2. a gate that ran only in part
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_gate_that_ran_in_part_certifies_nothing(target, certified_warehouse, tmp_path):
    wh = certified_warehouse(target)
    wh.deliver(replace_line(V4_VIEW_ON_D, V4_VIEW_ON_D.replace(",view,", ",purchase,")))
    # the one test that sees the corruption is left out: every selected test passes
    run = wh.dbt("build", "--exclude", EVENT_TYPE_TEST, vars={"target_date": D.isoformat()})
    assert run.ok
    reason = wh.refusal(D, tmp_path / "reports")
    assert reason.startswith("gate_domain ran 15 of its 16 tests since "), reason
    assert "2015-09-15  NOT CERTIFIED: gate_domain ran 15 of its 16 tests" in run.output
    assert D not in wh.published()
    # the same with every test: the gate fails, and says so
    wh.dbt("build", vars={"target_date": D.isoformat()}, check=False)
    reason = wh.refusal(D, tmp_path / "reports")
    assert reason.startswith(f"gate_domain FAILED: {EVENT_TYPE_TEST} (fail, 1 failing rows)"), reason


# ---------------------------------------------------------------------------------------------
# 3. raw data changed under the numbers
# ---------------------------------------------------------------------------------------------
def test_a_load_committed_during_a_build_fails_the_build_and_certifies_nothing(certified_warehouse, tmp_path):
    """PostgreSQL lets a load commit while dbt runs: the run notices (raw load id at its start and
    its end), fails, and counts for nothing. The test holds dbt on a lock of the category tree
    (which the load does not touch) so that the load lands in the middle of the run, every time."""
    import psycopg

    wh = certified_warehouse("postgres")
    blocker = psycopg.connect(wh.settings.pg_conninfo)
    blocker.execute("lock table raw.raw_rr_category_tree in access exclusive mode")  # in a transaction
    proc = wh.background_build(tmp_path / "logs", vars={"target_date": D.isoformat()})
    try:
        deadline = time.monotonic() + 120
        with connect(wh.settings) as probe:
            while not probe.scalar(
                "select count(*) from pg_locks where not granted and relation = 'raw.raw_rr_category_tree'::regclass"
            ):
                assert proc.poll() is None and time.monotonic() < deadline, "dbt never waited on the tree"
                time.sleep(0.2)
            started = probe.scalar("select count(*) from qa.rr_invocations where phase = 'start'")
        # dbt is mid-run (its start recorded); a new delivery of D's events commits now (in a
        # thread with a deadline: were dbt to hold a lock the load needs, the test must not hang)
        errors: list[BaseException] = []

        def redeliver() -> None:
            try:
                wh.deliver(replace_line(V4_VIEW_ON_D, V4_VIEW_ON_D.replace(",view,", ",purchase,")))
            except BaseException as exc:  # reported below
                errors.append(exc)

        loader = threading.Thread(target=redeliver)
        loader.start()
        loader.join(timeout=120)
        assert not loader.is_alive(), "the load waited on the blocked dbt run"
        assert not errors, errors
    finally:
        blocker.rollback()
        blocker.close()
    output, _ = proc.communicate(timeout=300)
    assert started == 2  # the certifying build and this one
    assert proc.returncode != 0, output[-3000:]
    assert "the raw data changed during this dbt run (raw load 1 at its start, 2 at its end)" in output
    reason = wh.refusal(D, tmp_path / "reports")
    assert (
        reason.startswith("raw data changed since")
        or " was last built by a dbt run that did not finish, or under which the raw data changed" in reason
    ), reason
    # the run's own results count for nothing: no verdict of that invocation certifies anything
    assert D not in wh.certified()


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_load_after_a_complete_build_withdraws_what_it_changed(target, certified_warehouse, tmp_path):
    wh = certified_warehouse(target)
    raw_before = query(
        wh.settings,
        'select count(*) from raw.raw_rr_events where "timestamp" >= %s',
        (kst_ms("2015-09-15", "00:00:00"),),
    )
    # a new delivery adds events to D (a late batch): the summary would otherwise show 38 raw
    # events beside 36 staged ones
    wh.deliver(
        lambda lines: [
            *lines,
            f"{kst_ms('2015-09-15', '23:00:00')},8,view,100,",
            f"{kst_ms('2015-09-15', '23:01:00')},8,view,200,",
        ]
    )
    reason = wh.refusal(D, tmp_path / "reports")
    assert reason.startswith("raw data changed since this date was checked (load 2 at "), reason
    assert query(
        wh.settings,
        'select count(*) from raw.raw_rr_events where "timestamp" >= %s',
        (kst_ms("2015-09-15", "00:00:00"),),
    ) == [(raw_before[0][0] + 2,)]
    assert wh.certified() == DATES[:-1] and wh.published() == DATES[:-1]
    # a load that changes nothing (the same rows, reloaded) withdraws nothing
    load(wh.settings, wh.raw, progress=False)
    assert wh.certified() == DATES[:-1]
    # the daily run re-checks D, and the report follows the new data
    wh.dbt("build", vars={"target_date": D.isoformat()})
    result = export_reports(wh.settings, D, tmp_path / "reports")
    assert result.funnel["visitors"] == 7


def test_a_load_stopped_between_its_record_and_its_swap_stops_dbt_until_the_next_load(
    certified_warehouse, tmp_path
):
    """Spark has no transactions: a load records itself (its raw_rr_loads row withdraws the dates
    it changed), then swaps its new tables in, with raw.raw_rr_load_unfinished standing from its
    record to the end of the swap. The state a kill in between leaves (recorded, not swapped in)
    is made here on DuckDB by hand (tests/test_spark.py kills a real Spark load); the contract
    holds on every warehouse: nothing certifies the new load's dates, dbt refuses to start, and
    the next load reloads every table although no file differs from the load log."""
    wh = certified_warehouse("duckdb")
    view_to_purchase = replace_line(V4_VIEW_ON_D, V4_VIEW_ON_D.replace(",view,", ",purchase,"))
    with connect(wh.settings) as w:
        w.execute("create table main.events_of_load_1 as select * from raw.raw_rr_events")
    wh.deliver(view_to_purchase)  # load 2: recorded ...
    with connect(wh.settings) as w:  # ... but its events table not swapped in, and the marker left
        w.execute("delete from raw.raw_rr_events")
        w.execute("insert into raw.raw_rr_events select * from main.events_of_load_1")
        w.execute("create table raw.raw_rr_load_unfinished (load_id bigint)")
    # the record came first: the date the load changed lost its certification before its data
    reason = wh.refusal(D, tmp_path / "reports")
    assert reason.startswith("raw data changed since this date was checked (load 2 at "), reason
    assert wh.certified() == DATES[:-1] and wh.published() == DATES[:-1]
    run = wh.dbt("build", vars={"target_date": D.isoformat()}, check=False)
    assert not run.ok
    assert "raw.raw_rr_load_unfinished exists" in run.output, run.output[-3000:]
    assert "nothing is built on raw data no load describes" in run.output
    assert wh.certified() == DATES[:-1]
    # the next load: no file differs from the log, yet every table is reloaded
    report = load(wh.settings, wh.raw, only_changed=True, progress=False)
    assert report.load_id == 3 and len(report.loaded) == 4
    assert report.changes.describe() == "none"  # load 2 described these files: nothing new
    assert query(wh.settings, "select notes from raw.raw_rr_loads where load_id = 3") == [
        ("an earlier load stopped before it finished: every table reloaded",)
    ]
    assert query(wh.settings, "select count(*) from raw.raw_rr_events where event = 'purchase'") == [(1,)]
    with connect(wh.settings) as w:
        assert not w.table_exists("raw", "raw_rr_load_unfinished")
    wh.dbt("build", vars={"target_date": D.isoformat()}, check=False)
    reason = wh.refusal(D, tmp_path / "reports")
    assert reason.startswith(f"gate_domain FAILED: {EVENT_TYPE_TEST}"), reason


def test_the_export_reads_one_snapshot_that_no_load_can_change(certified_warehouse, tmp_path):
    """PostgreSQL: a load waits while an export reads (shared lock), says so, then commits."""
    wh = certified_warehouse("postgres")
    edited = tmp_path / "redelivery"
    edited.mkdir()
    for src in wh.raw.iterdir():
        (edited / src.name).write_bytes(src.read_bytes())
    with open(edited / "events.csv", "a") as fh:
        fh.write(f"{kst_ms('2015-09-15', '23:00:00')},8,view,100,\n")
    with connect(wh.settings) as reader, reader.snapshot():
        cert = certification(reader, D)
        assert cert.certified
        loader = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seeds_loader",
                "load",
                "--data-dir",
                str(edited),
                "--only-changed",
                "--quiet",
            ],
            cwd=ROOT,
            env={**os.environ, **wh.settings.dbt_env()},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        assert loader.poll() is None  # waiting for the reader
        assert reader.scalar("select max(load_id) from raw.raw_rr_loads") == 1
        assert certification(reader, D).certified  # the reader's snapshot is unchanged
    out, err = loader.communicate(timeout=120)
    assert loader.returncode == 0, err
    assert (
        err.startswith("warehouse busy: pid ") and "is reading the raw data; waiting for it to finish" in err
    )
    assert "load 2:" in out
    with connect(wh.settings) as after:
        assert not certification(after, D).certified


def hold_duckdb(path: Path, seconds: float) -> subprocess.Popen:
    """Another process that holds the DuckDB file for ``seconds`` (returns once it holds it)."""
    script = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(float(sys.argv[2]))"
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def export_cli(wh: Warehouse, out: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "exports", "--target-date", D.isoformat(), "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, **wh.settings.dbt_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_duckdb_busy_waits_and_says_so(certified_warehouse, tmp_path):
    """DuckDB admits one process: a second one says "warehouse busy" once and waits, no traceback."""
    wh = certified_warehouse("duckdb")
    holder = hold_duckdb(wh.settings.duckdb_path, 4)
    export = export_cli(wh, tmp_path / "reports")
    holder.wait(timeout=30)
    assert export.returncode == 0, export.stderr
    busy = [line for line in export.stderr.splitlines() if line.startswith("warehouse busy: ")]
    assert len(busy) == 1 and f"is held by process {holder.pid}" in busy[0] and "waiting up to" in busy[0]
    assert "Traceback" not in export.stderr
    # with no patience left it gives up in one line
    holder = hold_duckdb(wh.settings.duckdb_path, 6)
    impatient = export_cli(wh, tmp_path / "reports", RR_WAREHOUSE_WAIT_SECONDS="1")
    holder.kill()
    assert impatient.returncode == 2
    assert impatient.stderr.splitlines()[-1].startswith("error: warehouse busy: ")
    assert "gave up after 1 s" in impatient.stderr and "Traceback" not in impatient.stderr


# ---------------------------------------------------------------------------------------------
# 4. a re-delivery that changes an old date
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_redelivery_of_an_old_date_is_named_and_rechecked(target, certified_warehouse, tmp_path):
    wh = certified_warehouse(target)
    reports = tmp_path / "published"
    export_reports(wh.settings, D, reports)  # a report of D, certified when written
    assert make_check(wh, reports).returncode == 0
    bad = V7_VIEW_ON_C.replace(",view,", ",purchase,")  # a type gate_domain rejects, on 09-11
    lines = (wh.golden / "events.csv").read_text().splitlines()
    (wh.raw / "events.csv").write_text("\n".join(replace_line(V7_VIEW_ON_C, bad)(lines)) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "seeds_loader", "load", "--only-changed", "--quiet"],
        cwd=ROOT,
        env={**os.environ, **wh.settings.dbt_env()},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Asia/Seoul dates changed: 2015-09-11 (events.csv)" in proc.stdout
    assert "every date from 2015-09-11 on reads these rows" in proc.stdout
    # C and every later date lose their certification; the dates before keep theirs
    assert wh.certified() == DATES[:3] and wh.published() == DATES[:3]
    reason = wh.refusal(C, tmp_path / "reports")
    assert reason.startswith("raw data changed since this date was checked (load 2 at ")
    assert reason.endswith(" UTC changed 2015-09-11 (events.csv))"), reason
    # `make check`: the report of D on disk no longer describes certified numbers
    check = make_check(wh, reports)
    assert check.returncode == 1
    assert (
        "certified  3 of 8 dates with raw events (2015-09-08 .. 2015-09-15): 2015-09-08..2015-09-10"
        in check.stdout
    )
    assert (
        "  STALE    the report of 2015-09-15 shows numbers that are no longer certified: raw data changed"
        in check.stdout
    )
    assert "latest     rr_pipeline_summary_2015-09-15.txt (NOT certified now)" in check.stdout
    export_reports(wh.settings, C - dt.timedelta(days=1), tmp_path / "reports")
    # the daily run for D widens its window back to C ...
    with connect(wh.settings) as reader:
        window = plan_window(reader, D)
    assert (window.start, window.lookback_days) == (C, 4)
    assert window.note.startswith("rebuilt from 2015-09-11: 2015-09-11 was not certified: raw data changed")
    run = wh.dbt("build", vars=window.dbt_vars(), check=False)
    # ... where gate_domain catches the bad event, and no report of C .. D can be written
    assert not run.ok
    for d in (C, D):
        reason = wh.refusal(d, tmp_path / "reports")
        assert reason.startswith(f"gate_domain FAILED: {EVENT_TYPE_TEST} (fail, 1 failing rows)"), reason
    # the good data delivered again: the next run re-checks C .. D and certifies them
    wh.deliver()
    with connect(wh.settings) as reader:
        window = plan_window(reader, D)
    assert window.start == C
    wh.dbt("build", vars=window.dbt_vars())
    assert wh.certified() == DATES and wh.published() == DATES
    written = export_reports(wh.settings, D, tmp_path / "reports")
    summary = next(
        f for f in written.files if f.path.name.startswith("rr_pipeline_summary_")
    ).path.read_text()
    assert (
        "  checked window                    2015-09-11 .. 2015-09-15 (rebuilt from 2015-09-11: " in summary
    )


def test_a_daily_run_on_uncertified_history_does_not_certify(certified_warehouse, tmp_path):
    """A run of D's usual window while an earlier date is uncertified rebuilds D on stale history:
    D stays uncertified until a run from the first uncertified date, even if its tests pass."""
    wh = certified_warehouse("duckdb")
    wh.deliver(lambda lines: [*lines, f"{kst_ms('2015-09-11', '18:00:00')},8,view,100,"])  # a late event of C
    run = wh.dbt("build", vars={"target_date": D.isoformat()})  # 09-14 .. 09-15 only: every test passes
    assert run.ok
    reason = wh.refusal(D, tmp_path / "reports")
    assert (
        "was built while an earlier date (2015-09-11) was not certified under these definitions: rebuild from that date"
        in reason
    ), reason
    # its tests, run again on their own, cannot certify it either
    wh.dbt("test", vars={"target_date": D.isoformat()})
    assert D not in wh.certified()
    wh.dbt("build", vars={"target_date": D.isoformat(), "lookback_days": 4})
    assert wh.certified() == DATES


# ---------------------------------------------------------------------------------------------
# 5. the history itself
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_the_history_holds_every_node_with_failing_rows(target, certified_warehouse, tmp_path):
    wh = certified_warehouse(target)
    wh.deliver(replace_line(V4_VIEW_ON_D, V4_VIEW_ON_D.replace(",view,", ",purchase,")))
    run = wh.dbt("build", vars={"target_date": D.isoformat(), "pipeline_run_id": "adversary-1"}, check=False)
    assert not run.ok
    rows = query(
        wh.settings,
        "select resource_type, status, count(*) from qa.rr_node_results where pipeline_run_id = 'adversary-1' "
        "group by 1, 2 order by 1, 2",
    )
    kinds = {(kind, status): n for kind, status, n in rows}
    # every model of the project: those upstream of the failing test built, the others skipped
    assert kinds[("model", "success")] >= 5 and kinds[("model", "skipped")] >= 5
    # 23 of staging, marts and kpi, 14 of qa (its history tables and views)
    assert kinds[("model", "success")] + kinds[("model", "skipped")] == 37
    assert kinds[("test", "fail")] == 1 and kinds[("test", "pass")] > 10 and kinds[("test", "skipped")] > 10
    assert kinds[("unit_test", "pass")] >= 1
    sample = query(
        wh.settings,
        "select sample_rows, failures, started_at, completed_at, execution_seconds, window_start, window_end "
        "from qa.rr_node_results where pipeline_run_id = 'adversary-1' and status = 'fail'",
    )[0]
    rows = json.loads(sample[0])
    assert sample[1] == 1 and len(rows) == 1
    assert (
        rows[0]["event_type"] == "purchase"
        and rows[0]["visitor_id"] == "4"
        and rows[0]["event_date"] == "2015-09-15"
    )
    assert sample[2] <= sample[3] and sample[4] >= 0
    assert (sample[5], sample[6]) == (D - dt.timedelta(days=1), D)
    # the original project's gate history, by its column names
    original = query(
        wh.settings,
        "select id, checked_at, dag_run_id, target_date, check_name, status, result_row_count, sample_rows "
        "from qa.quality_check_runs where dag_run_id = 'adversary-1' and status = 'FAIL'",
    )
    assert len(original) == 1 and original[0][4] == EVENT_TYPE_TEST and original[0][6] == 1
    assert json.loads(original[0][7]) == rows
    # every model build of the run, stamped in its own transaction
    builds = query(
        wh.settings,
        "select model, is_full_build, window_start, window_end from qa.rr_model_builds "
        "where pipeline_run_id = 'adversary-1' and model = 'stg_rr_events'",
    )
    assert builds == [("stg_rr_events", False, D - dt.timedelta(days=1), D)]
