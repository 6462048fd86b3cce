"""Spark is a third warehouse with no change to what any model means.

Differential tests against DuckDB on the same files, with a local Spark Thrift Server (the code of
``make spark-up``, started once for the session by tests/conftest.py): every staging, mart and kpi
table equal row for row after a full build and after day-by-day builds, the reports byte for
byte, the five gates failing on their corruptions, and a bad raw file refused with nothing lost.
Java and pyspark are part of the setup: without them these tests fail, they never skip.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from exports.definitions import read_lock
from exports.report import GateRefusal, export_reports, stable_summary_lines
from seeds_loader.hive_support import JAR_NAME, REGISTRY_CLASS
from seeds_loader.load import load
from seeds_loader.raw_files import LoadError
from seeds_loader.warehouse import connect
from tests.dbt_support import BUILT_SCHEMAS, DBT_PROJECT_DIR, query, run_dbt, snapshot
from tests.golden_data import kst_ms, write_golden_files
from tests.test_gates import RAW_CORRUPTIONS, assert_gate_failed, corrupted_copy, exists

pytestmark = [pytest.mark.slow, pytest.mark.spark]

D = dt.date(2015, 9, 15)  # the golden data's last date
SCHEMAS = (*BUILT_SCHEMAS, "kpi")
RAW_DATA_TABLES = ("raw.raw_rr_events", "raw.raw_rr_category_tree", "raw.raw_rr_item_properties")


def _value(v):
    """One comparable value: a float to 12 significant digits (the two engines may sum in another
    order), a decimal as its exact text."""
    if isinstance(v, float):
        return float(f"{v:.12g}") if math.isfinite(v) else v
    if isinstance(v, decimal.Decimal):
        return str(v.normalize())
    return v


def canonical(tables: dict[str, tuple[list[str], list[tuple]]]) -> dict[str, tuple[list[str], list[tuple]]]:
    """Each table with its columns in name order and its rows sorted (Spark puts a partition column
    last, and sorts nulls first): what must be equal, and nothing else."""
    out = {}
    for table, (columns, rows) in tables.items():
        # a published row's fingerprint is the warehouse's own rendering of it: it is compared
        # within one warehouse (test_spark_computes_the_lock_s_definitions_and_binds_the_rows)
        order = sorted(
            (i for i in range(len(columns)) if columns[i] != "row_fingerprint"), key=lambda i: columns[i]
        )
        values = [tuple(_value(row[i]) for i in order) for row in rows]
        values.sort(key=lambda r: tuple((v is None, str(type(v)), v if v is not None else 0) for v in r))
        out[table] = ([columns[i] for i in order], values)
    return out


def assert_same(duck, spark, label: str, schemas=SCHEMAS) -> None:
    left, right = canonical(snapshot(duck, schemas)), canonical(snapshot(spark, schemas))
    assert sorted(left) == sorted(right), f"{label}: table sets differ"
    for table in sorted(left):
        assert left[table][0] == right[table][0], f"{label}: {table} columns differ"
        lrows, rrows = left[table][1], right[table][1]
        if lrows != rrows:
            only_duck = [r for r in lrows if r not in set(rrows)][:3]
            only_spark = [r for r in rrows if r not in set(lrows)][:3]
            raise AssertionError(
                f"{label}: {table} differs ({len(lrows)} rows on DuckDB, {len(rrows)} on Spark); "
                f"DuckDB only: {only_duck}; Spark only: {only_spark}"
            )
        assert lrows, f"{label}: {table} is empty: the comparison would prove nothing"


def certification(settings) -> list[tuple]:
    return query(settings, "select kpi_date, is_certified from qa.rr_date_certification order by 1")


@pytest.fixture(scope="module")
def generated_dir(tmp_path_factory) -> Path:
    from seeds_loader.generate import generate

    out = tmp_path_factory.mktemp("generated") / "raw"
    generate(out, scale=0.01, seed=11, progress=False)
    return out


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory) -> Path:
    return write_golden_files(tmp_path_factory.mktemp("golden") / "raw")


def test_a_full_build_on_spark_equals_duckdb_row_for_row(generated_dir, new_warehouse, tmp_path):
    duck, spark = (
        new_warehouse("duckdb", data_dir=generated_dir),
        new_warehouse("spark", data_dir=generated_dir),
    )
    for settings in (duck, spark):
        report = load(settings, progress=False)
        assert report.load_id == 1 and not report.skipped
        run_dbt(settings, "build", target_path=tmp_path / settings.target)
    # the raw load read the same rows with Spark's own CSV reader: the events and the tree row
    # for row; the 200,000 property rows by aggregates (fetching them over Thrift takes minutes)
    raw = ("raw",)
    for table in RAW_DATA_TABLES[:2]:
        assert canonical(snapshot(duck, raw))[table] == canonical(snapshot(spark, raw))[table], table
    aggregates = {}
    for settings in (duck, spark):
        ts = "`timestamp`" if settings.target == "spark" else '"timestamp"'
        aggregates[settings.target] = query(
            settings,
            f"select count(*), sum({ts}), sum(itemid), count(distinct property), count(value), "
            "sum(length(value)), count(distinct value) from raw.raw_rr_item_properties",
        )[0]
    assert aggregates["duckdb"] == aggregates["spark"] and aggregates["duckdb"][0] > 100_000
    assert_same(duck, spark, "full build")
    dates = certification(spark)
    assert dates == certification(duck) and len(dates) > 100 and all(ok for _, ok in dates)
    # a second load of unchanged files reloads nothing on Spark either
    assert load(spark, only_changed=True, progress=False).load_id is None


@pytest.fixture(scope="module")
def golden_builds(golden_dir, new_warehouse, tmp_path_factory):
    """DuckDB: one full build of the golden data. Spark: a ranged first build of 2015-09-08 ..
    2015-09-14 (a backfill: every date built and checked), then the daily run of 2015-09-15
    (incremental: date partitions replaced, item and visitor histories replaced by key)."""
    duck = new_warehouse("duckdb", data_dir=golden_dir)
    load(duck, progress=False)
    run_dbt(duck, "build", target_path=tmp_path_factory.mktemp("duck"))
    spark = new_warehouse("spark", data_dir=golden_dir)
    load(spark, progress=False)
    target = tmp_path_factory.mktemp("spark")
    run_dbt(spark, "build", vars={"start_date": "2015-09-08", "end_date": "2015-09-14"}, target_path=target)
    run_dbt(spark, "build", vars={"target_date": D.isoformat(), "window_note": NOTE}, target_path=target)
    return duck, spark, target


# a text the run history writes as a SQL literal: Spark reads backslash escapes in literals and
# 'a''b' as two adjacent literals, so the PostgreSQL/DuckDB escaping would change it
NOTE = "widened: it's a re-delivery \\ C:\\new\\ 'quoted' \\"


def test_texts_in_the_run_history_keep_their_quotes_and_backslashes(golden_builds):
    _duck, spark, _target = golden_builds
    assert query(
        spark, "select distinct window_note from qa.rr_invocations where window_note is not null"
    ) == [(NOTE,)]


def test_day_by_day_builds_on_spark_equal_a_full_build_on_duckdb(golden_builds):
    duck, spark, _ = golden_builds
    assert_same(duck, spark, "day by day")
    assert [d for d, ok in certification(spark) if ok] == [d for d, ok in certification(duck) if ok]
    assert D in [d for d, ok in certification(spark) if ok]


def test_the_reports_are_byte_identical(golden_builds, tmp_path):
    duck, spark, _ = golden_builds
    export_reports(duck, D, tmp_path / "duck")
    export_reports(spark, D, tmp_path / "spark")
    for name in ("rr_funnel_daily", "rr_cohort_weekly", "rr_crm_targets"):
        left = (tmp_path / "duck" / f"{name}_{D}.csv").read_bytes()
        assert left == (tmp_path / "spark" / f"{name}_{D}.csv").read_bytes(), name
        assert left.count(b"\n") > 1, name
    summaries = [(tmp_path / x / f"rr_pipeline_summary_{D}.txt").read_text() for x in ("duck", "spark")]
    # apart from the warehouse and the window each run checked (a full build; a daily run)
    stable = [stable_summary_lines(text, "warehouse", "checked window") for text in summaries]
    assert stable[0] == stable[1]


def _overwrite(wh, table: str, column: str, value_sql: str, where: str) -> None:
    """UPDATE on Spark, which Parquet tables lack: rewrite the table from a saved copy."""
    columns = wh.columns(*table.split("."))
    select = ", ".join(
        f"case when {where} then {value_sql} else {wh.quote(c)} end as {wh.quote(c)}"
        if c == column
        else wh.quote(c)
        for c in columns
    )
    wh.execute("set spark.sql.sources.partitionOverwriteMode = STATIC")
    wh.execute(f"insert overwrite table {table} select {select} from qa.saved_copy")


def test_spark_computes_the_lock_s_definitions_and_binds_the_rows(golden_builds, tmp_path):
    """Spark fingerprints the definitions (sha2) and the rows (to_json of each row) its own way:
    its runs ran under the lock's version, and a row added after the checks (Parquet has no UPDATE:
    an INSERT) makes the export refuse the date, naming the table."""
    _, spark, _ = golden_builds
    lock = read_lock()
    assert query(spark, "select distinct definitions_sha256, definitions_version from qa.rr_invocations") == [
        (lock["definitions_sha256"], lock["definitions_version"])
    ]
    table = "kpi_build.mart_rr_funnel_daily"
    with connect(spark) as wh:
        wh.execute("drop table if exists qa.saved_copy")
        wh.execute(f"create table qa.saved_copy using parquet as select * from {table}")
        wh.execute(f"insert into {table} select * from qa.saved_copy where kpi_date = date'{D}'")
    try:
        with pytest.raises(GateRefusal, match=f"{table} rows of {D} differ from the rows its gates checked"):
            export_reports(spark, D, tmp_path)
        assert not tmp_path.exists() or not list(tmp_path.iterdir())
    finally:
        with connect(spark) as wh:
            columns = ", ".join(wh.quote(c) for c in wh.columns(*table.split(".")))
            wh.execute("set spark.sql.sources.partitionOverwriteMode = STATIC")
            wh.execute(f"insert overwrite table {table} select {columns} from qa.saved_copy")
            wh.execute("drop table qa.saved_copy")


def test_gate_kpi_range_catches_a_rate_above_one_on_spark(golden_builds):
    _, spark, target = golden_builds
    table = "kpi_build.mart_rr_funnel_daily"
    with connect(spark) as wh:
        wh.execute("drop table if exists qa.saved_copy")
        wh.execute(f"create table qa.saved_copy using parquet as select * from {table}")
        _overwrite(wh, table, "cvr_view_to_cart", "1.25", f"kpi_date = date'{D}'")
    try:
        run = run_dbt(
            spark,
            "build",
            "--select",
            "tag:gate_kpi_range",
            vars={"target_date": D.isoformat()},
            target_path=target,
            check=False,
        )
        assert_gate_failed(spark, run, "gate_kpi_range", "cvr_view_to_cart")
    finally:
        with connect(spark) as wh:
            columns = ", ".join(wh.quote(c) for c in wh.columns(*table.split(".")))
            wh.execute(f"insert overwrite table {table} select {columns} from qa.saved_copy")
            wh.execute("drop table qa.saved_copy")


def _recorded(spark, pipeline_run_id: str) -> dict[str, int]:
    """Rows of one invocation (by its pipeline_run_id var) in each table of the run history."""
    counts = {}
    for table, condition in (
        ("rr_invocations", "phase = 'start'"),
        ("rr_invocations", "phase = 'end'"),
        ("rr_node_results", "true"),
        ("rr_model_builds", "true"),
        ("rr_date_verdicts", "true"),
    ):
        counts[f"{table} {condition}"] = query(
            spark,
            f"select count(*) from qa.{table} where pipeline_run_id = %s and {condition}",
            (pipeline_run_id,),
        )[0][0]
    return counts


def test_every_model_built_on_four_threads_left_its_stamp(golden_builds):
    """dbt's four threads on Spark append model stamps to qa.rr_model_builds side by side (each a
    partition of its own, rr_append): the history keeps one stamp per model built (but the qa
    models: the run history and the views over it are not reported numbers)."""
    _, spark, _ = golden_builds
    qa_models = sorted(p.stem for p in (DBT_PROJECT_DIR / "models" / "qa").rglob("*.sql"))
    assert len(qa_models) == 14
    rows = query(
        spark,
        "select results.invocation_id, count(*), count(distinct builds.unique_id) "
        "from qa.rr_node_results as results left join qa.rr_model_builds as builds "
        "on builds.invocation_id = results.invocation_id and builds.unique_id = results.unique_id "
        "where results.resource_type = 'model' and results.status = 'success' "
        f"and results.name not in ({', '.join(repr(m) for m in qa_models)}) "
        "group by results.invocation_id",
    )
    assert len(rows) == 2  # the ranged build and the daily build of the fixture
    for _invocation, models, stamped in rows:
        assert models > 15 and stamped == models


PARALLEL_TASKS = ("stg_rr_events", "stg_rr_category_dim", "dim_rr_date")


def test_parallel_tasks_record_every_row_of_the_run_history(golden_builds, tmp_path):
    """Three dbt invocations at once on one Thrift Server, as parallel Airflow tasks run: all
    append to the same history tables. Each invocation's rows are all kept (Spark's plain appends
    lost rows when sessions raced)."""
    _, spark, _ = golden_builds

    def task(model: str):
        return run_dbt(
            spark,
            "build",
            "--select",
            model,
            vars={"target_date": D.isoformat(), "pipeline_run_id": f"parallel-{model}"},
            target_path=tmp_path / model,
            check=False,
        )

    with ThreadPoolExecutor(len(PARALLEL_TASKS)) as pool:
        runs = dict(zip(PARALLEL_TASKS, pool.map(task, PARALLEL_TASKS), strict=True))
    for model, run in runs.items():
        assert run.ok, f"{model}:\n{run.output[-4000:]}"
        recorded_nodes = [
            r
            for r in run.results
            if r["unique_id"].split(".")[0] in ("model", "test", "seed", "snapshot", "unit_test")
        ]
        assert _recorded(spark, f"parallel-{model}") == {
            "rr_invocations phase = 'start'": 1,
            "rr_invocations phase = 'end'": 1,
            "rr_node_results true": len(recorded_nodes),
            "rr_model_builds true": 1,
            "rr_date_verdicts true": 2,  # the window D-1 .. D
        }, model
        assert len(recorded_nodes) > 1, model  # the model and its tests
    # the views answer: every test result of the three tasks is in the gate history
    assert query(spark, "select count(*) from qa.quality_check_runs where dag_run_id like 'parallel-%'")[0][
        0
    ] == sum(len([r for r in run.results if r["unique_id"].startswith("test.")]) for run in runs.values())


def test_a_run_history_of_an_earlier_version_is_refused_until_migrated(golden_builds, tmp_path):
    """A Spark run history of an earlier version (plain Parquet tables): dbt refuses to run on it,
    naming the migration; `make spark-migrate-history` keeps every row and the certification."""
    _, spark, target = golden_builds
    tables = (
        "rr_invocations",
        "rr_catalog",
        "rr_model_builds",
        "rr_node_results",
        "rr_node_failing_dates",
        "rr_date_verdicts",
        "rr_date_verdict_gates",
        "rr_date_verdict_tests",
    )
    before = {t: query(spark, f"select count(*) from qa.{t}")[0][0] for t in tables}
    assert before["rr_node_failing_dates"] > 0  # the volume band warned on the golden data's last day
    certified = certification(spark)
    # the earlier layout: no partition, and not the columns this version added (the definitions
    # the rows were made under)
    added = ("rr_write_id", "definitions_sha256", "definitions_version", "definitions_problem")
    with connect(spark) as wh:
        for t in tables:
            columns = ", ".join(c for c in wh.columns("qa", t) if c not in added)
            wh.execute(f"create table qa.{t}__old using parquet as select {columns} from qa.{t}")
            wh.execute(f"drop table qa.{t}")
            wh.execute(f"alter table qa.{t}__old rename to qa.{t}")
    run = run_dbt(spark, "build", "--select", "dim_rr_date", target_path=target, check=False)
    assert not run.ok and "make spark-migrate-history" in run.output
    assert query(spark, "select count(*) from qa.rr_invocations")[0][0] == before["rr_invocations"]
    run_dbt(spark, "run-operation", "rr_partition_spark_history", target_path=target)
    after = {t: query(spark, f"select count(*) from qa.{t}")[0][0] for t in tables}
    assert after == before
    with connect(spark) as wh:
        for t in tables:
            assert "rr_write_id" in wh.columns("qa", t), t
            assert not wh.query(f"show tables in qa like '{t}__*'"), t
    # the old rows do not say which definitions they were made under: they certify nothing (the
    # next `make build` rebuilds every date under the lock: tests/test_upgrade.py)
    assert not any(ok for _, ok in certification(spark)) and len(certified) == len(certification(spark))

    # the columns a new version adds reach partitioned tables as well (ALTER TABLE ADD COLUMNS),
    # on the first run of that version: rr_invocations without definitions_problem, and this
    # version's catalog not recorded yet
    [(catalog_id,)] = query(
        spark,
        "select catalog_id from qa.rr_invocations where catalog_id is not null order by recorded_at desc limit 1",
    )
    with connect(spark) as wh:
        for t, keep, where in (
            ("rr_invocations", lambda c: c != "definitions_problem", "true"),
            ("rr_catalog", lambda c: True, f"catalog_id <> '{catalog_id}'"),
        ):
            columns = [c for c in wh.columns("qa", t) if keep(c) and c != "rr_write_id"] + ["rr_write_id"]
            wh.execute(f"alter table qa.{t} rename to qa.{t}__copy")
            wh.execute(
                f"create table qa.{t} using parquet options (partitionOverwriteMode 'dynamic') "
                f"partitioned by (rr_write_id) as select {', '.join(columns)} from qa.{t}__copy where {where}"
            )
            wh.execute(f"drop table qa.{t}__copy")
    invocations = query(spark, "select count(*) from qa.rr_invocations")[0][0]
    run_dbt(spark, "build", "--select", "dim_rr_date", target_path=target)
    with connect(spark) as wh:
        assert "definitions_problem" in wh.columns("qa", "rr_invocations")
    assert query(spark, "select count(*) from qa.rr_invocations")[0][0] == invocations + 2
    assert query(spark, "select count(*) from qa.rr_catalog where catalog_id = %s", (catalog_id,))[0][0] > 0


# one gate each: gate_domain, gate_integrity, gate_rowcount (2015-09-12 missing) in one data set,
# and a null key (gate_nulls) inserted after the load: four gates fail in one build (a Spark build
# costs about a minute, mostly fixed per-statement cost)
SPARK_RAW_CASES = ("unknown event type", "transaction id of two visitors", "a missing day")


def test_raw_corruptions_and_a_null_key_fail_their_gates_on_spark(golden_dir, new_warehouse, tmp_path):
    data = golden_dir
    for case in SPARK_RAW_CASES:
        c = RAW_CORRUPTIONS[case]
        assert c.vars is None and c.blocked == "kpi_build.mart_rr_funnel_daily"
        data = corrupted_copy(data, tmp_path / case.replace(" ", "_"), c.file, c.edit)
    spark = new_warehouse("spark", data_dir=data)
    load(spark, progress=False)
    with connect(spark) as wh:  # rows written by some other path than the loader
        wh.execute(
            "insert into raw.raw_rr_events values (%s, 4, 'view', null, null)",
            (kst_ms("2015-09-15", "11:10:00"),),
        )
    run = run_dbt(spark, "build", target_path=tmp_path / "target", check=False)
    for case in SPARK_RAW_CASES:
        c = RAW_CORRUPTIONS[case]
        assert_gate_failed(spark, run, c.gate, c.test)
    assert_gate_failed(spark, run, "gate_nulls", "rr_columns_not_null_stg_rr_events")
    assert not exists(spark, "kpi_build", "mart_rr_funnel_daily")


def test_a_bad_raw_file_is_refused_and_a_killed_load_is_finished_by_the_next(
    golden_dir, new_warehouse, tmp_path, monkeypatch
):
    """A bad row names its file and line and leaves the raw tables as they were; a load killed
    between its record and its swap is finished by the next load."""
    import seeds_loader.load as loader

    spark = new_warehouse("spark", data_dir=golden_dir)
    first = load(spark, progress=False)
    before = {t: query(spark, f"select count(*) from {t}")[0][0] for t in RAW_DATA_TABLES}
    loads_before = query(spark, "select count(*) from raw.raw_rr_load_log")[0][0]

    def bad_integer(lines):  # line 4 (the header is line 1): visitorid "<n>x"
        fields = lines[3].split(",")
        fields[1] += "x"
        return [*lines[:3], ",".join(fields), *lines[4:]]

    bad = corrupted_copy(golden_dir, tmp_path / "bad", "events.csv", bad_integer)
    assert (bad / "events.csv").read_text().splitlines()[3].split(",")[1].endswith("x")
    with pytest.raises(LoadError) as caught:
        load(spark, bad, progress=False)
    assert (caught.value.file, caught.value.line) == ("events.csv", 4), str(caught.value)
    assert "visitorid" in str(caught.value)
    after = {t: query(spark, f"select count(*) from {t}")[0][0] for t in RAW_DATA_TABLES}
    assert after == before and first.load_id == 1
    assert query(spark, "select count(*) from raw.raw_rr_load_log")[0][0] == loads_before
    with connect(spark) as wh:
        assert not wh.table_exists("raw", "raw_rr_events__rr_new")

    # Spark has no transactions: a load records itself, then renames its new tables into place.
    # Killed in between, it leaves the marker, the old tables and a record that already withdrew
    # the dates it changed; the next load reloads every table (no file differs from the log).
    view = f"{kst_ms('2015-09-15', '11:00:00')},4,view,200,"
    edited = corrupted_copy(
        golden_dir, tmp_path / "edited", "events.csv",
        lambda lines: [x.replace(",view,", ",addtocart,") if x == view else x for x in lines],
    )  # fmt: skip

    def killed(*_args):
        raise KeyboardInterrupt  # as a kill of the loader between its record and its renames

    monkeypatch.setattr(loader, "swap_in", killed)
    with pytest.raises(KeyboardInterrupt):
        load(spark, edited, only_changed=True, progress=False)
    monkeypatch.undo()
    addtocart = "select count(*) from raw.raw_rr_events where event = 'addtocart'"
    before = query(spark, addtocart)[0][0]
    with connect(spark) as wh:
        assert wh.table_exists("raw", "raw_rr_load_unfinished")
        assert wh.table_exists("raw", "raw_rr_events__rr_new")  # written, not swapped in
    assert query(spark, "select load_id, changed_dates from raw.raw_rr_loads order by 1") == [
        (1, "all dates (category_tree.csv loaded for the first time)"),
        (2, "2015-09-15 (events.csv)"),
    ]
    again = load(spark, edited, only_changed=True, progress=False)
    assert again.load_id == 3 and len(again.loaded) == 4 and again.changes.describe() == "none"
    assert query(spark, addtocart)[0][0] == before + 1
    with connect(spark) as wh:
        assert not wh.table_exists("raw", "raw_rr_load_unfinished")
        assert not any(wh.table_exists("raw", f"{t.split('.')[1]}__rr_new") for t in RAW_DATA_TABLES)


def test_the_session_method_reads_and_writes_with_the_same_types(tmp_path):
    """RR_SPARK_METHOD=session: a local Spark inside this process, on its own metastore; values
    come back as the same Python types as over Thrift (dates, timestamps, decimals)."""
    from dataclasses import replace

    from seeds_loader import spark
    from seeds_loader.settings import load_settings

    settings = replace(
        load_settings(use_dotenv=False),
        target="spark",
        spark_method="session",
        spark_dir=tmp_path / "spark",
        spark_driver_memory="1g",
    )
    try:
        with connect(settings) as wh:
            wh.execute("create database if not exists scratch")
            wh.execute(
                "create table scratch.t (d date, ts timestamp, n decimal(10, 2), s string) using parquet"
            )
            wh.execute(
                "insert into scratch.t values (%s, %s, %s, %s)",
                (dt.date(2015, 9, 17), dt.datetime(2015, 9, 17, 1, 2, 3), decimal.Decimal("1.25"), "it's"),
            )
            assert wh.query("select d, ts, n, s from scratch.t") == [
                (dt.date(2015, 9, 17), dt.datetime(2015, 9, 17, 1, 2, 3), decimal.Decimal("1.25"), "it's")
            ]
            assert wh.scalar("select current_timezone()") == "UTC"
            assert wh.table_exists("scratch", "t") and not wh.table_exists("scratch", "missing")
            assert wh.query(REGISTRY_PROBE) == [("true",)]  # the driver has the jar here too
        assert (tmp_path / "spark" / "warehouse" / "scratch.db").is_dir()  # the local warehouse folder
    finally:
        from pyspark import SparkContext

        jvm = getattr(SparkContext._gateway, "proc", None)
        spark.stop_session()
    # the JVM the session started ends with it (it used to stay, with 0.5 GB, until the process exits)
    assert jvm is not None and jvm.poll() is not None


# runs the static initialiser of Hive's function registry, which needs the interface pyspark does
# not ship (seeds_loader/hive_support.py)
REGISTRY_PROBE = f"select reflect('{REGISTRY_CLASS}', 'isRankingFunction', 'rank')"
PLAIN_SESSION = r"""
import sys
from pyspark.sql import SparkSession

