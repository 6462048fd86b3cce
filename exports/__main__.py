"""Command line: ``python -m exports --target-date YYYY-MM-DD [--out logs/reports]``.

Exit status 0 with the report paths (the last line names the HTML page); 1 when the date is not certified, with the reason in one
line; 2 on bad arguments, an unreachable warehouse or a folder that cannot be written (one line).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from exports.report import ExportError, GateRefusal, export_reports, format_value
from seeds_loader.rules import DateError, parse_date
from seeds_loader.settings import SettingsError, load_settings
from seeds_loader.warehouse import WarehouseError


def _target_date(text: str) -> dt.date:
    try:
        return parse_date(text, "target_date")
    except DateError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _one_line(exc: BaseException) -> str:
    notes = getattr(exc, "__notes__", [])
    return " ".join(" ".join([str(exc), *notes]).split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exports", description=__doc__)
    parser.add_argument("--target-date", required=True, type=_target_date, help="Asia/Seoul date D")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: logs/reports)")
    parser.add_argument(
        "--target", choices=["duckdb", "postgres", "spark"], default=None, help="default: RR_TARGET"
    )
    parser.add_argument("--airflow-run-id", default=None, help="recorded in the summary")
    parser.add_argument(
        "--show-recent",
        type=int,
        default=0,
        metavar="N",
        help="also print sessions and rates of the N days up to D",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings().with_target(args.target)
        result = export_reports(settings, args.target_date, args.out, airflow_run_id=args.airflow_run_id)
    except GateRefusal as exc:
        print(f"REFUSED: {_one_line(exc)}", file=sys.stderr)
        return 1
    except (SettingsError, WarehouseError, ExportError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = exc.filename or args.out or "logs/reports"
        print(
            f"error: cannot write the reports of {args.target_date.isoformat()} to {where}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2

    print(f"Reports for {result.target_date.isoformat()} ({settings.describe()})")
    print("Funnel:")
    for name, value in result.funnel.items():
        print(f"  {name:<34}{format_value(value)}")
    cert = result.certification
    print(f"Certified (pipeline run {cert.pipeline_run_id}, window {cert.window_text()}):")
    for gate in cert.gates:
        print(f"  {gate.gate:<18}{gate.status:<11}{gate.describe()}")
    if args.show_recent > 0:
        _print_recent_days(settings, args.target_date, args.show_recent)
    print("Files:")
    for f in result.files:
        rows = "" if f.rows is None else f"  ({f.rows} rows)"
        print(f"  {f.path}{rows}")
    print(f"HTML report: {result.html}")
    return 0


def _print_recent_days(settings, target_date: dt.date, days: int) -> None:
    from seeds_loader.warehouse import connect

    with connect(settings, create=False) as wh:
        rows = wh.query(
            "select kpi_date, visitors, sessions, sessions_with_purchase, cvr_session_to_purchase, "
            "cvr_view_to_cart, cvr_cart_to_purchase from kpi.mart_rr_funnel_daily "
            "where kpi_date between %s and %s order by kpi_date",
            (target_date - dt.timedelta(days=days - 1), target_date),
        )
    print(f"Last {days} days (kpi.mart_rr_funnel_daily):")
    print(
        f"  {'date':<12}{'visitors':>9}{'sessions':>9}{'buying':>8}{'cvr':>9}{'view>cart':>10}{'cart>buy':>10}"
    )
    for d, visitors, sessions, buying, cvr, v2c, c2p in rows:
        print(
            f"  {d.isoformat():<12}{visitors:>9}{sessions:>9}{buying:>8}"
            f"{format_value(cvr):>9}{format_value(v2c):>10}{format_value(c2p):>10}"
        )


if __name__ == "__main__":
    sys.exit(main())
