"""make bench: the pipeline timed at full scale on each warehouse (not a test: nothing is asserted).

python -m tests.bench.run_bench [--scale 1.0] [--targets duckdb postgres spark] [--repeat 3]
    [--steps-only] [--one-daily] [--out DIR]

Generates the data set once (data/bench/scale-<s>/raw, reused when present), then per warehouse
times the raw load, a full `dbt build --full-refresh`, a daily incremental `dbt build` for a
mid-range date, and the export of that date, each with the peak memory of its process tree;
then once: the DAG file parse time, `airflow dags test` for one date on DuckDB, and the pandas
reference sessionization against the project's (the fact_rr_events model of the full build).

Orchestration (DuckDB): one date built and exported directly (``daily_direct_s``), through
``airflow dags test`` (``daily_dags_test_s``) and through a real scheduler (``daily_scheduler_s``:
the native Airflow of airflow/ops/native.py, metadata in PostgreSQL); and the whole history
rebuilt with every date's reports, directly (``backfill_history_direct_s``: ``exports.pipeline
run-linux`` with START/END) and as one ranged DAG run (``backfill_history_airflow_s``).
On Spark (without --steps-only) one date is also built and exported directly and through
``airflow dags test`` on the bench's Thrift Server. Steps shorter than --max-repeat-seconds run
--repeat times and report the median. Results go to logs/bench/latest.json and latest.md (--out).

The large-scale runs (the generator goes up to scale 10, about 27.8 million events):
``--steps-only`` keeps the per-warehouse steps (no pandas reference, no Airflow, no DAG parse);
``--one-daily`` times one daily build (no warm-up run, no series of dates by history size).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from seeds_loader.settings import Settings, load_settings
from seeds_loader.warehouse import connect

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DBT_DIR = ROOT / "dbt_retailrocket"
MID_DATE = "2015-07-15"
# three Wednesdays (so no window holds a weekly property snapshot, which adds the item states it logs)
DATES_BY_HISTORY = ("2015-05-13", MID_DATE, "2015-09-16")

WAREHOUSES = ("duckdb", "postgres", "spark")
TARGETS_S = {"duckdb_load_build_export": 60, "postgres_load_build_export": 360}
# orchestration through Airflow at most this many times the same work run directly
TARGET_RATIOS = {"backfill_history": 2.0, "daily_dags_test": 3.0, "daily_scheduler": 5.0}


@dataclass
class Step:
    seconds: float
    peak_rss_mb: float
    output: str


def run_step(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> Step:
    """Run a command, timing it and sampling the peak RSS of its whole process tree."""
    start = time.perf_counter()
    proc = psutil.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        try:
            tree = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    reader.join()
    seconds = time.perf_counter() - start
    output = "".join(chunks)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{output[-4000:]}")
    return Step(seconds, peak / 2**20, output)


def repeated(label: str, count: int, max_repeat_s: float, fn) -> dict[str, Any]:
    runs = []
    for i in range(count):
        step = fn()
        runs.append(step)
        print(f"  {label}: {step.seconds:.2f} s, peak {step.peak_rss_mb:.0f} MB", flush=True)
        if step.seconds > max_repeat_s and i == 0:
            break
    return {
        "median_s": statistics.median(r.seconds for r in runs),
        "runs_s": [round(r.seconds, 3) for r in runs],
        "peak_rss_mb": max(r.peak_rss_mb for r in runs),
    }


def node_seconds(target_path: Path) -> dict[str, float]:
    """Node times of a dbt invocation; ``nodes_wall_s``: the time at least one node was compiling
    or running (the union of their intervals, so dbt's parallel threads are not counted twice):
    the invocation's wall time minus it is its fixed cost (start-up, parse, hooks)."""
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    times = {r["unique_id"]: r["execution_time"] for r in results}
    spans = sorted(
        (dt.datetime.fromisoformat(t["started_at"]), dt.datetime.fromisoformat(t["completed_at"]))
        for r in results
        for t in r.get("timing", [])
        if t.get("started_at") and t.get("completed_at")
    )
    busy = 0.0
    end: dt.datetime | None = None
    for start, stop in spans:
        if end is None or start > end:
            busy += (stop - start).total_seconds()
            end = stop
        elif stop > end:
            busy += (stop - end).total_seconds()
            end = stop
    return {
        "models_s": round(sum(t for u, t in times.items() if u.startswith("model.")), 3),
        "tests_s": round(sum(t for u, t in times.items() if u.startswith(("test.", "unit_test."))), 3),
        "fact_rr_events_s": round(times.get("model.retailrocket.fact_rr_events", 0.0), 3),
        "nodes_wall_s": round(busy, 3),
    }


def bench_target(settings: Settings, data_dir: Path, args, work: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        **settings.dbt_env(),
        "RR_DATA_DIR": str(data_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    env.pop("DBT_PROFILES_DIR", None)
    dbt = [str(BIN / "dbt")]
    dbt_dirs = ["--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)]
    out: dict[str, Any] = {}
    print(f"[{settings.target}] {settings.describe()}", flush=True)

    def load() -> Step:
        return run_step([sys.executable, "-m", "seeds_loader", "load", "--quiet"], env)

    out["load"] = repeated("load", args.repeat, args.max_repeat_seconds, load)

    full_nodes: list[dict[str, float]] = []

    def full_build() -> Step:
        target_path = work / f"{settings.target}-full"
        step = run_step(
            [*dbt, "build", "--full-refresh", "--target-path", str(target_path), *dbt_dirs], env, DBT_DIR
        )
        full_nodes.append(node_seconds(target_path))
        return step

    out["full_build"] = repeated("full dbt build", args.repeat, args.max_repeat_seconds, full_build)
    out["full_build"]["nodes"] = full_nodes[-1]

    inc_nodes: list[dict[str, float]] = []

    def incremental() -> Step:
        target_path = work / f"{settings.target}-incremental"
        step = run_step(
            [
                *dbt,
                "build",
                "--vars",
                json.dumps({"target_date": MID_DATE}),
                "--target-path",
                str(target_path),
                *dbt_dirs,
            ],
            env,
            DBT_DIR,
        )
        inc_nodes.append(node_seconds(target_path))
        return step

    if not args.one_daily:
        incremental()  # first incremental run re-parses the project for the new vars: not counted
    out["incremental_build"] = repeated(
        f"incremental dbt build ({MID_DATE})", args.repeat, args.max_repeat_seconds, incremental
    )
    counted = inc_nodes if args.one_daily else inc_nodes[1:]
    out["incremental_build"]["nodes"] = {k: statistics.median(n[k] for n in counted) for k in inc_nodes[-1]}

    # does a daily run cost follow the day or the history? the same build for an early, the mid and
    # a late date (days of similar size; the history before them grows about 20-fold)
    by_date = {}
    for day in () if args.one_daily else DATES_BY_HISTORY:
        target_path = work / f"{settings.target}-by-date"
        vars_ = json.dumps({"target_date": day})
        step = run_step(
            [*dbt, "build", "--vars", vars_, "--target-path", str(target_path), *dbt_dirs], env, DBT_DIR
        )
        with connect(settings, create=False) as wh:
            events = wh.scalar("select count(*) from staging.stg_rr_events where event_date = %s", (day,))
            history = wh.scalar("select count(*) from staging.stg_rr_events where event_date <= %s", (day,))
        nodes = node_seconds(target_path)
        by_date[day] = {
            "wall_s": round(step.seconds, 2),
            **nodes,
            "fixed_s": round(step.seconds - nodes["nodes_wall_s"], 2),
            "events_on_date": events,
            "events_up_to_date": history,
        }
        print(
            f"  incremental dbt build {day}: {step.seconds:.2f} s, models {by_date[day]['models_s']} s",
            flush=True,
        )
    out["incremental_by_date"] = by_date

    def export() -> Step:
        return run_step(
            [sys.executable, "-m", "exports", "--target-date", MID_DATE, "--out", str(work / "reports")], env
        )

    out["export"] = repeated("export", args.repeat, args.max_repeat_seconds, export)
    if settings.target == "postgres":
        out["incremental_plans"] = postgres_plans(settings, env, work)
    with connect(settings, create=False) as wh:
        out["events"] = int(wh.scalar("select count(*) from raw.raw_rr_events"))
        out["property_rows"] = int(wh.scalar("select count(*) from raw.raw_rr_item_properties"))
    return out


def postgres_plans(settings: Settings, env: dict[str, str], work: Path) -> dict[str, list[str]]:
    """EXPLAIN of the incremental SQL of every model: how each one reads the history."""
    target_path = work / "postgres-compiled"
    subprocess.run(
        [str(BIN / "dbt"), "compile", "--quiet", "--vars", json.dumps({"target_date": MID_DATE}),
         "--target-path", str(target_path), "--select", "resource_type:model",
         "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)],
        env=env, cwd=DBT_DIR, check=True, capture_output=True,
    )  # fmt: skip
    plans = {}
    with connect(settings, create=False) as wh:
        for sql_file in sorted((target_path / "compiled" / "retailrocket" / "models").rglob("*.sql")):
            plan = [r[0] for r in wh.query("explain " + sql_file.read_text())]
            scans = [line.strip().lstrip("-> ").split("  (")[0] for line in plan if " Scan " in f" {line} "]
            plans[sql_file.stem] = [s for s in dict.fromkeys(scans) if not s.startswith("CTE Scan")]
    return plans


def dag_parse_seconds(repeat: int) -> float:
    """Seconds to parse the DAG file in a process that has Airflow imported (what a DAG processor pays)."""
    code = (
        "import time, airflow, airflow.sdk\n"
        "from airflow.models.dagbag import DagBag\n"
        "t = time.perf_counter()\n"
        f"bag = DagBag(dag_folder={str(ROOT / 'airflow' / 'dags' / 'rr_funnel_daily.py')!r})\n"
        "print(time.perf_counter() - t)\n"
        "assert not bag.import_errors and 'rr_funnel_daily' in bag.dags, bag.import_errors\n"
    )
    env = {
        **os.environ,
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def airflow_env(settings: Settings, data_dir: Path, work: Path, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        **settings.dbt_env(),
        "RR_DATA_DIR": str(data_dir),
        "RR_REPORTS_DIR": str(work / "dag-reports"),
        "RR_PROJECT_ROOT": str(ROOT),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "airflow" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    }


def dags_test_seconds(settings: Settings, data_dir: Path, work: Path, conf: dict[str, str]) -> float:
    """`airflow dags test` of one run with ``conf`` (one date or a range); every date's summary
    must have been written."""
    env = airflow_env(settings, data_dir, work, work / "airflow-home")
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    step = run_step(
        [str(BIN / "airflow"), "dags", "test", "rr_funnel_daily", "--conf", json.dumps(conf)], env
    )
    last = conf.get("end_date") or conf["target_date"]
    if not (work / "dag-reports" / f"rr_pipeline_summary_{last}.txt").exists():
        raise RuntimeError("airflow dags test wrote no report:\n" + step.output[-4000:])
    return step.seconds


def direct_seconds(settings: Settings, data_dir: Path, work: Path, environ: dict[str, str]) -> float:
    """`python -m exports.pipeline run-linux` (load what changed, build the window, export every
    date), no Airflow: the direct counterpart of a DAG run."""
    env = {**airflow_env(settings, data_dir, work, work / "airflow-home"), **environ}
    step = run_step([sys.executable, "-m", "exports.pipeline", "run-linux"], env)
    if "error:" in step.output:
        raise RuntimeError("run-linux failed:\n" + step.output[-4000:])
    return step.seconds


def scheduler_seconds(settings: Settings, data_dir: Path, work: Path, day: str) -> float:
    """One run of one date through a real scheduler (the native Airflow: api-server, scheduler,
    dag-processor, triggerer; metadata in PostgreSQL), from trigger to its last task.

    Timed as on a day of an Airflow in service, with nothing else running: the run of the day
    before goes first, untimed. That first trigger unpauses the DAG, which starts the scheduled run
    of the last 09:00 KST (on a historical data set it stops in check_raw_freshness) ahead of it
    (max_active_runs 1); the timed run then starts alone, after its previous day's run."""
    home = work / "airflow-native"
    env = {
        **airflow_env(settings, data_dir, work, home),
        "RR_AIRFLOW_PORT": os.environ.get("RR_BENCH_AIRFLOW_PORT", "8093"),
        "RR_AIRFLOW_DATABASE": "retailrocket_bench_airflow",
    }
    native = [sys.executable, str(ROOT / "airflow" / "ops" / "native.py")]
    subprocess.run([*native, "up"], env=env, check=True, capture_output=True, timeout=900)
    try:
        previous = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
        for date in (previous, day):
            step = run_step([*native, "trigger", "--date", date], env)
            if f"run manual_backfill_{date}: success" not in step.output:
                raise RuntimeError("the native Airflow's run failed:\n" + step.output[-4000:])
        return step.seconds
    finally:
        subprocess.run([*native, "down", "--drop-database"], env=env, check=False, capture_output=True)


def orchestration(settings: Settings, data_dir: Path, work: Path, args) -> dict[str, Any]:
    """The orchestration cost on DuckDB (see the module doc), on the warehouse the DuckDB steps
    built (loaded, full build done)."""
    with connect(settings, create=False) as wh:
        first, last = wh.query("select min(kpi_date), max(kpi_date) from kpi_build.mart_rr_funnel_daily")[0]
    history = {"START": first.isoformat(), "END": last.isoformat()}
    out: dict[str, Any] = {"backfill_history_dates": (last - first).days + 1}
    print(f"  backfill {first} .. {last} directly (run-linux START END) ...", flush=True)
    out["backfill_history_direct_s"] = round(direct_seconds(settings, data_dir, work, history), 2)
    print("  ... and as one ranged airflow dags test run ...", flush=True)
    conf = {"start_date": history["START"], "end_date": history["END"]}
    out["backfill_history_airflow_s"] = round(dags_test_seconds(settings, data_dir, work, conf), 2)
    print(f"  one date ({MID_DATE}): directly, airflow dags test, the native scheduler ...", flush=True)
    out["daily_direct_s"] = round(direct_seconds(settings, data_dir, work, {"DATE": MID_DATE}), 2)
    out["daily_dags_test_s"] = round(
        dags_test_seconds(settings, data_dir, work, {"target_date": MID_DATE}), 2
    )
    if args.scheduler:
        try:
            out["daily_scheduler_s"] = round(scheduler_seconds(settings, data_dir, work, MID_DATE), 2)
        except Exception as exc:  # measured when it can be; the reason is kept
            out["daily_scheduler_error"] = str(exc)[-2000:]
    return out


def sessionize_seconds(settings: Settings, data_dir: Path, repeat: int, work: Path) -> dict[str, float]:
    """The project's sessionization step (the fact_rr_events model alone, full refresh) against the
    pandas reference doing the same job: read the staged events, sessionize, write the table."""

    from tests.bench.pandas_sessionize import sessionize

    env = {
        **os.environ,
        **settings.dbt_env(),
        "RR_DATA_DIR": str(data_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    target_path = work / "sessionize"
    sql_runs = []
    for _ in range(repeat):
        run_step(
            [str(BIN / "dbt"), "run", "--select", "fact_rr_events", "--full-refresh", "--target-path",
             str(target_path), "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)],
            env,
            DBT_DIR,
        )  # fmt: skip
        sql_runs.append(node_seconds(target_path)["fact_rr_events_s"])

    pandas_runs, kernel_runs = [], []
    with connect(settings, create=False) as wh:
        expected = dict(wh.query("select event_id, session_id from mart.fact_rr_events"))
        for _ in range(repeat):
            start = time.perf_counter()
            events = wh.conn.execute("select * from staging.stg_rr_events").df()
            kernel_start = time.perf_counter()
            events["session_id"] = sessionize(events)
            kernel_runs.append(time.perf_counter() - kernel_start)
            wh.conn.register("pandas_sessionized", events)
            wh.conn.execute(
                "create or replace table main.bench_pandas_sessionized as select * from pandas_sessionized"
            )
            wh.conn.unregister("pandas_sessionized")
            pandas_runs.append(time.perf_counter() - start)
        wh.execute("drop table main.bench_pandas_sessionized")
    if dict(zip(events["event_id"], events["session_id"], strict=True)) != expected:
        raise RuntimeError("the pandas reference and fact_rr_events disagree")
    return {
        "sql_sessionize_s": round(statistics.median(sql_runs), 3),
        "pandas_sessionize_s": round(statistics.median(pandas_runs), 3),
        "pandas_kernel_s": round(statistics.median(kernel_runs), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--targets", nargs="+", default=["duckdb", "postgres"], choices=list(WAREHOUSES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-repeat-seconds", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=ROOT / "logs" / "bench")
    parser.add_argument(
        "--no-scheduler",
        dest="scheduler",
        action="store_false",
        help="skip the run through the native Airflow's scheduler (daily_scheduler_s)",
    )
    parser.add_argument(
        "--steps-only",
        action="store_true",
        help="per warehouse only the load, full build, daily build and export (no pandas reference, "
        "no Airflow): the large-scale runs",
    )
    parser.add_argument(
        "--one-daily",
        action="store_true",
        help="one daily build (no warm-up run, no series of dates by history size): the slowest "
        "warehouse at the largest scale",
    )
    args = parser.parse_args()

    base = load_settings()
    bench_dir = ROOT / "data" / "bench" / f"scale-{args.scale:g}"
    data_dir = bench_dir / "raw"
    result: dict[str, Any] = {
        "scale": args.scale,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "mid_date": MID_DATE,
    }
    if not (data_dir / "events.csv").exists():
        print(f"generating scale {args.scale:g} into {data_dir}", flush=True)
        step = run_step(
            [sys.executable, "-m", "seeds_loader", "generate", "--out", str(data_dir), "--scale", str(args.scale),
             "--quiet"],
            dict(os.environ),
        )  # fmt: skip
        result["generate_s"] = round(step.seconds, 2)
        result["generate_peak_rss_mb"] = round(step.peak_rss_mb)
    work = Path(tempfile.mkdtemp(prefix="rr-bench-"))
    try:
        for target in args.targets:
            if target == "duckdb":
                path = bench_dir / "warehouse.duckdb"
                path.unlink(missing_ok=True)
                settings = replace(base, target="duckdb", duckdb_path=path, data_dir=data_dir)
            elif target == "spark":
                result[target] = bench_spark(base, bench_dir, data_dir, args, work)
                continue
            else:
                settings = replace(
                    base, target="postgres", pg_database="retailrocket_bench", data_dir=data_dir
                )
                drop_pg_database(settings)
            result[target] = bench_target(settings, data_dir, args, work)
            if target == "duckdb" and not args.steps_only:
                with connect(settings, create=False) as wh:
                    result["events"] = wh.scalar("select count(*) from raw.raw_rr_events")
                    result["property_rows"] = wh.scalar("select count(*) from raw.raw_rr_item_properties")
                print("  sessionization: fact_rr_events alone vs the pandas reference ...", flush=True)
                result.update(sessionize_seconds(settings, data_dir, args.repeat, work))
                result.update(orchestration(settings, data_dir, work, args))
        if not args.steps_only:
            result["dag_parse_s"] = round(dag_parse_seconds(args.repeat), 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summarize(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "latest.md").write_text(markdown(result))
    print((args.out / "latest.md").read_text())
    return 0


def bench_spark(base: Settings, bench_dir: Path, data_dir: Path, args, work: Path) -> dict[str, Any]:
    """The same steps on a local Spark Thrift Server (make spark-up's, its own folder under the
    bench data): the server's peak memory is sampled apart (it is not in a step's process tree)."""
    from seeds_loader import spark_server

    folder = bench_dir / "spark"
    shutil.rmtree(folder, ignore_errors=True)
    settings = replace(
        base, target="spark", spark_method="thrift", spark_host="127.0.0.1", spark_port=10011,
        spark_dir=folder, data_dir=data_dir,
    )  # fmt: skip
    started = time.perf_counter()
    pid = spark_server.up(settings)
    startup = time.perf_counter() - started
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        server = psutil.Process(pid)
        while not done.is_set():
            try:
                tree = [server, *server.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out = bench_target(settings, data_dir, args, work)
        if not args.steps_only:  # the DAG through Cosmos on this server (one dbt invocation per task)
            print(f"  one date ({MID_DATE}) on Spark: directly, then airflow dags test ...", flush=True)
            out["daily_direct_s"] = round(direct_seconds(settings, data_dir, work, {"DATE": MID_DATE}), 2)
            out["daily_dags_test_s"] = round(
                dags_test_seconds(settings, data_dir, work, {"target_date": MID_DATE}), 2
            )
            out["daily_dags_test_ratio"] = round(out["daily_dags_test_s"] / out["daily_direct_s"], 2)
            if args.scheduler:  # tasks side by side (airflow dags test runs one at a time)
                print("  ... and through the native Airflow's scheduler ...", flush=True)
                try:
                    out["daily_scheduler_s"] = round(scheduler_seconds(settings, data_dir, work, MID_DATE), 2)
                    out["daily_scheduler_ratio"] = round(out["daily_scheduler_s"] / out["daily_direct_s"], 2)
                except Exception as exc:  # measured when it can be; the reason is kept
                    out["daily_scheduler_error"] = str(exc)[-2000:]
    finally:
        done.set()
        sampler.join()
        spark_server.down(settings)
    out["server_start_s"] = round(startup, 1)
    out["server_peak_rss_mb"] = round(peak[0] / 2**20)
    return out


def drop_pg_database(settings: Settings) -> None:
    import psycopg

    with psycopg.connect(settings.pg_conninfo_for("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{settings.pg_database}" with (force)')


def summarize(result: dict[str, Any]) -> None:
    """The flat keys of the issue and the targets' verdicts."""
    checks = {}
    for target in WAREHOUSES:
        r = result.get(target)
        if not r:
            continue
        r["load_s"] = round(r["load"]["median_s"], 2)
        r["full_build_s"] = round(r["full_build"]["median_s"], 2)
        r["incremental_build_s"] = round(r["incremental_build"]["median_s"], 2)
        r["export_s"] = round(r["export"]["median_s"], 2)
        r["peak_rss_mb"] = round(
            max(r[s]["peak_rss_mb"] for s in ("load", "full_build", "incremental_build", "export"))
        )
        total = r["load_s"] + r["full_build_s"] + r["export_s"]
        if f"{target}_load_build_export" in TARGETS_S:  # Spark has no target: it is measured
            limit = TARGETS_S[f"{target}_load_build_export"]
            checks[f"{target}: load + full build + export <= {limit} s"] = (round(total, 1), total <= limit)
        r["full_build_s_per_million_events"] = round(r["full_build_s"] / (r["events"] / 1e6), 2)
        wall = r["incremental_build_s"] / r["full_build_s"]
        nodes_full = r["full_build"]["nodes"]["models_s"]
        nodes_inc = r["incremental_build"]["nodes"]["models_s"]
        checks[f"{target}: incremental build <= 5% of full build (wall clock)"] = (
            round(100 * wall, 1),
            wall <= 0.05,
        )
        checks[f"{target}: incremental model work <= 5% of full (sum of model times)"] = (
            round(100 * nodes_inc / nodes_full, 1),
            nodes_inc / nodes_full <= 0.05,
        )
        if target == "duckdb":
            checks["duckdb: peak memory < 4 GiB"] = (r["peak_rss_mb"], r["peak_rss_mb"] < 4096)
    if "pandas_sessionize_s" in result:
        speedup = result["pandas_sessionize_s"] / result["sql_sessionize_s"]
        result["sessionize_speedup"] = round(speedup, 1)
        checks["sessionization >= 5x faster than pandas"] = (round(speedup, 1), speedup >= 5)
    if "dag_parse_s" in result:
        checks["DAG parse < 0.5 s"] = (result["dag_parse_s"], result["dag_parse_s"] < 0.5)
    for target in WAREHOUSES:
        r = result.get(target)
        if r:  # a daily build: the models' own time, and the invocation's fixed cost (its wall
            # time minus the time any node was compiling or running)
            r["daily_model_s"] = r["incremental_build"]["nodes"]["models_s"]
            r["daily_fixed_s"] = round(
                r["incremental_build_s"] - r["incremental_build"]["nodes"]["nodes_wall_s"], 2
            )
    pairs = {
        "backfill_history": ("backfill_history_airflow_s", "backfill_history_direct_s"),
        "daily_dags_test": ("daily_dags_test_s", "daily_direct_s"),
        "daily_scheduler": ("daily_scheduler_s", "daily_direct_s"),
    }
    for name, (through_airflow, direct) in pairs.items():
        if through_airflow in result and direct in result:
            ratio = result[through_airflow] / result[direct]
            result[f"{name}_ratio"] = round(ratio, 2)
            limit = TARGET_RATIOS[name]
            checks[f"{through_airflow} <= {limit:g}x {direct}"] = (round(ratio, 2), ratio <= limit)
    result["targets"] = {k: {"value": v, "met": ok} for k, (v, ok) in checks.items()}


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    # the data set's size: from the DuckDB reference steps, else from any warehouse's load
    loaded = [result[t] for t in WAREHOUSES if isinstance(result.get(t), dict)]
    events, properties = (
        next((f"{n:,}" for n in [result.get(key), *(r.get(key) for r in loaded)] if n), "?")
        for key in ("events", "property_rows")
    )
    lines = [
        f"# Benchmark, scale {result['scale']:g} ({events} events, {properties} property rows)",
        "",
        f"Machine: {m['cpus']} CPUs, {m['memory_gib']} GiB, {m['processor']}, Python {m['python']}; "
        f"{result['started_at']}. Medians of up to 3 runs. Reproduce: `make bench SCALE={result['scale']:g}`.",
        "",
        "| step | " + " | ".join(t for t in WAREHOUSES if t in result) + " |",
        "|---|" + "---|" * sum(t in result for t in WAREHOUSES),
    ]
    rows = [
        ("raw load (s)", "load_s"),
        ("full dbt build (s)", "full_build_s"),
        (f"incremental dbt build, {result['mid_date']} (s)", "incremental_build_s"),
        ("export (s)", "export_s"),
        ("peak memory of a step (MB)", "peak_rss_mb"),
        ("daily build: the models' own time (s)", "daily_model_s"),
        ("daily build: fixed cost per invocation (s)", "daily_fixed_s"),
        ("full build per million events (s)", "full_build_s_per_million_events"),
        ("one date built and exported directly, run-linux (s)", "daily_direct_s"),
        ("the same date, `airflow dags test` (s)", "daily_dags_test_s"),
        ("the same date, the native Airflow's scheduler, tasks side by side (s)", "daily_scheduler_s"),
        ("Spark Thrift Server: start-up (s)", "server_start_s"),
        ("Spark Thrift Server: peak memory (MB)", "server_peak_rss_mb"),
    ]
    for label, key in rows:
        if not any(key in result[t] for t in WAREHOUSES if t in result):
            continue
        lines.append(
            f"| {label} | "
            + " | ".join(str(result[t].get(key, "")) for t in WAREHOUSES if t in result)
            + " |"
        )
    for label, key in (
        ("model time, full build (s)", "full_build"),
        ("model time, incremental (s)", "incremental_build"),
    ):
        lines.append(
            f"| {label} | "
            + " | ".join(str(result[t][key]["nodes"]["models_s"]) for t in WAREHOUSES if t in result)
            + " |"
        )
    lines += ["", "| once | value |", "|---|---|"]
    for label, key in (
        ("DAG file parse (s)", "dag_parse_s"),
        ("one date, built and exported directly, DuckDB (s)", "daily_direct_s"),
        ("one date, `airflow dags test`, DuckDB (s)", "daily_dags_test_s"),
        ("one date, the native Airflow's scheduler, DuckDB (s)", "daily_scheduler_s"),
        ("dates of the history", "backfill_history_dates"),
        ("every date rebuilt and reported directly, DuckDB (s)", "backfill_history_direct_s"),
        ("every date rebuilt and reported in one ranged DAG run, DuckDB (s)", "backfill_history_airflow_s"),
        ("pandas reference: read staged events, sessionize, write the table (s)", "pandas_sessionize_s"),
        ("  of which the pandas sessionization itself (s)", "pandas_kernel_s"),
        ("project sessionization: the fact_rr_events model alone, full refresh (s)", "sql_sessionize_s"),
    ):
        if key in result:
            lines.append(f"| {label} | {result[key]} |")
    for target in WAREHOUSES:
        if target not in result:
            continue
        lines += ["", f"Daily build by date, {target} (cost against the size of the day and of the history):", "",
                  "| target date | events that day | events up to it | wall (s) | model time (s) | test time (s) "
                  "| fixed cost (s) |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for day, r in result[target]["incremental_by_date"].items():
            lines.append(
                f"| {day} | {r['events_on_date']} | {r['events_up_to_date']} | {r['wall_s']} | {r['models_s']} "
                f"| {r['tests_s']} | {r.get('fixed_s', '')} |"
            )
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for name, v in result["targets"].items():
        lines.append(f"| {name} | {v['value']} | {'yes' if v['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
