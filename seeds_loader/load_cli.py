"""``python -m seeds_loader load``: run a load and print what it did, or one error line."""

from __future__ import annotations

import sys
from typing import Any

from seeds_loader.load import LoadReport, load
from seeds_loader.raw_files import SCHEMA, LoadError
from seeds_loader.settings import Settings
from seeds_loader.spark import SparkError
from seeds_loader.warehouse import WarehouseError


def print_report(report: LoadReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: never truncate a cell
        console = Console(highlight=False, width=200)
    table = Table(title=f"raw load into {report.warehouse}", title_justify="left")
    for header in ("file", "table", "rows", "bytes", "sha256", "seconds", "status"):
        justify = "right" if header in ("rows", "bytes", "seconds") else "left"
        table.add_column(header, justify=justify, no_wrap=True)
    for f in report.files.values():
        table.add_row(
            f.file_name,
            f"{SCHEMA}.{f.table_name}",
            f"{f.rows:,}",
            f"{f.bytes:,}",
            f.sha256[:12],
            f"{f.seconds:.2f}",
            "; ".join(["unchanged, skipped" if f.skipped else "loaded", *f.notes]),
        )
    console.print(table)
    rows = report.table_rows()
    if not rows:
        console.print(f"nothing changed: no table reloaded ({report.seconds:.2f} s)", markup=False)
        return
    parts = ", ".join(f"{SCHEMA}.{t} {n:,} rows" for t, n in rows.items())
    console.print(f"load {report.load_id}: {parts} in {report.seconds:.2f} s", markup=False)
    changes = report.changes
    if changes is None or changes.first_changed_date is None:
        console.print("Asia/Seoul dates changed: none (the same rows as the previous load)", markup=False)
        return
    console.print(f"Asia/Seoul dates changed: {changes.describe()}", markup=False)
    console.print(
        f"every date from {changes.first_changed_date} on reads these rows: those dates are not "
        "certified until a run rebuilds and re-checks them (the next daily run does)",
        markup=False,
    )
    for f in report.loaded:
        for note in f.notes:
            if "cut" in note:
                console.print(f"warning: {f.file_name}: {note}", markup=False)


def main(args: Any, settings: Settings) -> int:
    """Load, print what was loaded; 1 with one error line on failure."""
    settings = settings.with_target(args.target)
    data_dir = args.data_dir if args.data_dir is not None else settings.data_dir
    try:
        report = load(settings, data_dir, only_changed=args.only_changed, progress=not args.quiet)
    except (LoadError, WarehouseError, SparkError) as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)  # always one line
        return 1
    print_report(report)
    return 0
