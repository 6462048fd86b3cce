"""The dbt project on generated data: both warehouses agree, incremental builds are exact.

(1) DuckDB and PostgreSQL build identical tables, row for row; (2) building day by day gives the
tables of one full build; (3) building the same date twice changes nothing; (4) point in time:
a date built before later days arrived is rebuilt identically after they arrive; (5) an
independent Python implementation of the session rule agrees with every event's session_id.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import re
from collections import defaultdict
from pathlib import Path

import pytest

from seeds_loader.generate import generate
from seeds_loader.load import load
from tests.dbt_support import assert_same_tables, query, run_dbt, snapshot, table_rows

pytestmark = pytest.mark.slow

SCALE = 0.004
SEED = 7
KST_MS = 9 * 3600 * 1000
DAY_MS = 86_400_000
DATE_COLUMNS = {
    "staging.stg_rr_events": "event_date",
    "mart.fact_rr_events": "event_date",
    "mart.fact_rr_sessions": "session_date",
    "mart.fact_rr_visitor_daily": "activity_date",
    "mart.fact_rr_cohort_activity_daily": "activity_date",
    "kpi_build.mart_rr_funnel_daily": "kpi_date",
    "kpi_build.mart_rr_funnel_category_daily": "kpi_date",
    "kpi_build.mart_rr_cohort_weekly": "kpi_date",
    "kpi_build.mart_rr_crm_targets_daily": "kpi_date",
}


def kst_date(ts_ms: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=(ts_ms + KST_MS) // DAY_MS)


def end_of_kst_day_ms(d: dt.date) -> int:
    return ((d - dt.date(1970, 1, 1)).days + 1) * DAY_MS - KST_MS


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated") / "raw"
    generate(out, scale=SCALE, seed=SEED, category_tree=None, progress=False)
    return out


@pytest.fixture(scope="module")
def full_builds(raw_dir, new_warehouse, tmp_path_factory):
    """One full build (no target_date) on each warehouse, with its snapshot of every table."""
    builds = {}
    for target in ("duckdb", "postgres"):
        settings = new_warehouse(target)
        load(settings, raw_dir, progress=False)
        run_dbt(settings, "build", target_path=tmp_path_factory.mktemp(f"target_{target}"))
        builds[target] = (settings, snapshot(settings))
    return builds


@pytest.fixture(scope="module")
def event_dates(full_builds) -> list[dt.date]:
    settings, _ = full_builds["duckdb"]
    return [r[0] for r in query(settings, "select kpi_date from kpi.mart_rr_funnel_daily order by 1")]


def test_duckdb_and_postgres_build_identical_tables(full_builds):
    _, duck = full_builds["duckdb"]
    _, pg = full_builds["postgres"]
    assert len(duck) == 18
    for table in ("mart.fact_rr_events", "mart.fact_rr_sessions", "kpi_build.mart_rr_funnel_daily"):
        assert len(duck[table][1]) > 0, table
    assert_same_tables(duck, pg, "duckdb vs postgres")


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_full_build_certifies_and_publishes_every_date(target, full_builds, event_dates):
    settings, built = full_builds[target]
    certified = query(settings, "select kpi_date from qa.rr_date_certification where is_certified order by 1")
    assert [r[0] for r in certified] == event_dates
    published = snapshot(settings, ("kpi",))
    assert sorted(published) == sorted(
        t.replace("kpi_build.", "kpi.") for t in built if t.startswith("kpi_build.")
    )
    for table, (columns, rows) in published.items():
        # the same rows, each with its fingerprint (the last column: docs block rr_certification)
        assert columns[-1] == "row_fingerprint", table
        content = (columns[:-1], sorted(r[:-1] for r in rows))
        built_columns, built_rows = built[table.replace("kpi.", "kpi_build.")]
        assert content == (built_columns, sorted(built_rows)), table
        assert len({r[-1] for r in rows}) == len(rows), table  # distinct rows, distinct fingerprints


def test_every_date_is_built(full_builds, event_dates):
    assert event_dates[0] == dt.date(2015, 5, 3)
    assert event_dates[-1] == dt.date(2015, 9, 18)
    assert len(event_dates) == 139


def _reports(settings, dates: list[dt.date], out: Path) -> dict[str, bytes]:
    from exports.report import export_dates

    written, refused = export_dates(settings, dates, out)
    assert refused == [] and len(written) == len(dates)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def _page_data(page: bytes) -> dict:
    import json
    import re

    found = re.search(rb'<script type="application/json" id="rr-report-data">(.*?)</script>', page, re.S)
    assert found
    data = json.loads(found.group(1))
    return data


def _same_reports(ranged: dict[str, bytes], daily: dict[str, bytes], what: str) -> None:
    """The CSVs byte for byte; the page's numbers (its data block: the page also shows the raw
    load's time, which differs between two warehouses); the manifests aside (they hash the
    summaries); the summary bar the lines that name the
    run, the load, the warehouse and the checked window (a ranged run checked S .. E where each
    daily run checked D - 1 .. D). The volume band (gate_rowcount, a warning) is one test over
    the run's window: its failing rows count against their own dates (rr_failing_dates), so the
    partial last day's warning shows on that day alone, in both."""
    from exports.report import stable_summary_lines

    assert sorted(ranged) == sorted(daily), what
    for name, data in daily.items():
        if name.endswith(".sha256"):  # the manifest: the summaries' sha256 differ by their run lines
            continue
        if name.endswith(".html"):
            assert _page_data(ranged[name]) == _page_data(data), (what, name)
        elif name.endswith(".txt"):
            labels = ("checked window", "warehouse")
            left = stable_summary_lines(ranged[name].decode(), *labels)
            right = stable_summary_lines(data.decode(), *labels)
            if left != right:
                print("\n".join(difflib.unified_diff(right, left, "day by day", "ranged", lineterm="")))
            assert left == right, (what, name)
        else:
            assert ranged[name] == data, (what, name)


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_day_by_day_and_one_ranged_build_equal_one_full_build(
    target, raw_dir, full_builds, event_dates, new_warehouse, tmp_path
):
    """Point in time: building D0, then each of the next dates one run at a time, or D0 then the
    same dates in one ranged run (vars start_date / end_date), gives the tables of one full build;
    and the ranged run's reports of every date are the day-by-day runs' reports, byte for byte."""
    first, *following = event_dates[-4:]
    # the first build of a fresh warehouse with a target date builds every date up to it; its
    # window reaches back to the first date, so that every date up to it is checked (certified)
    # as `make build` and the DAG's plan_window ask
    up_to_first = {"target_date": first.isoformat(), "lookback_days": (first - event_dates[0]).days}
    daily = new_warehouse(target)
    load(daily, raw_dir, progress=False)
    run_dbt(daily, "build", vars=up_to_first, target_path=tmp_path / "daily")
    for day in following:
        run_dbt(daily, "build", vars={"target_date": day.isoformat()}, target_path=tmp_path / "daily")
    assert_same_tables(snapshot(daily), full_builds[target][1], f"{target}: day by day vs full build")
    daily_reports = _reports(daily, following, tmp_path / "daily_reports")

    ranged = new_warehouse(target)
    load(ranged, raw_dir, progress=False)
    run_dbt(ranged, "build", vars=up_to_first, target_path=tmp_path / "ranged")
    window = {"start_date": following[0].isoformat(), "end_date": following[-1].isoformat()}
    run_dbt(ranged, "build", vars=window, target_path=tmp_path / "ranged")
    assert_same_tables(snapshot(ranged), full_builds[target][1], f"{target}: one ranged build vs full build")
    # the ranged run is recorded as the window start_date .. end_date, checked in one invocation
    recorded = query(
        ranged,
        "select target_date, lookback_days, window_start, window_end from qa.rr_invocations "
        "where phase = 'start' order by recorded_at desc limit 1",
    )
    assert recorded == [(following[-1], len(following) - 1, following[0], following[-1])]
    ranged_reports = _reports(ranged, following, tmp_path / "ranged_reports")
    _same_reports(ranged_reports, daily_reports, target)
    # the last day is partial: the volume band warns on it, and on no earlier date of the range
    warned = [
        day
        for day in following
        if re.search(
            r"(?m)^\s+warn\s+rr_daily_volume_within_band",
            ranged_reports[f"rr_pipeline_summary_{day}.txt"].decode(),
        )
    ]
    assert warned == [following[-1]], warned


