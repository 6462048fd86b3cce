"""Load the four raw RetailRocket CSV files into schema ``raw`` of DuckDB or PostgreSQL.

``python -m seeds_loader load`` reads ``events.csv``, ``category_tree.csv`` and
``item_properties_part{1,2}.csv`` from ``RR_DATA_DIR`` and replaces the contents of

=============================  ==================================================================
table                          columns (source names kept)
=============================  ==================================================================
raw.raw_rr_events              "timestamp" bigint not null, visitorid bigint not null,
                               event text not null, itemid bigint not null, transactionid bigint
raw.raw_rr_category_tree       categoryid bigint not null, parentid bigint
raw.raw_rr_item_properties     "timestamp" bigint not null, itemid bigint not null,
                               property text not null, value text   (from both parts)
raw.raw_rr_load_log            one row per file loaded: file_name, table_name, sha256, bytes,
                               rows, loaded_at (UTC), seconds, load_id, notes; never truncated
raw.raw_rr_loads               one row per load: load_id, loaded_at, files, the Asia/Seoul dates
                               it changed (first_changed_date, changed_dates, changed_date_count),
                               notes
raw.raw_rr_date_fingerprints   rows and checksum per table and Asia/Seoul date, per load
=============================  ==================================================================

Modules, by job: :mod:`~seeds_loader.raw_files` (the files, the tables, one open handle per
file), :mod:`~seeds_loader.format_check` (what a valid file is, and the error wording),
:mod:`~seeds_loader.load_duckdb` / :mod:`~seeds_loader.load_postgres` (the warehouse loads),
:mod:`~seeds_loader.fingerprints` (which dates a load changed), :mod:`~seeds_loader.progress`
and :mod:`~seeds_loader.load_cli` (what the user sees). This one runs a load:

1. open the four files once each (a directory, a device, a symlink loop or a missing file is
   named as such) and check them through those handles (format, sha256);
2. in ONE transaction, holding the raw data exclusively (PostgreSQL advisory lock; DuckDB's file
   lock): replace the tables whose files changed (or all), measure their per-date fingerprints,
   and append the load and its log rows. Any failure (a bad row, an interrupted copy, a file
   rewritten in place meanwhile) leaves every table exactly as it was.

The loaded bytes are the checked bytes: DuckDB reads the same open files (``/dev/fd/<n>``),
PostgreSQL's COPY is fed from them and hashed again on the way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from seeds_loader import fingerprints
from seeds_loader.fingerprints import DateChanges
from seeds_loader.format_check import FileCheck, check_file
from seeds_loader.load_duckdb import load_duckdb
from seeds_loader.load_postgres import load_postgres
from seeds_loader.load_spark import drop_new, load_spark, new_name, swap_in
from seeds_loader.progress import Progress
from seeds_loader.raw_files import (
    FILE_NAMES,
    FILES,
    LOG_TABLE,
    SCHEMA,
    TABLES,
    LoadError,
    RawFile,
    RawTable,
    open_raw_files,
    qualified,
)
from seeds_loader.settings import Settings
from seeds_loader.warehouse import Warehouse, WarehouseError, connect

LOG_DDL = (
    "file_name text not null, table_name text not null, sha256 text not null, bytes bigint not null, "
    "rows bigint not null, loaded_at timestamp not null, seconds double precision not null, "
    "load_id bigint, notes text"
)
# columns added to raw_rr_load_log after its first release (a warehouse loaded before gets them)
_LOG_ADDED_COLUMNS = (("load_id", "bigint"), ("notes", "text"))


@dataclass
class FileLoad:
    """One file of a load: loaded, or skipped because its sha256 equals the last load's.

    ``seconds``: the file's own check plus its load; steps shared by the two properties files
    (DuckDB's single ordered insert, PostgreSQL's index build and ANALYZE) are split by size.
    The same figure goes to ``raw.raw_rr_load_log.seconds``.
    """

    file_name: str
    table_name: str
    sha256: str
    bytes: int
    rows: int
    seconds: float
    skipped: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    """The outcome of :func:`load`: one :class:`FileLoad` per file name, total wall-clock seconds,
    and (when anything was reloaded) the load id and the Asia/Seoul dates it changed."""

    target: str
    warehouse: str
    data_dir: Path
    files: dict[str, FileLoad]
    seconds: float
    load_id: int | None = None
    changes: DateChanges | None = None

    @property
    def loaded(self) -> list[FileLoad]:
        return [f for f in self.files.values() if not f.skipped]

    @property
    def skipped(self) -> list[FileLoad]:
        return [f for f in self.files.values() if f.skipped]

    def table_rows(self) -> dict[str, int]:
        """Rows per reloaded table."""
        rows: dict[str, int] = {}
        for f in self.loaded:
            rows[f.table_name] = rows.get(f.table_name, 0) + f.rows
        return rows


@dataclass(frozen=True)
class LoadLogRow:
    """One row of ``raw.raw_rr_load_log``."""

    file_name: str
    table_name: str
    sha256: str
    bytes: int
    rows: int
    loaded_at: datetime
    seconds: float


# ---------------------------------------------------------------------------------------------
# warehouse side
# ---------------------------------------------------------------------------------------------
def _ensure_tables(wh: Warehouse) -> None:
    """Schema and tables (inside the load's transaction: a failed first load leaves nothing)."""
    wh.execute(f"create schema if not exists {SCHEMA}")
    for table in TABLES.values():
        wh.create_table_if_missing(qualified(table.name), table.ddl_columns)
        found = wh.columns(SCHEMA, table.name)
        if found != list(table.columns):
            raise WarehouseError(
                f"{qualified(table.name)} has columns {found}, expected {list(table.columns)}; "
                f"drop it (drop table {qualified(table.name)}) and load again"
            )
    wh.create_table_if_missing(qualified(LOG_TABLE), LOG_DDL)
    present = set(wh.columns(SCHEMA, LOG_TABLE))
    for column, kind in _LOG_ADDED_COLUMNS:
        if column not in present:
            wh.execute(f"alter table {qualified(LOG_TABLE)} add column {column} {kind}")
    fingerprints.ensure_tables(wh)


def _latest_log_rows(wh: Warehouse) -> dict[str, LoadLogRow]:
    if not wh.table_exists(SCHEMA, LOG_TABLE):
        return {}
    committed = (  # rows of a load that stopped before it was recorded do not count
        f" where load_id is null or {fingerprints.COMMITTED}"
        if wh.table_exists(SCHEMA, fingerprints.LOADS_TABLE)
        else ""
    )
    rows = wh.query(
        "select file_name, table_name, sha256, bytes, rows, loaded_at, seconds from ("
        "  select *, row_number() over (partition by file_name order by loaded_at desc) as rank_desc"
        f"  from {qualified(LOG_TABLE)}{committed}"
        ") as ranked where rank_desc = 1 order by file_name"
    )
    return {r[0]: LoadLogRow(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5], float(r[6])) for r in rows}


