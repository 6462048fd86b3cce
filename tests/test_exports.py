"""The report export: exact content, stable bytes, atomic writes, and the refusal after a failed gate."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

import exports.report as report_module
from exports.report import VOLATILE_SUMMARY_LABELS, GateRefusal, check_gates, export_reports, format_value
from seeds_loader.load import load
from seeds_loader.warehouse import connect
from tests.dbt_support import ROOT, query, run_dbt, table_rows
from tests.golden_data import write_golden_files

pytestmark = pytest.mark.slow

D = dt.date(2015, 9, 15)


@pytest.fixture(scope="module")
def golden_builds(new_warehouse, tmp_path_factory):
    data_dir = write_golden_files(tmp_path_factory.mktemp("golden") / "raw")
    builds = {}
    for target in ("duckdb", "postgres"):
        settings = new_warehouse(target)
        load(settings, data_dir, progress=False)
        target_path = tmp_path_factory.mktemp(f"target_{target}")
        run_dbt(settings, "build", target_path=target_path)
        builds[target] = (settings, target_path)
    return builds


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def stable_summary(text: str) -> list[str]:
    return [
        line for line in text.splitlines() if not line.startswith(VOLATILE_SUMMARY_LABELS + ("warehouse",))
    ]


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_reports_hold_exactly_the_golden_values(target, golden_builds, tmp_path):
    settings, _ = golden_builds[target]
    result = export_reports(settings, D, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "rr_cohort_weekly_2015-09-15.csv",
        "rr_crm_targets_2015-09-15.csv",
        "rr_funnel_daily_2015-09-15.csv",
        "rr_pipeline_summary_2015-09-15.txt",
    ]
    assert read(tmp_path / "rr_funnel_daily_2015-09-15.csv") == (
        "kpi_date,visitors,sessions,views,addtocarts,purchases,sessions_with_view,sessions_with_cart,"
        "sessions_with_purchase,sessions_with_view_and_cart,sessions_with_cart_and_purchase,"
        "cvr_session_to_purchase,cvr_view_to_cart,cvr_cart_to_purchase\n"
        "2015-09-15,6,7,29,4,2,5,3,2,2,1,0.2857,0.4000,0.3333\n"
    )
    cohort = read_csv(tmp_path / "rr_cohort_weekly_2015-09-15.csv")
    assert cohort[0] == [
        "kpi_date",
        "cohort_type",
        "cohort_week",
        "week_index",
        "activity_week",
        "cohort_size",
        "active_visitors",
        "retention_rate",
    ]
    assert cohort[1:] == [
        ["2015-09-15", "first_purchase", "2015-09-07", "0", "2015-09-07", "1", "1", "1.0000"],
        ["2015-09-15", "first_purchase", "2015-09-07", "1", "2015-09-14", "1", "1", "1.0000"],
        ["2015-09-15", "first_purchase", "2015-09-14", "0", "2015-09-14", "1", "1", "1.0000"],
        ["2015-09-15", "first_visit", "2015-09-07", "0", "2015-09-07", "3", "3", "1.0000"],
        ["2015-09-15", "first_visit", "2015-09-07", "1", "2015-09-14", "3", "2", "0.6667"],
        ["2015-09-15", "first_visit", "2015-09-14", "0", "2015-09-14", "4", "4", "1.0000"],
    ]
    crm_rows = read_csv(tmp_path / "rr_crm_targets_2015-09-15.csv")
    crm = [dict(zip(crm_rows[0], r, strict=True)) for r in crm_rows[1:]]
    assert [(r["segment_name"], r["segment_rank"], r["visitor_id"]) for r in crm] == [
        ("cart_abandoner_today", "1", "6"),
        ("cart_abandoner_today", "2", "2"),
        ("high_intent_viewer_7d_no_cart", "1", "3"),
        ("repeat_buyer", "1", "1"),
    ]
    assert crm[0]["last_event_at_kst"] == "2015-09-15 16:01:00.000"
    assert crm[3]["window_start_date"] == ""  # NULL: all history

    summary = read(tmp_path / "rr_pipeline_summary_2015-09-15.txt")
    for line in (
        "target date                         2015-09-15",
        "  raw.raw_rr_events                 37",
        "  exact duplicates removed          1",
        "  staging.stg_rr_events             36",
        "  mart.fact_rr_events               36",
        "  mart.fact_rr_sessions             7",
        "  kpi.mart_rr_cohort_weekly         6",
        "  kpi.mart_rr_crm_targets_daily     4",
        "  cart_abandoner_today              2 -> 2",
        "  high_intent_viewer_7d_no_cart     1 -> 1",
        "  repeat_buyer                      1 -> 1",
        "  cvr_session_to_purchase           0.2857",
    ):
        assert line in summary.splitlines(), line
    for gate in ("gate_domain", "gate_integrity", "gate_nulls", "gate_rowcount", "gate_kpi_range"):
        assert any(
            line.startswith(f"  {gate}") and (" pass " in line or " warn " in line)
            for line in summary.splitlines()
        )
    for f in result.files[:3]:
        assert f"{f.path.name}" in summary and f.sha256 in summary
    assert not list(tmp_path.glob(".*tmp*"))


def test_same_data_same_bytes_on_both_warehouses_and_on_reruns(golden_builds, tmp_path):
    duck, pg = golden_builds["duckdb"][0], golden_builds["postgres"][0]
    export_reports(duck, D, tmp_path / "a")
    export_reports(duck, D, tmp_path / "b")
    export_reports(pg, D, tmp_path / "c")
    for name in ("rr_funnel_daily", "rr_cohort_weekly", "rr_crm_targets"):
        files = [(tmp_path / x / f"{name}_2015-09-15.csv").read_bytes() for x in "abc"]
        assert files[0] == files[1] == files[2], name
    summaries = [read(tmp_path / x / "rr_pipeline_summary_2015-09-15.txt") for x in "abc"]
    assert summaries[0] == summaries[1]
    assert stable_summary(summaries[0]) == stable_summary(summaries[2])


def test_csv_values_are_the_mart_values(golden_builds, tmp_path):
    settings, _ = golden_builds["duckdb"]
    export_reports(settings, D, tmp_path)
    for name, table, order in (
        ("rr_cohort_weekly", "kpi.mart_rr_cohort_weekly", ("cohort_type", "cohort_week", "week_index")),
        ("rr_crm_targets", "kpi.mart_rr_crm_targets_daily", ("segment_name", "segment_rank")),
    ):
        columns, rows = table_rows(settings, table, where=f"kpi_date = '{D.isoformat()}'")
        rows.sort(key=lambda r: tuple(r[columns.index(c)] for c in order))
        expected = [columns] + [[format_value(v) for v in r] for r in rows]
        got = read_csv(tmp_path / f"{name}_2015-09-15.csv")
        assert got == expected, name


def test_a_failure_midway_leaves_no_report_and_no_stale_one(golden_builds, tmp_path, monkeypatch):
    settings, _ = golden_builds["duckdb"]
    export_reports(settings, D, tmp_path)  # an earlier, good export of the date
    real_render = report_module.render_csv
    calls = []

    def failing_render(columns, rows):
        calls.append(columns)
        if len(calls) == 3:  # the CRM file, after two CSVs were already written
            raise OSError("disk full")
        return real_render(columns, rows)

    monkeypatch.setattr(report_module, "render_csv", failing_render)
    with pytest.raises(OSError, match="disk full"):
        export_reports(settings, D, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_date_never_built_is_refused(golden_builds, tmp_path):
    settings, _ = golden_builds["duckdb"]
    with pytest.raises(GateRefusal, match="2015-09-20 was never built"):
        export_reports(settings, dt.date(2015, 9, 20), tmp_path)
    assert list(tmp_path.iterdir()) == []


def _record(
    settings, run_id: str, started: str, window: tuple[str, str] | None, results: list[tuple]
) -> None:
    start, end = window or (None, None)
    with connect(settings) as wh:
        for gate, test, status in results:
            wh.execute(
                "insert into qa.quality_check_runs (invocation_id, pipeline_run_id, run_started_at, target_date, "
                "window_start_date, window_end_date, gate, test_name, model, status, failures, execution_seconds) "
                "values (%s, %s, cast(%s as timestamp), cast(%s as date), cast(%s as date), cast(%s as date), "
                "%s, %s, 'm', %s, %s, 0.1)",
                (run_id, run_id, started, end, start, end, gate, test, status, 1 if status == "fail" else 0),
            )


ALL_PASS = [(g, f"t_{g}", "pass") for g in report_module.GATES]


def test_the_guard_reads_the_latest_run_covering_the_date(golden_builds):
    settings, _ = golden_builds["duckdb"]
    with connect(settings) as wh:
        wh.execute("create table qa.saved_runs as select * from qa.quality_check_runs")
        wh.execute("delete from qa.quality_check_runs")
    try:
        _record(settings, "p1", "2030-01-01 00:00:00", None, ALL_PASS)
        assert refusal_reasons(settings) == []
        # a newer run whose window does not hold D does not count
        _record(
            settings, "p2", "2030-01-02 00:00:00", ("2015-09-16", "2015-09-17"), [("gate_nulls", "x", "fail")]
        )
        assert refusal_reasons(settings) == []
        # a newer run covering D with one failing test: refused, the gate is named
        _record(
            settings,
            "p3",
            "2030-01-03 00:00:00",
            ("2015-09-14", "2015-09-15"),
            [*ALL_PASS[:2], ("gate_nulls", "t_gate_nulls", "fail"), *ALL_PASS[3:]],
        )
        assert refusal_reasons(settings) == ["gate_nulls FAILED: t_gate_nulls on m (fail, 1 failing rows)"]
        # the same pipeline run retried the failing task later and it passed (latest result per test)
        _record(
            settings,
            "p3",
            "2030-01-03 00:05:00",
            ("2015-09-14", "2015-09-15"),
            [("gate_nulls", "t_gate_nulls", "pass")],
        )
        assert refusal_reasons(settings) == []
        # a run that skipped a gate entirely is not enough
        _record(settings, "p4", "2030-01-04 00:00:00", ("2015-09-15", "2015-09-15"), ALL_PASS[:4])
        assert refusal_reasons(settings) == ["gate_kpi_range did not run"]
    finally:
        with connect(settings) as wh:
            wh.execute("delete from qa.quality_check_runs")
            wh.execute("insert into qa.quality_check_runs select * from qa.saved_runs")
            wh.execute("drop table qa.saved_runs")


def refusal_reasons(settings) -> list[str]:
    with connect(settings) as wh:
        return check_gates(wh, D).refusal_reasons()


def test_a_failed_gate_refuses_the_report_and_removes_the_old_one(golden_builds, tmp_path):
    settings, target_path = golden_builds["postgres"]
    export_reports(settings, D, tmp_path)
    assert len(list(tmp_path.iterdir())) == 4
    with connect(settings) as wh:
        wh.execute("update kpi.mart_rr_funnel_daily set cvr_cart_to_purchase = 2.0 where kpi_date = %s", (D,))
    try:
        run = run_dbt(
            settings,
            "build",
            "--select",
            "tag:gate_kpi_range",
            vars={"target_date": D.isoformat()},
            target_path=target_path,
            check=False,
        )
        assert not run.ok
        cli = subprocess.run(
            [sys.executable, "-m", "exports", "--target-date", D.isoformat(), "--out", str(tmp_path)],
            env=cli_env(settings),
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert cli.returncode == 1
        assert "gate_kpi_range FAILED" in cli.stderr and "cvr_cart_to_purchase" in cli.stderr
        assert list(tmp_path.iterdir()) == []
    finally:
        run_dbt(settings, "build", vars={"target_date": D.isoformat()}, target_path=target_path)
    assert query(
        settings, "select cvr_cart_to_purchase from kpi.mart_rr_funnel_daily where kpi_date = %s", (D,)
    ) == [(1 / 3,)]


def cli_env(settings) -> dict[str, str]:
    import os

    return {**os.environ, **settings.dbt_env()}


def test_cli_writes_the_reports_and_rejects_bad_dates(golden_builds, tmp_path):
    settings, _ = golden_builds["duckdb"]
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "exports",
            "--target-date",
            "2015-09-15",
            "--out",
            str(tmp_path),
            "--show-recent",
            "3",
        ],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ok.returncode == 0, ok.stderr
    assert str(tmp_path / "rr_pipeline_summary_2015-09-15.txt") in ok.stdout
    assert "2015-09-13" in ok.stdout  # the recent days table
    for bad in ("2015-02-30", "2015-9-15", "yesterday", "2015-09-15'; drop table x; --"):
        run = subprocess.run(
            [sys.executable, "-m", "exports", "--target-date", bad, "--out", str(tmp_path / "bad")],
            env=cli_env(settings),
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert run.returncode == 2 and "target_date" in run.stderr, (bad, run.stderr)
    assert not (tmp_path / "bad").exists()
