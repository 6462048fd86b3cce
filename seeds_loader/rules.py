"""The project's rules that Python shares with the dbt project: one definition each.

=========================  ======================================  ===============================
rule                       its one definition                      read by
=========================  ======================================  ===============================
Asia/Seoul offset (UTC+9)  ``vars.asia_seoul_utc_offset_hours``    dbt macros through ``var()``;
                           in ``dbt_retailrocket/dbt_project.yml`` Python through
                                                                   :func:`kst_offset_ms`, ...
the five quality gates     ``vars.quality_gates`` (same file)      dbt (history, certification,
                                                                   run log); Python :func:`gates`
a run date (YYYY-MM-DD)    :func:`parse_date` here                 exports CLI, the DAG, the Make
                                                                   targets, the compose helper;
                                                                   dbt's ``rr_parse_date`` macro
                                                                   gives the same verdicts on
                                                                   ``--vars`` (tested side by side)
a run's dates              :func:`parse_run_conf` here             the DAG (``dag_run.conf``), the
(one date or a range)                                              Make targets, the REST helpers;
                                                                   dbt's ``rr_date_range`` macro
                                                                   (``--vars``) applies the same
                                                                   rules
=========================  ======================================  ===============================

Importing this module needs only the standard library (the compose helper runs it without the
project's virtualenv); reading ``dbt_project.yml`` needs PyYAML, which dbt brings.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DAY_MS = 86_400_000
EPOCH = dt.date(1970, 1, 1)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DateError(ValueError):
    """A value that is not a calendar date written YYYY-MM-DD."""


def parse_date(value: Any, name: str = "target_date") -> dt.date:
    """A strict ``YYYY-MM-DD`` real calendar date, or :class:`DateError` naming ``name``.

    Only a string of exactly that shape (or a ``datetime.date`` that is not a datetime) passes:
    no surrounding spaces, no ``none``/``null``/empty string (absence of the value is the
    caller's business), no other spelling. So nothing else can reach dbt vars, SQL or a shell.
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise DateError(f"{name} must be a calendar date written YYYY-MM-DD; got {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise DateError(f"{name} is not a real calendar date: {value!r}") from None


def parse_optional_date(value: str | None, name: str) -> dt.date | None:
    """:func:`parse_date`, with ``None`` (the value is absent) meaning "not given"."""
    return None if value is None else parse_date(value, name)


@dataclass(frozen=True)
class RunDates:
    """The Asia/Seoul dates one run reports on: ``start .. end`` (one date: start == end)."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise DateError(
                f"end_date ({self.end.isoformat()}) is before start_date ({self.start.isoformat()})"
            )

    @property
    def is_range(self) -> bool:
        return self.start != self.end

    def dates(self) -> list[dt.date]:
        return dates_between(self.start, self.end)

    def conf(self) -> dict[str, str]:
        """The ``dag_run.conf`` asking for these dates (``parse_run_conf`` reads it back)."""
        if self.is_range:
            return {"start_date": self.start.isoformat(), "end_date": self.end.isoformat()}
        return {"target_date": self.end.isoformat()}

    def describe(self) -> str:
        if self.is_range:
            return f"{self.start.isoformat()} .. {self.end.isoformat()} ({len(self.dates())} dates)"
        return self.end.isoformat()


CONF_KEYS = ("target_date", "start_date", "end_date")


def parse_run_conf(conf: Mapping[str, Any] | None) -> RunDates | None:
    """The dates a ``dag_run.conf`` asks for, or ``None`` when it names none (the run's type then
    decides: the day before a scheduled run's logical date, the last complete day for a manual
    run). ``{"target_date": D}`` is one date; ``{"start_date": S, "end_date": E}`` the range S .. E.

    Strict, so a typo can never quietly run another date: an unknown key, ``target_date`` beside a
    range, half a range, ``end_date`` before ``start_date`` or any value :func:`parse_date`
    refuses (``null`` included: present means a date) raise :class:`DateError`.
    """
    conf = dict(conf or {})
    unknown = sorted(str(key) for key in set(conf) - set(CONF_KEYS))
    if unknown:
        raise DateError(
            f"unknown key(s) {', '.join(unknown)}; expected target_date, or start_date and end_date"
        )
    return _one_date_or_a_range(conf, *CONF_KEYS)


def run_dates_from_variables(date: str = "", start: str = "", end: str = "") -> RunDates | None:
    """The run's dates from the Make variables ``DATE`` (one date) or ``START`` and ``END`` (a
    range), empty meaning not given; None when none is given. The rules of
    :func:`parse_run_conf`, with the variables' names in the messages (``make``, the native
    Airflow's and the compose stack's helpers all call this)."""
    given = {name: value for name, value in (("DATE", date), ("START", start), ("END", end)) if value}
    return _one_date_or_a_range(given, "DATE", "START", "END")


def _one_date_or_a_range(given: Mapping[str, Any], one: str, first: str, last: str) -> RunDates | None:
    """The one rule of a run's dates, whatever the values are called: ``given`` holds the values
    present under the names ``one`` (a date) or ``first`` and ``last`` (a range), never both."""
    if one in given:
        if first in given or last in given:
            raise DateError(f"{one} cannot be combined with {first}/{last}: give one date or a range")
        d = parse_date(given[one], one)
        return RunDates(d, d)
    if first not in given and last not in given:
        return None
    if first not in given or last not in given:
        raise DateError(f"{first} and {last} go together: give both (a range of dates) or {one}")
    start, end = parse_date(given[first], first), parse_date(given[last], last)
    if end < start:
        raise DateError(f"{last} ({end.isoformat()}) is before {first} ({start.isoformat()})")
    return RunDates(start, end)


def dates_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from ``start`` to ``end``, both included."""
    if end < start:
        raise DateError(f"end_date ({end.isoformat()}) is before start_date ({start.isoformat()})")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


