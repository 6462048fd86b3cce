"""Rows bound to their checks: the published rows a report reads must be the rows its gates checked.

Each build of a kpi_build table records, in its own transaction, the count and fingerprint of the
rows it left for each date (``qa.rr_row_fingerprints``; ``qa.rr_certified_row_fingerprints`` gives,
per table and date, those of the latest build, the one the certification counts). Each row of
schema kpi carries its own fingerprint (``row_fingerprint``: the md5 of its values, macro
``rr_row_fingerprint``), and a date's fingerprint is the md5 of its rows' fingerprints in sorted
order (macro ``rr_sorted_md5``). The export collects the fingerprints of the rows it reads
(:class:`RowsRead`) and refuses a date whose rows differ from those built and checked (an UPDATE,
a DELETE, an INSERT after the build), naming the table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable

from seeds_loader.warehouse import Warehouse

FINGERPRINT_COLUMN = "row_fingerprint"  # of every view of schema kpi (macro rr_published_rows)


def rows_md5(fingerprints: Iterable[str]) -> str | None:
    """A date's fingerprint from its rows' (SQL: rr_sorted_md5); None for no row."""
    ordered = sorted(fingerprints)
    return hashlib.md5("".join(ordered).encode("ascii")).hexdigest() if ordered else None


class RowsRead:
    """The rows a report read from schema kpi: per (table, date), the fingerprints of its rows.

    ``read(table, dates, rows)`` records one query's rows (a (date, fingerprint) pair each) and
    the dates it covered, so a date read with no row counts: a table whose rows of a date were
    all deleted is refused like one whose rows were changed. Two queries reading the same
    (table, date) in one snapshot see the same rows; the last one is kept."""

    def __init__(self) -> None:
        self._fingerprints: dict[tuple[str, dt.date], list[str]] = {}

    def read(self, table: str, dates: Iterable[dt.date], rows: Iterable[tuple[dt.date, str]]) -> None:
        found: dict[dt.date, list[str]] = defaultdict(list)
        for d, fingerprint in rows:
            found[d].append(fingerprint)
        for d in {*dates, *found}:
            self._fingerprints[(table, d)] = found.get(d, [])

    def changed(self, wh: Warehouse) -> list[str]:
        """One line per (table, date) whose rows read are not those built and checked."""
        if not self._fingerprints:
            return []
        dates = sorted({d for _, d in self._fingerprints})
        models = sorted({table.split(".")[-1] for table, _ in self._fingerprints})
        placeholders = ", ".join(["%s"] * len(models))
        recorded = {
            (model, d): (None if count is None else int(count), md5)
            for model, d, count, md5 in wh.query(
                "select model, kpi_date, row_count, rows_md5 from qa.rr_certified_row_fingerprints "
                f"where model in ({placeholders}) and kpi_date between %s and %s",
                (*models, dates[0], dates[-1]),
            )
        }
        problems = []
        for (table, d), fingerprints in sorted(self._fingerprints.items()):
            expected = recorded.get((table.split(".")[-1], d))
            read = (len(fingerprints), rows_md5(fingerprints))
            if expected is None or expected[0] is None:
                problems.append(
                    f"kpi_build.{table.split('.')[-1]} has no row fingerprint recorded for {d.isoformat()} "
                    "(built before rows were fingerprinted, or its build died before recording them): rebuild the date"
                )
            elif expected != read:
                problems.append(
                    f"kpi_build.{table.split('.')[-1]} rows of {d.isoformat()} differ from the rows its gates "
                    f"checked ({read[0]} rows read, {expected[0]} built and checked; fingerprint "
                    f"{read[1] or 'none'} != {expected[1] or 'none'}): they were changed after their build; "
                    "rebuild the date"
                )
        return problems
