"""What the warehouse holds: the raw event date range, and whether it covers a date.

The raw-coverage rule has its one home here (:meth:`RawStatus.coverage`); the DAG's
``check_raw_freshness`` task, ``make build``/``make run-linux``, ``make run-dag``'s default date and
the pipeline summary all call it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from seeds_loader.rules import kst, kst_date, previous_kst_day
from seeds_loader.settings import Settings
from seeds_loader.warehouse import Warehouse, WarehouseError, connect

COMPLETE, PARTIAL, UNCOVERED = "complete", "partial", "not covered"


@dataclass(frozen=True)
class Coverage:
    """How the raw events cover one Asia/Seoul date: ``state`` is complete, partial or not covered."""

    date: dt.date
    state: str
    message: str

    @property
    def usable(self) -> bool:
        """A run may report on the date (a partial day only with a warning, as the volume band)."""
        return self.state != UNCOVERED


@dataclass(frozen=True)
class RawStatus:
    events: int
    first_event_ms: int
    last_event_ms: int

    @property
    def first_event_date(self) -> dt.date:
        return kst_date(self.first_event_ms)

    @property
    def last_event_date(self) -> dt.date:
        return kst_date(self.last_event_ms)

    @property
    def last_complete_day(self) -> dt.date:
        """The day before the last event's day: the extract stops somewhere in its last day (the
        real file at 11:59 KST on 2015-09-18), so that day is never taken as complete."""
        return self.last_event_date - dt.timedelta(days=1)

    def _when(self, ts_ms: int) -> str:
        return dt.datetime.fromtimestamp(ts_ms / 1000, kst()).strftime("%Y-%m-%d %H:%M KST")

    def coverage(self, d: dt.date) -> Coverage:
        """Whether the raw events cover ``d`` completely: events exist after the end of ``d`` and
        before its start (Asia/Seoul). The first and the last day of the data are partial (the
        extract starts and stops inside them); a date outside the data is not covered."""
        span = (
            f"the raw events run from {self._when(self.first_event_ms)} to {self._when(self.last_event_ms)}"
        )
        if d > self.last_event_date:
            return Coverage(
                d,
                UNCOVERED,
                f"the raw data ends on {self.last_event_date} ({span}): nothing covers {d}; "
                f"load a delivery that covers it, or run a date up to {self.last_complete_day}",
            )
        if d < self.first_event_date:
            return Coverage(
                d, UNCOVERED, f"the raw data starts on {self.first_event_date} ({span}): nothing covers {d}"
            )
        if d == self.last_event_date:
            return Coverage(
                d,
                PARTIAL,
                f"{d} is the last day of the raw data and partial ({span}): its numbers cover part of the day",
            )
        if d == self.first_event_date:
            return Coverage(
                d,
                PARTIAL,
                f"{d} is the first day of the raw data and partial ({span}): its numbers cover part of the day",
            )
        return Coverage(d, COMPLETE, f"raw events cover {d} completely ({span})")

    def default_report_date(self, now: dt.datetime) -> dt.date:
        """The date a run started ``now`` without a date reports on: the Asia/Seoul day before
        ``now`` (what the 09:00 KST schedule reports), or, when the raw data do not reach it (a
        historical data set), the last complete day in the data."""
        scheduled = previous_kst_day(now)
        return scheduled if self.coverage(scheduled).state == COMPLETE else self.last_complete_day


def read_raw_status(wh: Warehouse) -> RawStatus | None:
    """The raw events' count and first and last timestamps (None: no raw events loaded)."""
    if not wh.table_exists("raw", "raw_rr_events"):
        return None
    count, first_ms, last_ms = wh.query(
        f"select count(*), min({wh.quote('timestamp')}), max({wh.quote('timestamp')}) from raw.raw_rr_events"
    )[0]
    if not count:
        return None
    return RawStatus(int(count), int(first_ms), int(last_ms))


def raw_status(settings: Settings) -> RawStatus:
    with connect(settings, create=False) as wh:
        status = read_raw_status(wh)
    if status is None:
        raise WarehouseError(
            f"{settings.describe()} holds no raw events (raw.raw_rr_events): run `python -m seeds_loader load`"
        )
    return status