def last_loads(settings: Settings) -> dict[str, LoadLogRow]:
    """The latest ``raw.raw_rr_load_log`` row per file name ({} before the first load)."""
    if settings.target == "duckdb" and not settings.duckdb_path.exists():
        return {}
    with connect(settings) as wh:
        return _latest_log_rows(wh)


def _tables_to_reload(
    wh: Warehouse, checks: dict[str, FileCheck], only_changed: bool, missing: set[str]
) -> list[str]:
    """All tables, or with ``only_changed`` those whose files differ from their latest log row,
    that were ``missing`` before this load, or whose per-date fingerprints were never measured (a
    warehouse loaded by an older version)."""
    if not only_changed:
        return list(TABLES)
    previous = _latest_log_rows(wh)
    return [
        table.name
        for table in TABLES.values()
        if table.name in missing
        or not fingerprints.has_fingerprints(wh, table.name)
        or any(n not in previous or previous[n].sha256 != checks[n].sha256 for n in table.files)
    ]


WarehouseLoader = Callable[[Warehouse, RawTable, dict[str, FileCheck], Progress, bool], dict[str, float]]
LOADERS: dict[str, WarehouseLoader] = {"duckdb": load_duckdb, "postgres": load_postgres, "spark": load_spark}


def _replace_tables(
    wh: Warehouse,
    checks: dict[str, FileCheck],
    only_changed: bool,
    bars: Progress,
    show: bool,
) -> tuple[list[str], dict[str, float], int | None, DateChanges | None]:
    """Reload the tables that need it, record the load, all in one transaction holding the raw
    data exclusively; returns (tables, seconds per file, load id, dates changed)."""
    duckdb = wh.target == "duckdb"
    if duckdb:
        wh.execute("set preserve_insertion_order = true")
        wh.execute(f"set enable_progress_bar = {'true' if show else 'false'}")
        wh.execute("set enable_progress_bar_print = false")
    seconds: dict[str, float] = {}
    with wh.transaction():
        wh.lock_raw_data()
        missing = {name for name in TABLES if not wh.table_exists(SCHEMA, name)}
        unfinished = qualified(fingerprints.UNFINISHED_TABLE)
        interrupted = wh.table_exists(SCHEMA, fingerprints.UNFINISHED_TABLE)
        _ensure_tables(wh)
        # after a load that stopped before it finished (on Spark: recorded, not yet swapped in),
        # the log rows need not say what the raw tables hold: reload them all
        tables = _tables_to_reload(wh, checks, only_changed and not interrupted, missing)
        if not tables:
            return [], {}, None, None
        try:
            for name in tables:
                seconds.update(LOADERS[wh.target](wh, TABLES[name], checks, bars, show))
        except BaseException:
            if wh.target == "spark":  # no transaction to roll back: drop what was written
                drop_new(wh, tables)
            raise
        # Every table written. The load is recorded first (fingerprints, log rows, then its
        # raw_rr_loads row: from that row on, the dates it changed lose their certification), and
        # only then, on Spark, are the new tables swapped in; the marker stands from before the
        # record until the swap is done (module doc of seeds_loader.fingerprints, UNFINISHED_TABLE).
        spark = wh.target == "spark"
        wh.create_table_if_missing(unfinished, "load_id bigint")
        load_id = fingerprints.next_load_id(wh)
        changes = fingerprints.record(wh, load_id, tables, new_name if spark else str)
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        files = [f for name in tables for f in TABLES[name].files]
        notes = "; ".join(
            [f"{f}: {n}" for f in files for n in checks[f].notes]
            + (["an earlier load stopped before it finished: every table reloaded"] if interrupted else [])
        )
        for name in tables:
            for file_name in TABLES[name].files:
                check = checks[file_name]
                wh.execute(
                    f"insert into {qualified(LOG_TABLE)} "
                    "(file_name, table_name, sha256, bytes, rows, loaded_at, seconds, load_id, notes) "
                    "values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        file_name,
                        name,
                        check.sha256,
                        check.bytes,
                        check.rows,
                        loaded_at,
                        check.seconds + seconds[file_name],
                        load_id,
                        "; ".join(check.notes),
                    ),
                )
        wh.execute(
            f"insert into {qualified(fingerprints.LOADS_TABLE)} (load_id, loaded_at, files, first_changed_date, "
            "changed_dates, changed_date_count, notes) values (%s, %s, %s, %s, %s, %s, %s)",
            (
                load_id,
                loaded_at,
                ", ".join(files),
                changes.first_changed_date,
                changes.describe(),
                changes.count,
                notes,
            ),
        )
        if spark:
            swap_in(wh, tables)
        wh.execute(f"drop table {unfinished}")
    return tables, seconds, load_id, changes