builder = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
if sys.argv[1]:
    builder = builder.config("spark.driver.extraClassPath", sys.argv[1])
spark = builder.getOrCreate()
try:
    print("RESULT", spark.sql(sys.argv[2]).collect()[0][0])
except Exception as exc:
    print("RESULT error, names the missing interface:", "LlapSigner$Signable" in str(exc))
"""


def test_the_thrift_server_can_initialise_hive_functions(_spark_server, tmp_path):
    """A session closing on a Thrift handler thread can make Hive register its functions (CI of
    2026-12-07: one of three parallel dbt builds failed at its close with NoClassDefFoundError
    LlapSigner$Signable). The server of make spark-up has the interface on its class path, so the
    registry initialises there; a plain pyspark driver without the jar fails on the same query,
    and with only the jar added it succeeds."""
    server = _spark_server()
    assert query(server, REGISTRY_PROBE) == [("true",)]
    jar = server.spark_jars_dir / JAR_NAME
    env = {k: v for k, v in os.environ.items() if k != "SPARK_CONF_DIR"}
    found = []
    for class_path in ("", str(jar)):
        done = subprocess.run(
            [sys.executable, "-c", PLAIN_SESSION, class_path, REGISTRY_PROBE],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        assert len(lines) == 1, done.stdout[-2000:] + done.stderr[-3000:]
        found.append(lines[0])
    assert found == ["RESULT error, names the missing interface: True", "RESULT true"]


def test_a_session_beside_the_running_local_server_fails_at_once_in_one_line(
    _spark_server, golden_dir, tmp_path
):
    """`make spark-up`, then a load with the default RR_SPARK_METHOD=session on the same metastore:
    Derby admits one process, so the session used to start a JVM and die half a minute later with
    a traceback (Unable to instantiate SessionHiveMetaStoreClient). It is refused before any JVM
    starts, in one line that names the way out; the server's warehouse is untouched."""
    server = _spark_server()
    env = {
        **os.environ,
        **server.dbt_env(),
        "RR_SPARK_METHOD": "session",
        "RR_DATA_DIR": str(golden_dir),
    }
    env.pop("SPARK_CONF_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "seeds_loader", "load", "--quiet"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the local Spark Thrift Server (pid "), done.stderr
    assert "set RR_SPARK_METHOD=thrift to use it" in lines[0] and "make spark-down" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert query(server, "select 1") == [(1,)]  # the server keeps its metastore