@functools.cache
def project_vars() -> dict[str, Any]:
    """The ``vars`` of ``dbt_project.yml`` (the dbt project's own defaults)."""
    import yaml

    from seeds_loader.settings import project_root

    with open(project_root() / "dbt_retailrocket" / "dbt_project.yml", encoding="utf-8") as fh:
        return dict(yaml.safe_load(fh)["vars"])


@functools.cache
def kst_offset_ms() -> int:
    """Asia/Seoul minus UTC in milliseconds (9 hours: no daylight saving since 1988)."""
    hours = project_vars()["asia_seoul_utc_offset_hours"]
    if not isinstance(hours, int) or isinstance(hours, bool):
        raise ValueError(f"vars.asia_seoul_utc_offset_hours must be a whole number, got {hours!r}")
    return hours * 3_600_000


def gates() -> tuple[str, ...]:
    """The quality gates, in report order."""
    return tuple(project_vars()["quality_gates"])


def kst() -> dt.timezone:
    return dt.timezone(dt.timedelta(milliseconds=kst_offset_ms()), "Asia/Seoul")


def kst_date(ts_ms: int) -> dt.date:
    """The Asia/Seoul calendar date of an epoch-millisecond timestamp."""
    return EPOCH + dt.timedelta(days=kst_day_number(ts_ms))


def kst_day_number(ts_ms: int) -> int:
    """Days since 1970-01-01 of the Asia/Seoul date of an epoch-millisecond timestamp."""
    return (ts_ms + kst_offset_ms()) // DAY_MS


def kst_day_bounds_ms(d: dt.date) -> tuple[int, int]:
    """Epoch milliseconds of 00:00 Asia/Seoul on ``d`` and on the day after."""
    start = (d - EPOCH).days * DAY_MS - kst_offset_ms()
    return start, start + DAY_MS


def previous_kst_day(instant: dt.datetime) -> dt.date:
    """The Asia/Seoul calendar day before the one ``instant`` falls on (the last complete day)."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(kst()).date() - dt.timedelta(days=1)