def test_the_same_date_built_twice_is_identical(full_builds, event_dates, tmp_path):
    settings, _ = full_builds["duckdb"]
    day = event_dates[70]
    run_dbt(settings, "build", vars={"target_date": day.isoformat()}, target_path=tmp_path)
    once = snapshot(settings)
    run_dbt(
        settings, "build", vars={"target_date": day.isoformat(), "lookback_days": 3}, target_path=tmp_path
    )
    run_dbt(settings, "build", vars={"target_date": day.isoformat()}, target_path=tmp_path)
    assert_same_tables(snapshot(settings), once, "same date built again")
    # and rebuilding an old date leaves every table as the full build left it, except the item
    # snapshot, which describes the items as of the run's date
    assert_same_tables(
        {t: v for t, v in snapshot(settings).items() if t != "staging.stg_rr_item_snapshot"},
        {t: v for t, v in full_builds["duckdb"][1].items() if t != "staging.stg_rr_item_snapshot"},
        "every table after rebuilding one old date",
    )


def _truncate_to(raw_dir: Path, out: Path, last_day: dt.date) -> Path:
    """The data set as it stood at the end of last_day: later events and properties removed."""
    out.mkdir(parents=True)
    limit = end_of_kst_day_ms(last_day)
    for name in ("events.csv", "item_properties_part1.csv", "item_properties_part2.csv"):
        with open(raw_dir / name, newline="") as src, open(out / name, "w", newline="") as dst:
            lines = iter(src)
            dst.write(next(lines))
            dst.writelines(line for line in lines if int(line.split(",", 1)[0]) < limit)
    (out / "category_tree.csv").write_bytes((raw_dir / "category_tree.csv").read_bytes())
    return out


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_point_in_time_rebuild_ignores_later_data(
    target, raw_dir, full_builds, event_dates, new_warehouse, tmp_path
):
    day = event_dates[100]
    settings = new_warehouse(target)
    load(settings, _truncate_to(raw_dir, tmp_path / "until_day", day), progress=False)
    run_dbt(settings, "build", vars={"target_date": day.isoformat()}, target_path=tmp_path / "t")
    as_of_day = snapshot(settings)
    assert max(r[0] for r in query(settings, "select max(event_date) from mart.fact_rr_events")) == day

    load(settings, raw_dir, progress=False)  # the later days arrive
    run_dbt(settings, "build", vars={"target_date": day.isoformat()}, target_path=tmp_path / "t")
    assert_same_tables(snapshot(settings), as_of_day, f"{target}: rebuild of {day} after later data arrived")

    # every date partition equals the full build's rows of the same dates
    full = full_builds[target][1]
    for table, column in DATE_COLUMNS.items():
        position = full[table][0].index(column)
        expected = [r for r in full[table][1] if r[position] <= day]
        assert as_of_day[table][1] == expected, f"{target}: {table} up to {day} differs from the full build"


