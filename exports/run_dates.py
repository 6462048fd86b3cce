"""Which Asia/Seoul date a run reports on: shared by the exports CLI and the Airflow DAG."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

KST = dt.timezone(dt.timedelta(hours=9), "Asia/Seoul")  # UTC+9 all year, no daylight saving
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class TargetDateError(ValueError):
    """A target date that is not a real calendar date written YYYY-MM-DD."""


def parse_target_date(value: Any) -> dt.date:
    """A strict ``YYYY-MM-DD`` real calendar date; anything else raises :class:`TargetDateError`.

    Only a string of exactly that shape (or a ``datetime.date`` that is not a datetime) passes,
    so nothing else can ever reach dbt vars or SQL.
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise TargetDateError(f"target_date must be a calendar date written YYYY-MM-DD; got {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise TargetDateError(f"target_date is not a real calendar date: {value!r}") from None


def previous_kst_day(instant: dt.datetime) -> dt.date:
    """The Asia/Seoul calendar day before the one ``instant`` falls on (the last complete day)."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(KST).date() - dt.timedelta(days=1)
