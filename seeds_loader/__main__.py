"""Command line: ``python -m seeds_loader {generate,load,status,spark,pg-roles} ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seeds_loader.settings import Settings, SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m seeds_loader", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a RetailRocket-format data set (the four Kaggle files)")
    g.add_argument("--out", type=Path, default=None, help="output folder (default: RR_DATA_DIR)")
    g.add_argument("--scale", type=float, default=0.05, help="1.0 = the real data set's size (default 0.05)")
    g.add_argument("--seed", type=int, default=42, help="random seed; same seed, same bytes (default 42)")
    g.add_argument(
        "--category-tree",
        type=Path,
        default=None,
        help="real category_tree.csv to reuse (default: ../shared/data/category_tree.csv when present)",
    )
    g.add_argument(
        "--unless-present",
        action="store_true",
        help="do nothing when the four files are already in the output folder (real download or earlier run)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bars")

    ld = sub.add_parser("load", help="load the four raw files into schema raw of the warehouse")
    ld.add_argument(
        "--data-dir", type=Path, default=None, help="folder with the files (default: RR_DATA_DIR)"
    )
    ld.add_argument(
        "--target", choices=["duckdb", "postgres", "spark"], default=None, help="default: RR_TARGET"
    )
    ld.add_argument(
        "--only-changed",
        action="store_true",
        help="reload only the tables whose file(s) changed since the last load (sha256 vs raw.raw_rr_load_log)",
    )
    ld.add_argument("--quiet", action="store_true", help="no progress bars")

    st = sub.add_parser("status", help="the raw event date range in the warehouse")
    st.add_argument(
        "--target", choices=["duckdb", "postgres", "spark"], default=None, help="default: RR_TARGET"
    )
    st.add_argument(
        "--last-complete-day",
        action="store_true",
        help="print only the last complete Asia/Seoul day (YYYY-MM-DD), for scripts",
    )
    sp = sub.add_parser(
        "spark",
        help="the local Spark Thrift Server (make spark-up / spark-down); jars: write the jar a Spark "
        "driver needs into RR_SPARK_DIR/jars (seeds_loader/hive_support.py; the compose stack's init)",
    )
    sp.add_argument("action", choices=["up", "down", "status", "jars"])
    sub.add_parser(
        "pg-roles",
        help="PostgreSQL: create the read-only role RR_PG_READER_ROLE (default rr_reader) for analysts: "
        "reads kpi and qa, writes nothing (seeds_loader/pg_roles.py)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if args.command == "generate":
        from seeds_loader.generate import main as generate_main

        return generate_main(args, settings)
    if args.command == "load":
        from seeds_loader.load_cli import main as load_main

        return load_main(args, settings)
    if args.command == "spark":
        from seeds_loader import spark_server

        try:
            if args.action == "up":
                spark_server.up(settings)
            elif args.action == "down":
                spark_server.down(settings)
            elif args.action == "jars":
                from seeds_loader.hive_support import write_jar

                print(write_jar(settings.spark_jars_dir))
            else:
                print(spark_server.status(settings))
        except spark_server.SparkServerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "status":
        from seeds_loader.status import raw_status
        from seeds_loader.warehouse import WarehouseError

        try:
            status = raw_status(settings.with_target(args.target))
        except WarehouseError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.last_complete_day:
            print(status.last_complete_day.isoformat())
        else:
            print(
                f"{status.events} raw events from {status.first_event_date} to {status.last_event_date} "
                f"(Asia/Seoul); last complete day {status.last_complete_day}"
            )
        return 0
    if args.command == "pg-roles":
        return _pg_roles(settings)
    raise AssertionError(args.command)


def _pg_roles(settings: Settings) -> int:
    """make pg-roles: prints ``reader role: NAME`` (one line, for scripts), then how to connect."""
    from seeds_loader.pg_roles import RoleError, connect_hint, create_reader_role
    from seeds_loader.warehouse import WarehouseError

    try:
        role = create_reader_role(settings)
    except (RoleError, WarehouseError, SettingsError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(f"reader role: {role}")
    print(connect_hint(settings, role))
    return 0


if __name__ == "__main__":
    sys.exit(main())
