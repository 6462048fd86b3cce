"""Which Asia/Seoul dates a raw load changed: per-date fingerprints of the raw tables.

Every load that replaces a dated raw table (events, item properties) records, per Asia/Seoul
date of ``"timestamp"``, the row count and an order-independent checksum of its rows
(``raw.raw_rr_date_fingerprints``); the category tree gets one checksum for the whole table.
Comparing them with the previous load's gives the dates the new delivery changed. The load is
recorded in ``raw.raw_rr_loads`` with the first changed date: since a date's reports read the raw
data up to the end of that date (cohorts, CRM histories, categories as known then), every date
from the first changed one on depends on the change, and the certification of those dates
(``qa.rr_date_certification``) lapses until a run rebuilds and re-checks them.

The checksum is the sum of a 64-bit hash of every row: duplicates count (unlike XOR), the order
of rows does not. It is only ever compared within one warehouse (DuckDB's ``hash`` and
PostgreSQL's ``hashtextextended`` differ); a warehouse upgrade that changed the hash function
would mark every date as changed once, which costs one full rebuild and is never wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from seeds_loader import rules
from seeds_loader.raw_files import SCHEMA, TABLES, qualified
from seeds_loader.warehouse import Warehouse

LOADS_TABLE = "raw_rr_loads"
FINGERPRINTS_TABLE = "raw_rr_date_fingerprints"
# Present while a load records itself and replaces the raw tables: created before its first
# bookkeeping row, dropped once its tables are in place. Inside a transaction (DuckDB,
# PostgreSQL) nobody ever sees it. On Spark (no transactions) a load records itself first (its
# raw_rr_loads row withdraws the certification of the dates it changed) and then swaps its new
# tables in; one killed in between leaves it behind: dbt then refuses to start
# (rr_raw_load_unfinished in macros/qa/utils/rr_raw_bookkeeping.sql) and the next load reloads
# every table.
UNFINISHED_TABLE = "raw_rr_load_unfinished"
# a load counts once its raw_rr_loads row exists: rows another table holds for a load id with no
# such row are the leftovers of a load that stopped before it was recorded, and are ignored
COMMITTED = f"load_id in (select load_id from {SCHEMA}.{LOADS_TABLE})"
LOADS_DDL = (
    "load_id bigint not null, loaded_at timestamp not null, files text not null, "
    "first_changed_date date, changed_dates text not null, changed_date_count integer not null, "
    "notes text not null"
)
FINGERPRINTS_DDL = (
    "load_id bigint not null, source text not null, fp_date date, row_count bigint not null, "
    "fingerprint text not null"
)
# the fingerprint source of each raw table (also the names the certification view reads)
SOURCES = {
    "raw_rr_events": "events",
    "raw_rr_item_properties": "item_properties",
    "raw_rr_category_tree": "category_tree",
}
LABELS = {  # how the load's message names them
    "raw_rr_events": "events.csv",
    "raw_rr_item_properties": "item_properties_part*.csv",
    "raw_rr_category_tree": "category_tree.csv",
}


@dataclass(frozen=True)
class DateChanges:
    """What a load changed: dates per source, and whether an undated table (the tree) changed."""

    dates: dict[str, set[dt.date]]
    undated: list[str]  # why every date changed: "category_tree.csv changed", ...
    all_dates: tuple[dt.date, ...]  # every date with raw data after the load (for "all dates")

    @property
    def changed(self) -> set[dt.date]:
        return set().union(*self.dates.values()) if self.dates else set()

    @property
    def first_changed_date(self) -> dt.date | None:
        if self.undated:
            return min((*self.all_dates, *self.changed), default=None)
        return min(self.changed, default=None)

    @property
    def count(self) -> int:
        if self.undated:
            return len(set(self.all_dates) | self.changed)
        return len(self.changed)

    def describe(self) -> str:
        """One line: ``none``, ``all dates (category_tree.csv changed)`` or a compact date list."""
        if self.undated:
            return f"all dates ({', '.join(self.undated)})"
        if not self.changed:
            return "none"
        parts = []
        for source, days in self.dates.items():
            if days:
                parts.append(f"{compact_dates(days)} ({source})")
        return "; ".join(parts)


def compact_dates(days: Iterable[dt.date]) -> str:
    """``2015-07-03, 2015-07-05..2015-07-09``: runs of consecutive dates as ranges."""
    ordered = sorted(set(days))
    runs: list[list[dt.date]] = []
    for d in ordered:
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(r[0].isoformat() if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs)


def ensure_tables(wh: Warehouse) -> None:
    wh.create_table_if_missing(qualified(LOADS_TABLE), LOADS_DDL)
    wh.create_table_if_missing(qualified(FINGERPRINTS_TABLE), FINGERPRINTS_DDL)


def _row_hash(wh: Warehouse, columns: tuple[str, ...]) -> str:
    quoted = ", ".join(wh.quote(c) for c in columns)
    if wh.target == "duckdb":
        return f"hash({quoted})"
    if wh.target == "spark":  # summed as decimal: a bigint sum would wrap around
        return f"cast(xxhash64({quoted}) as decimal(38, 0))"
    return f"hashtextextended(row({quoted})::text, 0)"


def measure(
    wh: Warehouse, table_name: str, relation: str | None = None
) -> dict[dt.date | None, tuple[int, str]]:
    """{date: (rows, checksum)} of a raw table as it is now (one entry, key None, if undated), read
    from ``raw.<relation>`` (default: the table itself)."""
    table = TABLES[table_name]
    source = qualified(relation or table_name)
    row_hash = _row_hash(wh, table.columns)
    text = {"duckdb": "varchar", "spark": "string"}.get(wh.target, "text")
    if not table.dated:
        rows = wh.query(f"select count(*), cast(coalesce(sum({row_hash}), 0) as {text}) from {source}")
        return {None: (int(rows[0][0]), str(rows[0][1]))}
    day = (
        f"cast(floor(({wh.quote('timestamp')} + {rules.kst_offset_ms()}) / {float(rules.DAY_MS)}) as bigint)"
    )
    rows = wh.query(
        f"select {day} as day_number, count(*), cast(sum({row_hash}) as {text}) from {source} group by 1"
    )
    return {rules.EPOCH + dt.timedelta(days=int(n)): (int(c), str(fp)) for n, c, fp in rows}


def previous(wh: Warehouse, source: str) -> dict[dt.date | None, tuple[int, str]] | None:
    """The fingerprints of ``source`` recorded by the last load that measured it (None: never)."""
    rows = wh.query(
        f"select fp_date, row_count, fingerprint from {qualified(FINGERPRINTS_TABLE)} "
        f"where source = %s and load_id = (select max(load_id) from {qualified(FINGERPRINTS_TABLE)} "
        f"where source = %s and {COMMITTED})",
        (source, source),
    )
    if not rows:
        return None
    return {d: (int(c), fp) for d, c, fp in rows}


def record(
    wh: Warehouse, load_id: int, table_names: Iterable[str], written: Callable[[str], str] = str
) -> DateChanges:
    """Measure the reloaded tables, store their fingerprints under ``load_id``, return the changes.

    ``written(name)``: the table the load wrote ``raw.<name>`` into (on Spark ``<name>__rr_new``,
    measured before it is swapped in)."""
    dates: dict[str, set[dt.date]] = {}
    undated: list[str] = []
    measured: dict[str, dict[dt.date | None, tuple[int, str]]] = {}
    for name in table_names:
        source = SOURCES[name]
        now = measured[source] = measure(wh, name, written(name))
        before = previous(wh, source)
        # one statement for all dates (on Spark each statement is a job: one per date took minutes)
        ordered = sorted(now.items(), key=lambda kv: (kv[0] is not None, kv[0]))
        if ordered:
            wh.execute(
                f"insert into {qualified(FINGERPRINTS_TABLE)} (load_id, source, fp_date, row_count, fingerprint) "
                "values " + ", ".join(["(%s, %s, %s, %s, %s)"] * len(ordered)),
                [v for fp_date, (count, fp) in ordered for v in (load_id, source, fp_date, count, fp)],
            )
        if TABLES[name].dated:
            old = before or {}
            dates[LABELS[name]] = {d for d in set(now) | set(old) if now.get(d) != old.get(d)}
        elif before is None:
            undated.append(f"{LABELS[name]} loaded for the first time")
        elif before != now:
            undated.append(f"{LABELS[name]} changed")
    all_dates: set[dt.date] = set()
    for source in ("events", "item_properties"):
        after = measured[source] if source in measured else previous(wh, source)
        all_dates |= {d for d in (after or {}) if d is not None}
    return DateChanges(dates, undated, tuple(sorted(all_dates)))


def next_load_id(wh: Warehouse) -> int:
    """One more than any load id in use, recorded or left behind by a load that stopped."""
    return 1 + max(
        int(wh.scalar(f"select coalesce(max(load_id), 0) from {qualified(table)}"))
        for table in (LOADS_TABLE, FINGERPRINTS_TABLE)
    )


def has_fingerprints(wh: Warehouse, table_name: str) -> bool:
    if not wh.table_exists(SCHEMA, FINGERPRINTS_TABLE):
        return False
    return bool(
        wh.scalar(
            f"select count(*) from {qualified(FINGERPRINTS_TABLE)} where source = %s and {COMMITTED}",
            (SOURCES[table_name],),
        )
    )
