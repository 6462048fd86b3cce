"""What the warehouse holds: the raw event date range and the last complete Asia/Seoul day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from seeds_loader.rules import kst_date
from seeds_loader.settings import Settings
from seeds_loader.warehouse import Warehouse, WarehouseError, connect


@dataclass(frozen=True)
class RawStatus:
    events: int
    first_event_date: dt.date
    last_event_date: dt.date

    @property
    def last_complete_day(self) -> dt.date:
        """The day before the last event's day: the extract stops somewhere in its last day (the
        real file at 11:59 KST on 2015-09-18), so that day is never taken as complete."""
        return self.last_event_date - dt.timedelta(days=1)


def read_raw_status(wh: Warehouse) -> RawStatus | None:
    """The raw events' count and Asia/Seoul date range (None: no raw events loaded)."""
    if not wh.table_exists("raw", "raw_rr_events"):
        return None
    count, first_ms, last_ms = wh.query(
        'select count(*), min("timestamp"), max("timestamp") from raw.raw_rr_events'
    )[0]
    if not count:
        return None
    return RawStatus(int(count), kst_date(int(first_ms)), kst_date(int(last_ms)))


def raw_status(settings: Settings) -> RawStatus:
    with connect(settings, create=False) as wh:
        status = read_raw_status(wh)
    if status is None:
        raise WarehouseError(
            f"{settings.describe()} holds no raw events (raw.raw_rr_events): run `python -m seeds_loader load`"
        )
    return status