# ---------------------------------------------------------------------------------------------
# the load
# ---------------------------------------------------------------------------------------------
def load(
    settings: Settings, data_dir: Path | None = None, *, only_changed: bool = False, progress: bool = True
) -> LoadReport:
    """Check the four files, then replace the raw tables in one transaction (see the module doc).

    ``only_changed``: reload only the tables whose file(s) differ (sha256) from the latest
    ``raw.raw_rr_load_log`` row of that file name; with nothing changed nothing is written.
    ``progress``: byte progress bars on stderr.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir) if data_dir is not None else settings.data_dir
    with open_raw_files(data_dir) as sources, Progress(progress) as bars, connect(settings) as wh:
        pg16_guard = wh.target == "postgres" and wh.conn.info.server_version >= 160000
        checks: dict[str, FileCheck] = {}
        for name, source in sources.items():
            update = bars.task(f"check {name}", source.size)
            checks[name] = check_file(FILES[name], source, update, pg16_guard=pg16_guard)
        reload, seconds, load_id, changes = _replace_tables(wh, checks, only_changed, bars, progress)

    files = {
        name: FileLoad(
            file_name=name,
            table_name=FILES[name].table,
            sha256=check.sha256,
            bytes=check.bytes,
            rows=check.rows,
            seconds=check.seconds + seconds.get(name, 0.0),
            skipped=FILES[name].table not in reload,
            notes=check.notes,
        )
        for name, check in checks.items()
    }
    return LoadReport(
        target=settings.target,
        warehouse=settings.describe(),
        data_dir=data_dir,
        files=files,
        seconds=time.perf_counter() - started,
        load_id=load_id,
        changes=changes,
    )


__all__ = [
    "FILES",
    "FILE_NAMES",
    "TABLES",
    "FileCheck",
    "FileLoad",
    "LoadError",
    "LoadLogRow",
    "LoadReport",
    "RawFile",
    "RawTable",
    "check_file",
    "last_loads",
    "load",
]