def python_sessions(events_csv: Path) -> dict[tuple, str]:
    """The session rule, written independently of the SQL: distinct raw events -> session_id."""
    distinct = set()
    with open(events_csv, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for ts, visitor, event, item, txn in reader:
            distinct.add((int(ts), int(visitor), event, int(item), int(txn) if txn else None))
    per_visitor_day: dict[tuple[int, dt.date], list[tuple]] = defaultdict(list)
    for e in distinct:
        per_visitor_day[(e[1], kst_date(e[0]))].append(e)
    sessions = {}
    for (visitor, day), events in per_visitor_day.items():
        events.sort(key=lambda e: e[0])
        number, previous_ts = 0, None
        for e in events:
            if previous_ts is None or e[0] - previous_ts > 30 * 60 * 1000:
                number += 1
            previous_ts = e[0]
            sessions[e] = f"{visitor}-{day:%Y%m%d}-{number}"
    return sessions


def test_python_session_rule_agrees_with_every_event(raw_dir, full_builds):
    settings, _ = full_builds["duckdb"]
    expected = python_sessions(raw_dir / "events.csv")
    columns, rows = table_rows(settings, "mart.fact_rr_events")
    pick = [
        columns.index(c) for c in ("event_ts_ms", "visitor_id", "event_type", "item_id", "transaction_id")
    ]
    got = {tuple(r[i] for i in pick): r[columns.index("session_id")] for r in rows}
    assert len(got) == len(expected) == len(rows)
    assert got == expected
    # the generated data exercises the rule's edges
    gaps = query(
        settings,
        "select count(*) filter (where gap = 1800000), count(*) filter (where gap = 1800001) from ("
        " select event_ts_ms - lag(event_ts_ms) over (partition by visitor_id order by event_ts_ms) as gap"
        " from mart.fact_rr_events) as g",
    )[0]
    assert gaps[0] > 0 and gaps[1] > 0
