"""The report export: exact content, stable bytes, atomic writes, the refusal of a date that is not
certified (and the one-line errors of the command line)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import exports.report as report_module
from exports.definitions import read_lock
from exports.manifest import temp_name
from exports.report import ExportError, GateRefusal, export_reports, format_value, stable_summary_lines
from seeds_loader.load import load
from seeds_loader.rules import gates
from seeds_loader.warehouse import connect
from tests.attack_support import make_check
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
    return stable_summary_lines(text, "warehouse")


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
        "rr_report_2015-09-15.html",  # tests/test_report_html.py checks the page
        "rr_report_files_2015-09-15.sha256",  # the manifest: tests/test_manifest.py
    ]
    assert read(tmp_path / "rr_funnel_daily_2015-09-15.csv") == (
        "kpi_date,visitors,sessions,views,addtocarts,purchases,sessions_with_view,sessions_with_cart,"
        "sessions_with_purchase,cvr_session_to_purchase,cvr_view_to_cart,cvr_cart_to_purchase,"
        "sessions_with_view_and_cart,sessions_with_cart_and_purchase\n"
        "2015-09-15,6,7,29,4,2,5,3,2,0.2857,0.4000,0.3333,2,1\n"
    )
    cohort = read_csv(tmp_path / "rr_cohort_weekly_2015-09-15.csv")
    assert cohort[0] == [
        "cohort_week",
        "week_index",
        "cohort_size",
        "active_visitors",
        "retention_rate",
        "kpi_date",
        "cohort_type",
        "activity_week",
    ]
    assert cohort[1:] == [
        ["2015-09-07", "0", "1", "1", "1.0000", "2015-09-15", "first_purchase", "2015-09-07"],
        ["2015-09-07", "1", "1", "1", "1.0000", "2015-09-15", "first_purchase", "2015-09-14"],
        ["2015-09-14", "0", "1", "1", "1.0000", "2015-09-15", "first_purchase", "2015-09-14"],
        ["2015-09-07", "0", "3", "3", "1.0000", "2015-09-15", "first_visit", "2015-09-07"],
        ["2015-09-07", "1", "3", "2", "0.6667", "2015-09-15", "first_visit", "2015-09-14"],
        ["2015-09-14", "0", "4", "4", "1.0000", "2015-09-15", "first_visit", "2015-09-14"],
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
    assert "  status                            CERTIFIED" in summary.splitlines()
    assert "  checked window                    every date" in summary.splitlines()
    # 2015-09-15 is the last day of the golden data: the summary says its numbers are partial
    coverage = (
        "partial: 2015-09-15 is the last day of the raw data and partial (the raw events run from "
        "2015-09-08 10:00 KST to 2015-09-15 20:50 KST): its numbers cover part of the day"
    )
    assert f"  {'raw coverage':<34}{coverage}" in summary.splitlines()
    gate_lines = [line.split() for line in summary.splitlines() if line.startswith("  gate_")]
    assert [g[0] for g in gate_lines] == list(gates())
    for g in gate_lines:  # e.g. gate_domain PASS 15 expected / 15 ran / 15 passed
        assert g[1] in ("PASS", "WARN") and g[2] == g[5] == g[8] and int(g[2]) > 0, g
    # the golden data's last date has 36 events against 1..4 on the seven before: the volume
    # band warns (a warning, not a failure), and the summary names the test
    assert any(
        line.split()[:2] == ["warn", "rr_daily_volume_within_band_stg_rr_events_event_date"]
        for line in summary.splitlines()
    )
    for f in result.files[:3]:
        assert f"{f.path.name}" in summary and f.sha256 in summary
    # the definitions the date was certified under, in words and by version and sha256
    lock = read_lock()
    rule = lock["rules"]["session_rule"]
    assert rule.startswith("a new session after more than 30 min without an event")
    keys = summary.splitlines()[summary.splitlines().index("target_date=2015-09-15") + 1 :][:3]
    assert keys == [
        f"definitions_version={lock['definitions_version']}",
        f"definitions_sha256={lock['definitions_sha256']}",
        f"session_rule={rule}",
    ]
    # the manifest holds every other file's sha256
    manifest = read(tmp_path / "rr_report_files_2015-09-15.sha256").splitlines()
    listed = {line.split("  ")[1]: line.split("  ")[0] for line in manifest if not line.startswith("#")}
    assert listed == {f.path.name: f.sha256 for f in result.files if not f.path.name.endswith(".sha256")}
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_window_warning_counts_against_its_own_date_only(target, golden_builds, tmp_path):
    """The full build checked every date in one invocation, and the volume band warned on one row:
    2015-09-15 (36 events against 1..4 on the days before). That row names its date, so the
    verdict of 2015-09-14 counts the test as passed with 0 rows, and its summary shows no warning
    (as a daily run of 2015-09-14, whose window ends before the 15th, shows none)."""
    settings, _ = golden_builds[target]
    assert query(settings, "select kpi_date, failures from qa.rr_node_failing_dates") == [(D, 1)]
    counted = query(
        settings,
        "select kpi_date, status, failures from qa.rr_date_verdict_tests "
        "where test_name = 'rr_daily_volume_within_band_stg_rr_events_event_date' and kpi_date >= %s "
        "order by kpi_date",
        (D - dt.timedelta(days=1),),
    )
    assert counted == [(D - dt.timedelta(days=1), "pass", 0), (D, "warn", 1)]
    day_before = D - dt.timedelta(days=1)
    export_reports(settings, day_before, tmp_path)
    summary = read(tmp_path / f"rr_pipeline_summary_{day_before}.txt")
    assert not [line for line in summary.splitlines() if line.split()[:1] == ["warn"]], summary
    assert "rr_daily_volume_within_band_stg_rr_events_event_date=PASS (rows=0)" in summary.splitlines()
    assert re.search(r"(?m)^  gate_rowcount\s+PASS\s", summary), summary


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_warning_names_the_model_of_the_catalog_its_run_used(target, golden_builds, tmp_path):
    """qa.rr_catalog keeps one catalog per version of the project. An older version that attached
    the same test to another model must not add a second warning line (nor change the model the
    summary names): the warning comes from the catalog of the invocation that checked the date."""
    settings, _ = golden_builds[target]
    band = "rr_daily_volume_within_band_stg_rr_events_event_date"
    [(unique_id, gate)] = query(
        settings,
        "select distinct unique_id, gate from qa.rr_catalog where name = %s and kind = 'gate_test'",
        (band,),
    )
    with connect(settings) as wh:
        wh.execute(
            "insert into qa.rr_catalog (catalog_id, kind, unique_id, name, gate, model) "
            "values ('an_older_version', 'gate_test', %s, %s, %s, 'fact_rr_events')",
            (unique_id, band, gate),
        )
    try:
        export_reports(settings, D, tmp_path)
    finally:
        with connect(settings) as wh:
            wh.execute("delete from qa.rr_catalog where catalog_id = 'an_older_version'")
    summary = read(tmp_path / f"rr_pipeline_summary_{D}.txt")
    warned = [line.split() for line in summary.splitlines() if line.split()[:1] == ["warn"]]
    assert warned == [["warn", band, "on", "stg_rr_events:", "1", "rows"]], warned


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
    """Every column of the published view is in its CSV, with the view's values (under the name
    REPORT_LAYOUTS gives it), in the documented row order."""
    settings, _ = golden_builds["duckdb"]
    export_reports(settings, D, tmp_path)
    for key, name in (("cohort", "rr_cohort_weekly"), ("crm", "rr_crm_targets")):
        layout = report_module.REPORT_LAYOUTS[key]
        renamed = {
            source: column for column, source in (*layout.original, *layout.extras) if isinstance(source, str)
        }
        columns, rows = table_rows(settings, layout.table, where=f"kpi_date = '{D.isoformat()}'")
        # the row fingerprint and the columns only the original's evidence quotes are no CSV column
        kept = [i for i, c in enumerate(columns) if c != "row_fingerprint" and c not in layout.inputs]
        columns, rows = [columns[i] for i in kept], [tuple(r[i] for i in kept) for r in rows]
        rows.sort(key=lambda r: tuple(r[columns.index(c)] for c in layout.order))
        got = read_csv(tmp_path / f"{name}_2015-09-15.csv")
        positions = [got[0].index(renamed[c]) for c in columns]
        assert [[r[i] for i in positions] for r in got[1:]] == [[format_value(v) for v in r] for r in rows], (
            name
        )


def test_a_failure_midway_leaves_nothing_half_written(golden_builds, tmp_path, monkeypatch):
    settings, _ = golden_builds["duckdb"]
    export_reports(settings, D, tmp_path)  # an earlier, good export of the date
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
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
    # no temporary file left, the earlier report as it was (its manifest still verifies it)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_write_while_the_report_is_read_refuses_it(golden_builds, tmp_path, monkeypatch):
    """Spark has no snapshot: a dbt run may stamp a rebuild after the certification was read. The
    export sees the history change and refuses (simulated here inside DuckDB's transaction)."""
    settings, _ = golden_builds["duckdb"]
    export_reports(settings, D, tmp_path)  # an earlier, good export of the date
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_counts = report_module._layer_counts

    def counts_while_a_run_starts(wh, *args):
        wh.execute(
            "insert into qa.rr_invocations (invocation_id, phase, recorded_at, pipeline_run_id) "
            "values ('concurrent', 'start', %s, 'concurrent')",
            (dt.datetime(2026, 12, 1),),
        )
        return real_counts(wh, *args)

    monkeypatch.setattr(report_module, "_layer_counts", counts_while_a_run_starts)
    with pytest.raises(GateRefusal, match="the warehouse changed while the report was read"):
        export_reports(settings, D, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # left as it was
    assert not query(settings, "select 1 from qa.rr_invocations where invocation_id = 'concurrent'")


def test_a_date_without_data_is_refused(golden_builds, tmp_path):
    settings, _ = golden_builds["duckdb"]
    with pytest.raises(GateRefusal) as refusal:
        export_reports(settings, dt.date(2015, 9, 20), tmp_path)
    assert str(refusal.value) == (
        "no report for 2015-09-20: no raw events on 2015-09-20 in the data now loaded (raw load 1)"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_failed_gate_refuses_the_report_and_keeps_the_old_one(golden_builds, tmp_path):
    settings, target_path = golden_builds["postgres"]
    export_reports(settings, D, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert len(before) == 6  # three CSVs, the HTML page, the summary, the manifest
    with connect(settings) as wh:  # what a defect in the model would produce
        wh.execute(
            "update kpi_build.mart_rr_funnel_daily set cvr_cart_to_purchase = 2.0 where kpi_date = %s", (D,)
        )
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
        cli = run_cli(settings, D.isoformat(), tmp_path)
        assert cli.returncode == 1
        [line] = cli.stderr.splitlines()
        assert line.startswith("REFUSED: no report for 2015-09-15: gate_kpi_range FAILED: "), line
        assert "cvr_cart_to_purchase" in line and "1 failing rows" in line
        # the report of the certified numbers stays (make check now calls it STALE)
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
        # analysts who query schema kpi directly do not see the dates of the failed check either
        # (a test checks its whole window: 09-14 .. 09-15), while earlier dates stay published
        published = "select kpi_date from kpi.mart_rr_funnel_daily where kpi_date >= %s order by 1"
        assert query(settings, published, (dt.date(2015, 9, 12),)) == [
            (dt.date(2015, 9, 12),),
            (dt.date(2015, 9, 13),),
        ]
        built = "select count(*) from kpi_build.mart_rr_funnel_daily where kpi_date >= %s"
        assert query(settings, built, (dt.date(2015, 9, 12),)) == [(4,)]
    finally:
        run_dbt(settings, "build", vars={"target_date": D.isoformat()}, target_path=target_path)
    assert query(
        settings, "select cvr_cart_to_purchase from kpi.mart_rr_funnel_daily where kpi_date = %s", (D,)
    ) == [(1 / 3,)]


def run_cli(settings, target_date: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """``python -m exports --target-date ... --out ...`` with the test warehouse's settings."""
    return subprocess.run(
        [sys.executable, "-m", "exports", "--target-date", target_date, "--out", str(out), *extra],
        env={**os.environ, **settings.dbt_env()},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_cli_writes_the_reports_and_rejects_bad_dates(golden_builds, tmp_path):
    settings, _ = golden_builds["duckdb"]
    ok = run_cli(settings, "2015-09-15", tmp_path, "--show-recent", "3")
    assert ok.returncode == 0, ok.stderr
    assert str(tmp_path / "rr_pipeline_summary_2015-09-15.txt") in ok.stdout
    assert ok.stdout.splitlines()[-1] == f"HTML report: {tmp_path / 'rr_report_2015-09-15.html'}"
    assert "2015-09-13" in ok.stdout  # the recent days table
    for bad in (
        "2015-02-30",
        "2015-9-15",
        "yesterday",
        "2015-09-15'; drop table x; --",
        " 2015-09-15",
        "none",
        "",
    ):
        run = run_cli(settings, bad, tmp_path / "bad")
        assert run.returncode == 2 and "target_date" in run.stderr, (bad, run.stderr)
    assert not (tmp_path / "bad").exists()


def test_a_folder_that_cannot_be_written_is_one_line_and_no_traceback(golden_builds, tmp_path):
    settings, _ = golden_builds["duckdb"]
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the reports folder's parent should be\n")
    out = blocker / "reports"  # cannot be created, even by root
    cli = run_cli(settings, D.isoformat(), out)
    assert cli.returncode == 2
    [line] = cli.stderr.splitlines()
    assert line == f"error: cannot write the reports of 2015-09-15 to {out}: Not a directory", line
    assert blocker.read_text().startswith("a file")


def test_make_check_shows_certification_and_each_gate(golden_builds, tmp_path):
    settings, _ = golden_builds["duckdb"]
    export_reports(settings, D - dt.timedelta(days=1), tmp_path)
    export_reports(settings, D, tmp_path)

    def check() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "exports.pipeline", "check"],
            cwd=ROOT,
            env={**os.environ, **settings.dbt_env(), "RR_REPORTS_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
        )

    good = check()
    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.splitlines()
    assert (
        "certified  8 of 8 dates with raw events (2015-09-08 .. 2015-09-15): 2015-09-08..2015-09-15" in lines
    )
    assert f"reports    2 in {tmp_path}: 2015-09-14..2015-09-15" in lines
    assert "latest     rr_pipeline_summary_2015-09-15.txt (certified)" in lines
    assert "  every report file matches its manifest, and the CSVs the certified rows of their date" in lines
    assert "  checked by pipeline run" in good.stdout and "window every date" in good.stdout
    gate_lines = [line.split() for line in lines if line.startswith("  gate_")]
    assert [g[0] for g in gate_lines] == list(gates())
    assert all(g[1] in ("PASS", "WARN") and g[2] == g[5] == g[8] for g in gate_lines), gate_lines
    # a report edited after it was written no longer passes for certified numbers: its manifest
    # and the certified rows both say so (tests/test_tamper.py tries the other files)
    funnel = tmp_path / "rr_funnel_daily_2015-09-15.csv"
    funnel.write_bytes(funnel.read_bytes().replace(b",0.2857,", b",0.3000,"))
    edited = check()
    assert edited.returncode == 1
    differs = [line for line in edited.stdout.splitlines() if line.startswith("  DIFFERS  ")]
    assert differs[0].startswith(
        "  DIFFERS  rr_funnel_daily_2015-09-15.csv differs from its manifest (sha256 "
    )
    assert differs[1:] == [
        "  DIFFERS  rr_funnel_daily_2015-09-15.csv differs from the certified rows of 2015-09-15 now: "
        "export the date again"
    ]


# -----------------------------------------------------------------------------------------------
# the original project's format (REFERENCE.md "The original project's report files";
# docs/differences.md): its columns first, its evidence grammar, its summary key=value lines
# -----------------------------------------------------------------------------------------------
ORIGINAL_HEADERS = {
    "rr_funnel_daily": [
        "kpi_date",
        "visitors",
        "sessions",
        "views",
        "addtocarts",
        "purchases",
        "sessions_with_view",
        "sessions_with_cart",
        "sessions_with_purchase",
        "cvr_session_to_purchase",
        "cvr_view_to_cart",
        "cvr_cart_to_purchase",
    ],
    "rr_cohort_weekly": ["cohort_week", "week_index", "cohort_size", "active_visitors", "retention_rate"],
    "rr_crm_targets": ["kpi_date", "visitor_id", "segment_name", "evidence"],
}
OUR_EXTRA_COLUMNS = {
    "rr_funnel_daily": ["sessions_with_view_and_cart", "sessions_with_cart_and_purchase"],
    "rr_cohort_weekly": ["kpi_date", "cohort_type", "activity_week"],
    "rr_crm_targets": [
        "segment_rank",
        "window_start_date",
        "window_end_date",
        "view_count",
        "addtocart_count",
        "transaction_count",
        "last_event_at_kst",
        "focus_item_id",
        "focus_item_event_type",
        "focus_item_root_category_id",
        "evidence_strength",
        "segment_size_before_cap",
        "evidence_text",
    ],
}
TS = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}"
ORIGINAL_EVIDENCE = {
    "cart_abandoner_today": re.compile(rf"last_cart_ts=(?P<ts>{TS}), cart_events=(?P<n>[1-9]\d*)"),
    "high_intent_viewer_7d_no_cart": re.compile(r"view_events_7d=(?P<n>[1-9]\d*)"),
    "repeat_buyer": re.compile(rf"tx_cnt=(?P<n>[1-9]\d*), last_purchase_ts=(?P<ts>{TS})"),
}


@pytest.fixture(scope="module")
def golden_export(golden_builds, tmp_path_factory):
    settings, _ = golden_builds["duckdb"]
    out = tmp_path_factory.mktemp("original_format")
    export_reports(settings, D, out, airflow_run_id="manual__2015-09-15")
    return settings, out


def test_each_csv_starts_with_the_original_columns_then_ours(golden_export):
    _, out = golden_export
    for name, original in ORIGINAL_HEADERS.items():
        header = read_csv(out / f"{name}_2015-09-15.csv")[0]
        assert header[: len(original)] == original, name
        assert header == original + OUR_EXTRA_COLUMNS[name], name


def test_crm_evidence_is_the_original_key_value_form(golden_export):
    settings, out = golden_export
    rows = read_csv(out / "rr_crm_targets_2015-09-15.csv")
    crm = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert {r["segment_name"] for r in crm} == set(ORIGINAL_EVIDENCE)  # every segment is exercised
    for r in crm:
        found = ORIGINAL_EVIDENCE[r["segment_name"]].fullmatch(r["evidence"])
        assert found, r
        count = {
            "cart_abandoner_today": "addtocart_count",
            "high_intent_viewer_7d_no_cart": "view_count",
            "repeat_buyer": "transaction_count",
        }[r["segment_name"]]
        assert found["n"] == r[count], r
        assert r["evidence_text"] and "=" not in r["evidence_text"], r  # our prose, in its own column
    # the timestamps, against the events themselves: the last add-to-cart of D, the last
    # purchase up to D (Asia/Seoul)
    last = (
        "select max(event_at_kst) from mart.fact_rr_events where visitor_id = %s and event_type = %s "
        "and event_date <= %s and event_date >= %s"
    )
    for r in crm:
        visitor = int(r["visitor_id"])
        if r["segment_name"] == "cart_abandoner_today":
            [(ts,)] = query(settings, last, (visitor, "addtocart", D, D))
        elif r["segment_name"] == "repeat_buyer":
            [(ts,)] = query(settings, last, (visitor, "transaction", D, dt.date(2000, 1, 1)))
        else:
            continue
        assert ORIGINAL_EVIDENCE[r["segment_name"]].fullmatch(r["evidence"])["ts"] == format_value(ts), r
    assert [(r["visitor_id"], r["evidence"]) for r in crm] == [
        ("6", "last_cart_ts=2015-09-15 16:01:00.000, cart_events=2"),
        ("2", "last_cart_ts=2015-09-15 00:15:00.000, cart_events=1"),
        ("3", "view_events_7d=25"),
        ("1", "tx_cnt=2, last_purchase_ts=2015-09-15 20:50:00.000"),
    ]


def parse_original_summary(text: str) -> dict[str, dict[str, str]]:
    """What a reader of the original project's summary does: ``[section]`` headers and
    ``key=value`` lines; any other line is not its business."""
    sections: dict[str, dict[str, str]] = {"": {}}
    current = ""
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, {})
        elif "=" in line:
            key, value = line.split("=", 1)
            assert key not in sections[current], f"duplicate key {key!r} in [{current}]"
            sections[current][key] = value
    return sections


def test_summary_carries_the_original_key_value_lines(golden_export):
    _, out = golden_export
    text = read(out / "rr_pipeline_summary_2015-09-15.txt")
    lines = text.splitlines()
    # the block is last, after a blank line, and every line of it is exactly key=value or [section]
    block = lines[lines.index("run_id=manual__2015-09-15") :]
    assert lines[lines.index(block[0]) - 1] == ""
    assert all(re.fullmatch(r"\[[a-z_]+\]|[A-Za-z0-9_]+=\S(.*\S)?", line) for line in block), block
    assert [line for line in lines if line.startswith("[")] == ["[rr_funnel_daily]", "[quality_checks]"]

    parsed = parse_original_summary(text)
    assert parsed[""]["run_id"] == "manual__2015-09-15"
    assert parsed[""]["target_date"] == "2015-09-15"
    funnel_rows = read_csv(out / "rr_funnel_daily_2015-09-15.csv")
    funnel = dict(zip(funnel_rows[0], funnel_rows[1], strict=True))
    keys = [
        "kpi_date",
        "visitors",
        "sessions",
        "views",
        "addtocarts",
        "purchases",
        "cvr_session_to_purchase",
        "cvr_view_to_cart",
        "cvr_cart_to_purchase",
    ]
    assert list(parsed["rr_funnel_daily"]) == keys
    assert parsed["rr_funnel_daily"] == {k: funnel[k] for k in keys}

    checks = parsed["quality_checks"]
    assert all(re.fullmatch(r"(PASS|FAIL) \(rows=\d+\)", v) for v in checks.values()), checks
    # one line per gate test the certification counted (the readable gate lines' "expected")
    expected = sum(int(line.split()[2]) for line in lines if line.startswith("  gate_"))
    assert len(checks) == expected
    assert set(checks.values()) == {"PASS (rows=0)", "PASS (rows=1)"}
    # the volume band warned (a pass of its gate) on 1 row: PASS with its rows, as the history has it
    assert checks["rr_daily_volume_within_band_stg_rr_events_event_date"] == "PASS (rows=1)"


def test_stable_summary_lines_drop_the_run_id_only(golden_export):
    _, out = golden_export
    stable = stable_summary(read(out / "rr_pipeline_summary_2015-09-15.txt"))
    assert not any(line.startswith("run_id=") for line in stable)
    assert "target_date=2015-09-15" in stable and "cvr_cart_to_purchase=0.3333" in stable


def test_a_published_column_without_a_place_in_the_layout_stops_the_export(
    golden_builds, tmp_path, monkeypatch
):
    settings, _ = golden_builds["duckdb"]
    layouts = dict(report_module.REPORT_LAYOUTS)
    layouts["funnel"] = dataclasses.replace(layouts["funnel"], extras=layouts["funnel"].extras[:1])
    monkeypatch.setattr(report_module, "REPORT_LAYOUTS", layouts)
    with pytest.raises(
        ExportError,
        match="kpi.mart_rr_funnel_daily has columns the report layout does not place: sessions_with_cart_and_purchase",
    ):
        export_reports(settings, D, tmp_path)
    assert list(tmp_path.iterdir()) == []


KILLED_WRITER = """
import os
import sys
from pathlib import Path

from exports.report import _AtomicWriter

writer = _AtomicWriter(Path(sys.argv[1]))
writer.write("rr_report_2015-09-15.html", b"half of a page")
writer.write("rr_funnel_daily_2015-09-15.csv", b"half of a csv")
print(os.getpid(), flush=True)
os.kill(os.getpid(), 9)  # kill -9 before the set is renamed into place
"""


def test_the_litter_of_a_killed_export_is_swept_by_the_next_and_shown_by_check(golden_builds, tmp_path):
    """Rough edge 2 of issue 26: `kill -9` during an export left hidden temporary files in the
    folder. The next export removes those whose process has ended (and says so); an export under
    way, or one on another machine sharing the folder, keeps its own. `make check` lists them
    and does not count them as reports."""
    settings, _ = golden_builds["duckdb"]
    out = tmp_path / "reports"
    export_reports(settings, D, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr
    dead_pid = int(killed.stdout.strip())
    litter = sorted(p.name for p in out.iterdir() if p.name not in before)
    assert len(litter) == 2 and all(f"-{dead_pid}" in name and name.startswith(".") for name in litter)
    sleeper = subprocess.Popen(["sleep", "300"])  # an export still writing, in another process
    live = out / (temp_name("rr_cohort_weekly_2015-09-15.csv").rsplit("-", 1)[0] + f"-{sleeper.pid}")
    live.write_bytes(b"an export under way in this process")
    elsewhere = out / ".rr_report_2015-09-15.html.tmp-another-host-1"
    elsewhere.write_bytes(b"an export on another machine")
    # a hidden file of someone else that only looks like one, with a pid that has ended
    notes = out / f".my_notes.txt.tmp-{temp_name('x').rsplit('-', 2)[1]}-{dead_pid}"
    notes.write_bytes(b"not an export's")

    first = make_check(settings, out)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stdout + first.stderr
    [line] = [x for x in first.stdout.splitlines() if x.startswith("temporary")]
    assert line.startswith(
        "temporary  4 file(s) of unfinished exports, not part of any report "
        "(the next export on this machine removes those whose process ended): "
    )
    assert line.count(f"(pid {dead_pid}, ended)") == 2 and ".my_notes" not in line
    assert (
        f"(pid {sleeper.pid}, an export under way)" in line
        and "(pid 1 on another-host, another machine)" in line
    )
    assert "reports    1 in" in first.stdout  # the temporary files are no report of their own

    result = export_reports(settings, D, out)
    assert sorted(s.split(" ")[0] for s in result.swept) == litter
    left = {p.name for p in out.iterdir()} - set(before)
    assert left == {live.name, elsewhere.name, notes.name}
    assert {n: (out / n).read_bytes() for n in before if n.endswith(".csv")} == {
        n: data for n, data in before.items() if n.endswith(".csv")
    }
    second = make_check(settings, out)
    sleeper.kill()
    assert second.returncode == 0 and "temporary  2 file(s)" in second.stdout, second.stdout
