"""The Make targets' Python side: ``python -m exports.pipeline {build,report,open,demo,check,run-dag,backfill}``.

Make passes its variables (``DATE``, ``LOOKBACK``, ``START``, ``END``) only through the
environment, never into a shell line; they are validated here (dates by
:func:`seeds_loader.rules.parse_date`, a run's dates by the rules of
:func:`seeds_loader.rules.parse_run_conf`), so no value can run a command or reach dbt unchecked.

``build`` is ``dbt build`` for one date (``DATE``) or a range (``START`` .. ``END``) with the
window the certification needs (:func:`exports.certification.plan_window`: from the first
uncertified date when the history is not certified, e.g. after a raw re-delivery changed an older
date), or for every date.
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
from exports.manifest import report_names
from exports.report import read_report_tables, render_csv
from seeds_loader import rules
from seeds_loader.raw_files import LoadError
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


def env_dates(environ: Mapping[str, str], *, required: bool = False) -> rules.RunDates | None:
    """The run's dates from ``DATE`` (one date) or ``START`` and ``END`` (a range); None when
    none is given (unless required). The rule: :func:`seeds_loader.rules.run_dates_from_variables`."""
    try:
        dates = rules.run_dates_from_variables(
            environ.get("DATE", ""), environ.get("START", ""), environ.get("END", "")
        )
    except rules.DateError as exc:
        raise InputError(str(exc)) from None
    if dates is None and required:
        raise InputError("a date is required: DATE=YYYY-MM-DD, or START=YYYY-MM-DD END=YYYY-MM-DD")
    return dates


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


def build(settings: Settings, dates: rules.RunDates | None, lookback_days: int) -> int:
    """dbt build for one date or a range, with the window planned for their certification (the
    range start - lookback_days .. end, widened back to the first uncertified date), or, without
    a date, every date."""
    if dates is None:
        return run_dbt(settings, ["build"])
    require_coverage(settings, dates)
    window = window_for(settings, dates.end, (dates.end - dates.start).days + lookback_days)
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


NATIVE = Path(__file__).resolve().parents[1] / "airflow" / "ops" / "native.py"


def native_airflow_started(environ: Mapping[str, str]) -> bool:
    """``make airflow`` left PID files in AIRFLOW_HOME/native: runs go to that Airflow."""
    home = Path(environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    return any((home / "native").glob("*.pid"))


def default_date(settings: Settings) -> dt.date:
    """The date a run started now without a date reports on (seeds_loader/status.py)."""
    from seeds_loader.status import raw_status

    return raw_status(settings).default_report_date(dt.datetime.now(dt.UTC))


def run_dag(settings: Settings, dates: rules.RunDates | None, reports_dir: Path) -> int:
    """One DAG run for one date or a range: in the native Airflow when `make airflow` runs it (a
    manual backfill named ``manual_backfill_<D>`` or ``manual_backfill_<S>_to_<E>``), else
    through ``airflow dags test`` on this machine."""
    if native_airflow_started(os.environ):
        command = [sys.executable, str(NATIVE), "trigger"]
        if dates is not None and dates.is_range:
            command += ["--start", dates.start.isoformat(), "--end", dates.end.isoformat()]
        elif dates is not None:
            command += ["--date", dates.end.isoformat()]
        print("$ " + " ".join(command), flush=True)
        return subprocess.run(command, check=False).returncode
    if dates is None:
        d = default_date(settings)
        dates = rules.RunDates(d, d)
        print(f"no DATE: the last complete day the raw data cover, {d}", flush=True)
    ensure_airflow_db(os.environ)
    command = [str(AIRFLOW), "dags", "test", DAG_ID, "--conf", json.dumps(dates.conf())]
    print("$ " + " ".join(command), flush=True)
    code = subprocess.run(command, env={**os.environ, **settings.dbt_env()}, check=False).returncode
    missing = [d for d in dates.dates() if not (reports_dir / report_names(d)["summary"]).exists()]
    if code == 0 and missing:
        print(f"error: no report for {_runs(missing)}: see the task logs above", file=sys.stderr)
        return 1
    if code != 0 and dates.is_range:
        print_certification(settings, dates)
    return code


def print_certification(settings: Settings, dates: rules.RunDates) -> None:
    """After a failed ranged run: which of its dates are certified, and why the others are not."""
    with connect(settings, create=False) as wh:
        states = {d: (c, r) for d, c, r in certified_dates(wh)}
    refused = [
        (d, states.get(d, (False, "never checked"))[1])
        for d in dates.dates()
        if not states.get(d, (False,))[0]
    ]
    print(f"{len(dates.dates()) - len(refused)} of {len(dates.dates())} dates are certified", file=sys.stderr)
    for d, reason in refused:
        print(f"  {d}: not certified: {reason}", file=sys.stderr)


def require_coverage(settings: Settings, dates: rules.RunDates) -> None:
    """The raw data must cover every date (RawStatus.coverage); a partial day is a warning."""
    from seeds_loader.status import raw_status

    status = raw_status(settings)
    for d in dates.dates():
        coverage = status.coverage(d)
        if not coverage.usable:
            raise InputError(coverage.message)
        if coverage.state != "complete":
            print(f"warning: {coverage.message}", flush=True)


def run_linux(settings: Settings, dates: rules.RunDates | None, reports_dir: Path) -> int:
    """The whole pipeline for one date or a range on this machine, no Airflow: the raw load of
    what changed, the coverage rule, dbt build of the window the certification needs, the
    reports of every date (as the DAG's tasks do, in the same order)."""
    from seeds_loader.load import load

    report = load(settings, only_changed=True, progress=False)
    for name, f in report.files.items():
        print(f"{name}: {'unchanged' if f.skipped else f'loaded {f.rows} rows'}", flush=True)
    if dates is None:
        d = default_date(settings)
        dates = rules.RunDates(d, d)
        print(f"no DATE: the last complete day the raw data cover, {d}", flush=True)
    require_coverage(settings, dates)
    code = build(settings, dates, 1)
    if code != 0:
        if dates.is_range:
            print_certification(settings, dates)
        return code
    return export_range(settings, dates, reports_dir)


def export_range(settings: Settings, dates: rules.RunDates, reports_dir: Path) -> int:
    """The reports of every date (``export_dates``: each certified date's are written, the others
    refused and named); 1 when any date was refused."""
    from exports.__main__ import main as export_main

    if not dates.is_range:
        return export_main(["--target-date", dates.end.isoformat(), "--out", str(reports_dir)])
    from exports.report import export_dates

    written, refused = export_dates(settings, dates.dates(), reports_dir)
    print(f"wrote the reports of {len(written)} of {len(dates.dates())} dates into {reports_dir}", flush=True)
    for exc in refused:
        print(f"error: {exc}", file=sys.stderr)
    return 1 if refused else 0


def _spark_shell(settings: Settings) -> int:
    """Spark: beeline (shipped with pyspark) on the Thrift Server; a session has no server to
    reach, so it says how to get one."""
    if settings.spark_method != "thrift":
        raise InputError(
            "RR_SPARK_METHOD=session has no server to open a shell on: make spark-up, then "
            "RR_SPARK_METHOD=thrift make psql"
        )
    from seeds_loader.spark_server import spark_submit

    beeline = spark_submit().parent / "beeline"
    url = f"jdbc:hive2://{settings.spark_host}:{settings.spark_port}/default"
    args = [str(beeline), "-u", url]
    if settings.spark_user:
        args += ["-n", settings.spark_user]
    env = {**os.environ, "SPARK_CONF_DIR": str(settings.write_spark_conf())}
    os.execve(str(beeline), args, env)
    return 0  # pragma: no cover - execve does not return


def sql_shell(settings: Settings) -> int:
    """A SQL shell on the warehouse: psql for PostgreSQL; for DuckDB its CLI when installed (read
    only, so a shell left open does not hold the writer's lock), else a Python console."""
    import shutil

    if settings.target == "postgres":
        psql = shutil.which("psql")
        if psql is None:
            raise InputError("psql is not installed (Debian: apt-get install postgresql-client)")
        env = {
            **os.environ,
            "PGHOST": settings.pg_host,
            "PGPORT": str(settings.pg_port),
            "PGUSER": settings.pg_user,
            "PGDATABASE": settings.pg_database,
        }
        if settings.pg_password:
            env["PGPASSWORD"] = settings.pg_password
        os.execve(psql, [psql], env)
    if settings.target == "spark":
        return _spark_shell(settings)
    path = settings.duckdb_path
    if not path.exists():
        raise InputError(f"{path} does not exist yet: make demo (or make load)")
    cli = shutil.which("duckdb")
    if cli is not None:
        os.execv(cli, [cli, "-readonly", str(path)])
    import code

    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    banner = (
        f"DuckDB {duckdb.__version__} on {path} (read only; the duckdb CLI is not installed)\n"
        '  con.sql("select * from kpi.mart_rr_funnel_daily order by kpi_date desc limit 5").show()\n'
        "  schemas: raw, staging, mart, kpi_build, kpi (certified dates only), qa; Ctrl-D to leave"
    )
    code.interact(banner=banner, local={"con": con, "duckdb": duckdb}, exitmsg="")
    con.close()
    return 0


def backfill(settings: Settings, dates: rules.RunDates, reports_dir: Path) -> int:
    """One ranged DAG run for ``dates`` (the window built and checked once, every certified date's
    reports written): the same result, date for date, as one run per date, at the cost of one."""
    print(f"=== backfill {dates.describe()} in one run", flush=True)
    return run_dag(settings, dates, reports_dir)


# ---------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------
def _runs(dates: Sequence[dt.date]) -> str:
    from seeds_loader.fingerprints import compact_dates

    return compact_dates(dates) if dates else "none"


def check(settings: Settings, reports_dir: Path) -> int:
    """Is what the reports folder holds trustworthy? Every report set in it is checked:

    - its files against its manifest (any file edited, removed or added after the export is
      named; :mod:`exports.manifest`);
    - its date's certification now (a date no longer certified: STALE);
    - a certified date's CSVs against the certified rows rendered again from schema kpi, and
      those rows against the fingerprints recorded when they were built and checked;
    - the definitions its summary names against those of the date's certificate.

    Exit 0 when every set is intact and the newest report's date is certified now with exactly
    its reported rows; 1 otherwise (or no report yet). An older report of a date that is no
    longer certified is shown as STALE without failing the check."""
    from exports.manifest import ManifestError, report_dates, temp_files, verify_folder
    from exports.rows import RowsRead

    print(f"warehouse  {settings.describe()}")
    try:
        dates = report_dates(reports_dir) if reports_dir.is_dir() else []
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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
            certs = {d: certification(wh, d) for d in dates}
            rows_read = RowsRead()
            tables = {d: read_report_tables(wh, d, rows_read) for d in dates if certs[d].certified}
            changed_rows = rows_read.changed(wh)
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
    leftovers = temp_files(reports_dir)
    if leftovers:
        print(
            f"temporary  {len(leftovers)} file(s) of unfinished exports, not part of any report "
            "(the next export on this machine removes those whose process ended): "
            + "; ".join(t.describe() for t in leftovers)
        )
    if not dates:
        print(f"reports    none in {reports_dir} yet (make demo, or make report DATE=...)")
        return 1
    print(f"reports    {len(dates)} in {reports_dir}: {_runs(dates)}")
    problems = [line for result in verify_folder(reports_dir) for line in result.problems()]
    problems += changed_rows
    for d, rendered in tables.items():
        names = report_names(d)
        for key, (columns, rows) in rendered.items():
            path = reports_dir / names[key]
            if path.exists() and path.read_bytes() != render_csv(columns, rows):
                problems.append(
                    f"{path.name} differs from the certified rows of {d} now: export the date again"
                )
        summary = reports_dir / names["summary"]
        named = (
            _summary_value(summary, "definitions_sha256") if summary.exists() else certs[d].definitions_sha256
        )
        if named != certs[d].definitions_sha256:
            problems.append(
                f"{summary.name} names definitions {named or 'none'}; {d} is certified under "
                f"v{certs[d].definitions_version} ({certs[d].definitions_sha256}): export the date again"
            )
    for line in problems:
        print(f"  DIFFERS  {line}")
    for d in dates:
        if not certs[d].certified:
            print(
                f"  STALE    the report of {d} shows numbers that are no longer certified: {certs[d].refusal}"
            )
    latest = dates[-1]
    cert = certs[latest]
    print(
        f"latest     {report_names(latest)['summary']} ({'certified' if cert.certified else 'NOT certified now'})"
    )
    if not cert.certified:
        print(f"  {cert.refusal}")
        return 1
    if not problems:
        print("  every report file matches its manifest, and the CSVs the certified rows of their date")
    print(
        f"  checked by pipeline run {rules.one_line(str(cert.pipeline_run_id))}, window "
        f"{rules.one_line(cert.window_text())}, definitions v{cert.definitions_version}"
    )
    print("  gate              status     tests")
    for gate in cert.gates:
        print(f"  {gate.gate:<18}{gate.status:<11}{gate.describe()}")
    return 1 if problems else 0


def _summary_value(path: Path, key: str) -> str | None:
    """The value of a ``key=value`` line of a summary (None when it has none)."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    return None


def open_report(target_date: dt.date, reports_dir: Path, environ: Mapping[str, str]) -> int:
    """Open the HTML report of ``target_date`` in a browser when this machine has one (a desktop
    session, or $BROWSER); else print its path. Exit 1 when the page does not exist."""
    import shutil
    import webbrowser

    page = reports_dir / report_names(target_date)["html"]
    if not page.exists():
        print(
            f"error: no HTML report of {target_date.isoformat()} in {reports_dir}: "
            f"make report DATE={target_date.isoformat()} writes it (when the date is certified)",
            file=sys.stderr,
        )
        return 1
    print(f"HTML report: {page}")
    has_display = any(environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")) or sys.platform in (
        "darwin",
        "win32",
    )
    if has_display:
        for opener in ("xdg-open", "sensible-browser"):
            if shutil.which(opener) and not environ.get("BROWSER"):
                subprocess.Popen(
                    [opener, page.as_uri()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                return 0
        if webbrowser.open(page.as_uri()):
            return 0
    print("no browser to open it here (no display): open the file above on a machine with one")
    return 0


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
        choices=[
            "build",
            "report",
            "open",
            "demo",
            "check",
            "run-dag",
            "run-linux",
            "sql",
            "backfill",
            "spark-migrate-history",
        ],
        help="build: dbt build (DATE or START/END, LOOKBACK); report: the reports of DATE (or START "
        "to END); open: open the HTML report of DATE in a browser (else print its path); demo: build "
        "and report the last complete day; check: certification and latest reports; run-dag: one DAG "
        "run for DATE or START/END (the native Airflow when it runs, else airflow dags test); "
        "run-linux: load, build and report DATE (or START to END) without Airflow; sql: a SQL shell "
        "on the warehouse; backfill: one ranged DAG run from START to END; spark-migrate-history: "
        "partition a Spark run history written by an earlier version (once, nothing else running)",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        reports_dir = _reports_dir(settings, environ)
        if args.command == "run-dag":
            return run_dag(settings, env_dates(environ), reports_dir)
        if args.command == "run-linux":
            return run_linux(settings, env_dates(environ), reports_dir)
        if args.command == "sql":
            return sql_shell(settings)
        if args.command == "backfill":
            if environ.get("DATE"):
                raise InputError("backfill takes START and END (use make run-dag DATE=... for one date)")
            env_date("START", environ, required=True)
            env_date("END", environ, required=True)
            dates = env_dates(environ, required=True)
            assert dates is not None
            return backfill(settings, dates, reports_dir)
        if args.command == "spark-migrate-history":
            return run_dbt(settings, ["run-operation", "rr_partition_spark_history"])
        if args.command == "build":
            return build(settings, env_dates(environ), env_days("LOOKBACK", environ, 1))
        if args.command == "report":
            dates = env_dates(environ, required=True)
            assert dates is not None
            return export_range(settings, dates, reports_dir)
        if args.command == "open":
            target_date = env_date("DATE", environ, required=True)
            assert target_date is not None
            return open_report(target_date, reports_dir, environ)
        if args.command == "demo":
            from seeds_loader.status import raw_status

            day = raw_status(settings).last_complete_day
            print(f"dbt build for the last complete day in the data: {day}", flush=True)
            code = build(settings, rules.RunDates(day, day), 1)
            if code != 0:
                return code
            from exports.__main__ import main as export_main

            return export_main(
                ["--target-date", day.isoformat(), "--out", str(reports_dir), "--show-recent", "7"]
            )
        if args.command == "check":
            code = check(settings, reports_dir)
            if native_airflow_started(environ):  # `make airflow` runs here: its health too
                code = max(
                    code, subprocess.run([sys.executable, str(NATIVE), "status"], check=False).returncode
                )
            return code
    except (InputError, SettingsError, WarehouseError, LoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
