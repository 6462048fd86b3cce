"""The Make targets' Python side: ``python -m exports.pipeline {build,report,demo,check,run-dag,backfill}``.

Make passes its variables (``DATE``, ``LOOKBACK``, ``START``, ``END``) only through the
environment, never into a shell line; they are validated here (dates by
:func:`seeds_loader.rules.parse_date`), so no value can run a command or reach dbt unchecked.

``build`` is ``dbt build`` for one date with the window the certification needs
(:func:`exports.certification.plan_window`: from the first uncertified date when the history is
not certified, e.g. after a raw re-delivery changed an older date), or for every date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from exports.certification import RunWindow, certification, certified_dates, plan_window
from exports.report import read_report_tables, render_csv, report_names
from seeds_loader import rules
from seeds_loader.settings import Settings, SettingsError, load_settings
from seeds_loader.warehouse import WarehouseError, connect

DBT = Path(sys.executable).parent / "dbt"
AIRFLOW = Path(sys.executable).parent / "airflow"
DAG_ID = "rr_funnel_daily"


class InputError(ValueError):
    """A Make variable (or argument) that is not what the command needs."""


def env_date(name: str, environ: Mapping[str, str], *, required: bool) -> dt.date | None:
    """The date in environment variable ``name`` (absent or empty: None, unless required)."""
    value = environ.get(name, "")
    if value == "":
        if required:
            raise InputError(f"{name} is required: {name}=YYYY-MM-DD")
        return None
    try:
        return rules.parse_date(value, name)
    except rules.DateError as exc:
        raise InputError(str(exc)) from None


def env_days(name: str, environ: Mapping[str, str], default: int) -> int:
    value = environ.get(name, "")
    if value == "":
        return default
    if not value.isdigit() or len(value) > 4:
        raise InputError(f"{name} must be a whole number of days from 0 to 9999; got {value!r}")
    return int(value)


def dates_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise InputError(f"END ({end}) is before START ({start})")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


# ---------------------------------------------------------------------------------------------
# dbt
# ---------------------------------------------------------------------------------------------
def run_dbt(settings: Settings, args: Sequence[str], dbt_vars: Mapping[str, object] | None = None) -> int:
    """``dbt <args>`` in the project folder with the warehouse settings; its output streams through."""
    command = [str(DBT), *args]
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    env = {**os.environ, **settings.dbt_env(), "DBT_PROFILES_DIR": str(settings.root / "dbt_retailrocket")}
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, cwd=settings.root / "dbt_retailrocket", env=env, check=False).returncode


def window_for(settings: Settings, target_date: dt.date, lookback_days: int) -> RunWindow:
    """The run window the certification needs (no warehouse yet: the asked window)."""
    if settings.target == "duckdb" and not settings.duckdb_path.exists():
        return plan_window(None, target_date, lookback_days)
    with connect(settings, create=False) as wh:
        return plan_window(wh, target_date, lookback_days)


def build(settings: Settings, target_date: dt.date | None, lookback_days: int) -> int:
    """dbt build for one date (window planned for certification) or, without a date, every date."""
    if target_date is None:
        return run_dbt(settings, ["build"])
    window = window_for(settings, target_date, lookback_days)
    if window.note:
        print(f"window widened: {window.note}", flush=True)
    return run_dbt(settings, ["build"], window.dbt_vars())


# ---------------------------------------------------------------------------------------------
# Airflow (local: airflow dags test)
# ---------------------------------------------------------------------------------------------
def ensure_airflow_db(environ: Mapping[str, str]) -> None:
    """``airflow db migrate`` once per AIRFLOW_HOME (marker file ``.migrated``)."""
    home = Path(environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    marker = home / ".migrated"
    if marker.exists():
        return
    home.mkdir(parents=True, exist_ok=True)
    print(f"airflow db migrate (first run in {home})", flush=True)
    subprocess.run([str(AIRFLOW), "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
    marker.touch()


def run_dag(settings: Settings, target_date: dt.date, reports_dir: Path) -> int:
    """One DAG run for ``target_date`` through ``airflow dags test`` (conf ``target_date``)."""
    ensure_airflow_db(os.environ)
    conf = json.dumps({"target_date": target_date.isoformat()})
    command = [str(AIRFLOW), "dags", "test", DAG_ID, "--conf", conf]
    print("$ " + " ".join(command), flush=True)
    code = subprocess.run(command, env={**os.environ, **settings.dbt_env()}, check=False).returncode
    summary = reports_dir / f"rr_pipeline_summary_{target_date.isoformat()}.txt"
    if code == 0 and not summary.exists():
        print(f"error: no report for {target_date}: see the task logs above", file=sys.stderr)
        return 1
    return code


def backfill(settings: Settings, start: dt.date, end: dt.date, reports_dir: Path) -> int:
    """One DAG run per date from ``start`` to ``end``, in order, stopping at the first failure."""
    for d in dates_between(start, end):
        print(f"=== backfill {d}", flush=True)
        code = run_dag(settings, d, reports_dir)
        if code != 0:
            return code
    return 0


# ---------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------
def _runs(dates: Sequence[dt.date]) -> str:
    from seeds_loader.fingerprints import compact_dates

    return compact_dates(dates) if dates else "none"


def check(settings: Settings, reports_dir: Path) -> int:
    """Is the latest report trustworthy? Certification of every date, the latest report's gates.

    Exit 0 when the newest report's date is certified now and its CSVs hold exactly the certified
    rows (rendered again from schema kpi); 1 otherwise (or no report yet).
    """
    summaries = sorted(reports_dir.glob("rr_pipeline_summary_*.txt"), key=lambda p: p.stat().st_mtime)
    print(f"warehouse  {settings.describe()}")
    try:
        with connect(settings, create=False) as wh, wh.snapshot():
            states = certified_dates(wh)
            loads = (
                wh.query(
                    "select load_id, loaded_at, files, changed_dates from raw.raw_rr_loads "
                    "order by load_id desc limit 1"
                )
                if wh.table_exists("raw", "raw_rr_loads")
                else []
            )
            report_dates = [
                rules.parse_date(p.stem.removeprefix("rr_pipeline_summary_"), "report date")
                for p in summaries
            ]
            certs = {d: certification(wh, d) for d in report_dates}
            latest_tables = read_report_tables(wh, report_dates[-1]) if report_dates else {}
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if loads:
        load_id, loaded_at, files, changed = loads[0]
        print(
            f"raw data   load {load_id} at {loaded_at:%Y-%m-%d %H:%M:%S} UTC ({files}); dates it changed: {changed}"
        )
    if states:
        good = [d for d, ok, _ in states if ok]
        bad = [(d, why) for d, ok, why in states if not ok]
        print(
            f"certified  {len(good)} of {len(states)} dates with raw events ({states[0][0]} .. {states[-1][0]}): "
            f"{_runs(good)}"
        )
        if bad:
            print(f"not certified: {_runs([d for d, _ in bad])}; first {bad[0][0]}: {bad[0][1]}")
    else:
        print("certified  nothing yet (no dbt run has checked any date)")
    if not summaries:
        print(f"reports    none in {reports_dir} yet (make demo, or make report DATE=...)")
        return 1
    stale = [d for d in report_dates if not certs[d].certified]
    print(f"reports    {len(summaries)} in {reports_dir}: {_runs(report_dates)}")
    for d in stale:
        print(f"  STALE    the report of {d} shows numbers that are no longer certified: {certs[d].refusal}")
    latest, latest_date = summaries[-1], report_dates[-1]
    cert = certs[latest_date]
    print(f"latest     {latest.name} ({'certified' if cert.certified else 'NOT certified now'})")
    differing = [
        name
        for key, name in report_names(latest_date).items()
        if key in latest_tables
        and (
            not (reports_dir / name).exists()
            or (reports_dir / name).read_bytes() != render_csv(*latest_tables[key])
        )
    ]
    if cert.certified and differing:
        print(f"  DIFFERS  {', '.join(differing)} no longer match the certified data: export the date again")
        return 1
    if cert.certified:
        print(f"  its CSVs match the certified data of {latest_date}")
        print(f"  checked by pipeline run {cert.pipeline_run_id}, window {cert.window_text()}")
        print("  gate              status     tests")
        for gate in cert.gates:
            print(f"  {gate.gate:<18}{gate.status:<11}{gate.describe()}")
        return 0
    print(f"  {cert.refusal}")
    return 1


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def _reports_dir(settings: Settings, environ: Mapping[str, str]) -> Path:
    return Path(environ.get("RR_REPORTS_DIR") or settings.root / "logs" / "reports")


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    if hasattr(signal, "SIGPIPE"):  # `make check | head`: stop quietly when the reader goes away
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = argparse.ArgumentParser(prog="python -m exports.pipeline", description=__doc__)
    parser.add_argument(
        "command",
        choices=["build", "report", "demo", "check", "run-dag", "backfill"],
        help="build: dbt build (DATE, LOOKBACK); report: the reports of DATE; demo: build and report "
        "the last complete day; check: certification and latest reports; run-dag: one DAG run for "
        "DATE (airflow dags test); backfill: one DAG run per date from START to END",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        reports_dir = _reports_dir(settings, environ)
        if args.command == "run-dag":
            target_date = env_date("DATE", environ, required=True)
            assert target_date is not None
            return run_dag(settings, target_date, reports_dir)
        if args.command == "backfill":
            start = env_date("START", environ, required=True)
            end = env_date("END", environ, required=True)
            assert start is not None and end is not None
            return backfill(settings, start, end, reports_dir)
        if args.command == "build":
            target_date = env_date("DATE", environ, required=False)
            return build(settings, target_date, env_days("LOOKBACK", environ, 1))
        if args.command == "report":
            target_date = env_date("DATE", environ, required=True)
            assert target_date is not None
            from exports.__main__ import main as export_main

            return export_main(["--target-date", target_date.isoformat(), "--out", str(reports_dir)])
        if args.command == "demo":
            from seeds_loader.status import raw_status

            day = raw_status(settings).last_complete_day
            print(f"dbt build for the last complete day in the data: {day}", flush=True)
            code = build(settings, day, 1)
            if code != 0:
                return code
            from exports.__main__ import main as export_main

            return export_main(
                ["--target-date", day.isoformat(), "--out", str(reports_dir), "--show-recent", "7"]
            )
        if args.command == "check":
            return check(settings, reports_dir)
    except (InputError, SettingsError, WarehouseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
