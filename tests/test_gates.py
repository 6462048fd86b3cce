"""Each quality gate catches the corruptions it exists for.

Every case starts from the hand-made golden data set (tests/golden_data.py, which passes every
gate), corrupts the raw data or a built table, and checks that `dbt build` fails, that the
output names the gate and the failing test, that nothing downstream of the failure was built,
that the run history (qa.rr_node_results) holds a `fail` row for that gate with its failing rows, and
that the dates the failing test checked are not certified.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from seeds_loader.load import load
from seeds_loader.warehouse import connect
from tests.dbt_support import query, run_dbt
from tests.golden_data import kst_ms, write_golden_files

pytestmark = pytest.mark.slow

Lines = list[str]


@dataclass(frozen=True)
class RawCorruption:
    gate: str
    test: str  # a substring of the failing test's name
    file: str
    edit: Callable[[Lines], Lines]
    vars: dict | None = None
    blocked: str = "kpi_build.mart_rr_funnel_daily"  # downstream of the failing test: never built


def _replace(old: str, new: str) -> Callable[[Lines], Lines]:
    def edit(lines: Lines) -> Lines:
        hits = [i for i, line in enumerate(lines) if line == old]
        assert hits, f"golden line not found: {old}"
        return [new if i == hits[0] else line for i, line in enumerate(lines)]

    return edit


def _append(*new: str) -> Callable[[Lines], Lines]:
    return lambda lines: [*lines, *new]


def _drop_day(day: str) -> Callable[[Lines], Lines]:
    start = kst_ms(day, "00:00:00")
    return lambda lines: [
        line
        for i, line in enumerate(lines)
        if i == 0 or not start <= int(line.split(",")[0]) < start + 86_400_000
    ]


CHECKED = dt.date(2015, 9, 14)  # in the window of every run below
V4_VIEW = f"{kst_ms('2015-09-09', '12:00:00')},4,view,200,"
V5_TXN = f"{kst_ms('2015-09-15', '15:00:00')},5,transaction,100,3"

RAW_CORRUPTIONS = {
    # gate_domain
    "unknown event type": RawCorruption(
        "gate_domain", "event_type", "events.csv", _replace(V4_VIEW, V4_VIEW.replace(",view,", ",purchase,"))
    ),
    "timestamp in seconds": RawCorruption(
        "gate_domain",
        "raw_rr_events__timestamp",
        "events.csv",
        _replace(V4_VIEW, f"{kst_ms('2015-09-09', '12:00:00') // 1000},4,view,200,"),
    ),
    "negative visitor id": RawCorruption(
        "gate_domain", "visitor_id", "events.csv", _replace(V4_VIEW, V4_VIEW.replace(",4,", ",-4,"))
    ),
    "availability neither 0 nor 1": RawCorruption(
        "gate_domain",
        "available_values_are_0_or_1",
        "item_properties_part2.csv",
        _append(f"{kst_ms('2015-09-13', '12:00:00')},200,available,yes"),
        blocked="mart.dim_rr_item",
    ),
    # gate_integrity
    "transaction row without transaction id": RawCorruption(
        "gate_integrity",
        "transaction_rows_have_a_transaction_id",
        "events.csv",
        _replace(V5_TXN, V5_TXN[:-1]),
    ),
    "view row with a transaction id": RawCorruption(
        "gate_integrity",
        "only_transaction_rows_have_a_transaction_id",
        "events.csv",
        _replace(V4_VIEW, V4_VIEW + "99"),
    ),
    "transaction id of two visitors": RawCorruption(
        "gate_integrity",
        "rr_one_value_per_key",
        "events.csv",
        _append(f"{kst_ms('2015-09-15', '15:00:00')},6,transaction,200,3"),
    ),
    "category under a missing parent": RawCorruption(
        "gate_integrity",
        "category_tree_complete",
        "category_tree.csv",
        _append("13,99"),
        blocked="mart.dim_rr_category",
    ),
    # gate_rowcount
    "a missing day": RawCorruption(
        "gate_rowcount", "rr_dates_are_complete", "events.csv", _drop_day("2015-09-12")
    ),
    "no events on the run's date": RawCorruption(
        "gate_rowcount",
        "rr_dates_are_complete",
        "events.csv",
        _drop_day("2015-09-15"),
        vars={"target_date": "2015-09-15"},
    ),
}


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory) -> Path:
    return write_golden_files(tmp_path_factory.mktemp("golden") / "raw")


def corrupted_copy(golden_dir: Path, folder: Path, file: str, edit: Callable[[Lines], Lines]) -> Path:
    folder.mkdir(parents=True)
    for src in golden_dir.iterdir():
        lines = src.read_text().splitlines()
        if src.name == file:
            lines = edit(lines)
        (folder / src.name).write_text("\n".join(lines) + "\n")
    return folder


def failed_tests(settings, gate: str) -> list[str]:
    return [
        r[0]
        for r in query(
            settings,
            "select name from qa.rr_node_results where gate = %s and status = 'fail' order by 1",
            (gate,),
        )
    ]


def exists(settings, schema: str, table: str) -> bool:
    with connect(settings, create=False) as wh:
        return wh.table_exists(schema, table)


def assert_gate_failed(settings, run, gate: str, test: str) -> None:
    assert not run.ok, f"dbt build passed although {gate} should fail:\n{run.output[-3000:]}"
    assert f"{gate}" in run.output and "FAIL" in run.output
    failed = failed_tests(settings, gate)
    assert any(test in name for name in failed), (
        f"{gate}: expected a failing test like {test!r}, got {failed}"
    )
    assert any(test in line and "FAIL" in line for line in run.output.splitlines()), run.output[-3000:]
    # the history keeps up to five failing rows of the failing test
    samples = query(
        settings,
        "select sample_rows from qa.rr_node_results where gate = %s and status = 'fail' and name like %s",
        (gate, f"%{test}%"),
    )
    rows = json.loads(samples[-1][0])
    assert 1 <= len(rows) <= 5 and all(isinstance(r, dict) and r for r in rows), samples
    # and 2015-09-14, which every window here holds, is not certified, for a failed gate
    certified = query(
        settings, "select is_certified, reason from qa.rr_date_certification where kpi_date = %s", (CHECKED,)
    )
    assert certified and certified[0][0] is False and " FAILED: " in certified[0][1], certified


# every raw corruption on DuckDB, three of them on PostgreSQL too (the table corruptions below run on both)
ON_POSTGRES_TOO = ("unknown event type", "transaction id of two visitors", "a missing day")
RAW_CASES = [(case, "duckdb") for case in RAW_CORRUPTIONS] + [(case, "postgres") for case in ON_POSTGRES_TOO]


@pytest.mark.parametrize(("case", "target"), RAW_CASES, ids=lambda v: v.replace(" ", "_"))
def test_raw_corruption_fails_its_gate(case, target, golden_dir, new_warehouse, tmp_path):
    c = RAW_CORRUPTIONS[case]
    settings = new_warehouse(target)
    load(settings, corrupted_copy(golden_dir, tmp_path / "raw", c.file, c.edit), progress=False)
    run = run_dbt(settings, "build", vars=c.vars, target_path=tmp_path / "target", check=False)
    assert_gate_failed(settings, run, c.gate, c.test)
    # the failure stopped the pipeline below the failing model
    assert not exists(settings, *c.blocked.split("."))


def test_null_key_in_raw_fails_gate_nulls(golden_dir, new_warehouse, tmp_path):
    settings = new_warehouse("duckdb")
    load(settings, golden_dir, progress=False)
    with connect(settings) as wh:  # a raw table loaded by some other path, without constraints
        wh.execute("alter table raw.raw_rr_events alter column itemid drop not null")
        wh.execute(
            "insert into raw.raw_rr_events values (%s, 4, 'view', null, null)",
            (kst_ms("2015-09-15", "11:10:00"),),
        )
    run = run_dbt(settings, "build", target_path=tmp_path / "target", check=False)
    assert_gate_failed(settings, run, "gate_nulls", "rr_columns_not_null_stg_rr_events")
    assert "'column_name': 'item_id'" in run.output  # the failing row names the column


D = dt.date(2015, 9, 15)

# corruptions of built tables (what a defect in a model would produce): the gate's tests alone
# run through `dbt build --select tag:<gate>`, since a full build would rebuild the table
TABLE_CORRUPTIONS = {
    "null session date": (
        "gate_nulls",
        "rr_columns_not_null_fact_rr_sessions",
        "update mart.fact_rr_sessions set session_date = null where session_id = '3-20150915-1'",
    ),
    "null funnel count": (
        "gate_nulls",
        "rr_columns_not_null_mart_rr_funnel_daily",
        "update kpi_build.mart_rr_funnel_daily set views = null where kpi_date = '2015-09-15'",
    ),
    "event lost from the fact": (
        "gate_rowcount",
        "fact_rr_events_match_staging",
        "delete from mart.fact_rr_events where session_id = '3-20150915-1' "
        "and event_ts_ms = " + str(kst_ms("2015-09-15", "09:03:00")),
    ),
    "session count off": (
        "gate_rowcount",
        "sessions_add_up_to_events",
        "update mart.fact_rr_sessions set event_count = event_count + 1 where session_id = '6-20150915-1'",
    ),
    "rate above 1": (
        "gate_kpi_range",
        "cvr_view_to_cart",
        "update kpi_build.mart_rr_funnel_daily set cvr_view_to_cart = 1.25 where kpi_date = '2015-09-15'",
    ),
    "nested counts inconsistent": (
        "gate_kpi_range",
        "sessions__sessions_with_view",
        "update kpi_build.mart_rr_funnel_daily set sessions_with_view = sessions + 1 where kpi_date = '2015-09-15'",
    ),
    "negative count": (
        "gate_kpi_range",
        "mart_rr_funnel_category_daily__counts_are_non_negative",
        "update kpi_build.mart_rr_funnel_category_daily set addtocarts = -1 where kpi_date = '2015-09-15'",
    ),
    "funnel disagrees with a recount": (
        "gate_kpi_range",
        "funnel_daily_reconciles_with_facts",
        "update kpi_build.mart_rr_funnel_daily set purchases = purchases + 1, "
        "visitors = visitors + 1 where kpi_date = '2015-09-15'",
    ),
}


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built_golden(request, golden_dir, new_warehouse, tmp_path_factory):
    settings = new_warehouse(request.param)
    load(settings, golden_dir, progress=False)
    target_path = tmp_path_factory.mktemp("target")
    run_dbt(settings, "build", target_path=target_path)
    return settings, target_path


@pytest.mark.parametrize("case", list(TABLE_CORRUPTIONS), ids=lambda c: c.replace(" ", "_"))
def test_table_corruption_fails_its_gate(case, built_golden):
    settings, target_path = built_golden
    gate, test, corruption = TABLE_CORRUPTIONS[case]
    table = corruption.split()[1] if corruption.startswith("update") else corruption.split()[2]
    with connect(settings) as wh:
        wh.execute(f"create table qa.saved_copy as select * from {table}")
    try:
        with connect(settings) as wh:
            wh.execute(corruption)
        run = run_dbt(
            settings,
            "build",
            "--select",
            f"tag:{gate}",
            vars={"target_date": D.isoformat()},
            target_path=target_path,
            check=False,
        )
        assert_gate_failed(settings, run, gate, test)
    finally:
        with connect(settings) as wh:
            wh.execute(f"delete from {table}")
            wh.execute(f"insert into {table} select * from qa.saved_copy")
            wh.execute("drop table qa.saved_copy")
    # restored: the gate passes again
    run_dbt(
        settings,
        "build",
        "--select",
        f"tag:{gate}",
        vars={"target_date": D.isoformat()},
        target_path=target_path,
    )
