"""The project's rules that Python shares with the dbt project: one definition each.

=========================  ======================================  ===============================
rule                       its one definition                      read by
=========================  ======================================  ===============================
Asia/Seoul offset (UTC+9)  ``vars.asia_seoul_utc_offset_hours``    dbt macros through ``var()``;
                           in ``dbt_retailrocket/dbt_project.yml`` Python through
                                                                   :func:`kst_offset_ms`, ...
the five quality gates     the definitions lock (its source:       dbt (history, certification,
                           ``vars.quality_gates``, locked by       run log: ``rr_quality_gates``);
                           ``make lock-definitions``)              Python :func:`gates`
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
one line of free text      :func:`free_text_problem` here, with    whoever records or writes the
(``pipeline_run_id``,      ``PIPELINE_RUN_ID_MAX`` and             run id or the window note;
``window_note``)           ``WINDOW_NOTE_MAX``; :func:`one_line`   dbt's ``rr_free_text_var``
                           escapes text written into a line        macro gives the same verdicts
                                                                   on ``--vars`` (tested side by
                                                                   side)
=========================  ======================================  ===============================

Importing this module needs only the standard library (the compose helper runs it without the
project's virtualenv); reading ``dbt_project.yml`` needs PyYAML, which dbt brings.
"""

from __future__ import annotations

import datetime as dt
import functools
import numbers
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


# ---------------------------------------------------------------------------------------------
# free text: the vars pipeline_run_id and window_note (dbt twin: macros/rr_free_text.sql)
# ---------------------------------------------------------------------------------------------
PIPELINE_RUN_ID_MAX = 250  # qa.rr_invocations.pipeline_run_id and the other history tables: varchar(250)
WINDOW_NOTE_MAX = 900  # the note the exports write (qa.rr_invocations.window_note is wider)
# the refused characters: Unicode's Cc (C0 and C1 controls, DEL), Zl (U+2028) and Zp (U+2029).
# The same pattern text is in the dbt macro rr_free_text_problem (tests/test_free_text.py checks
# that this class is exactly those categories).
_REFUSED_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# those of them that a reader takes for the end of a line (exactly what str.splitlines splits on)
_LINE_BREAK_RE = re.compile(r"[\n\x0b\x0c\r\x1c-\x1e\x85\u2028\u2029]")
# what one_line escapes: the refused characters and the backslash (so the escaping reverses)
_ESCAPED_RE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class FreeTextError(ValueError):
    """A value that is not one line of text of the allowed length."""


def free_text_problem(value: Any, name: str, max_length: int) -> str | None:
    """``None`` when ``value`` is absent (``None``) or one line of free text, else why not.

    One line of free text is a ``str`` of 1 to ``max_length`` characters (code points, as
    PostgreSQL and Spark count a ``varchar(n)``) none of which is a control character (Unicode
    category Cc: ``\\x00``-``\\x1f``, ``\\x7f``-``\\x9f``, so ``\\n \\r \\t \\x00 \\x1b \\x85`` too)
    or a line or paragraph separator (Zl U+2028, Zp U+2029).

    Why: the text is recorded in the run history and written into line-oriented files (the
    report summary's ``key=value`` lines, logs, CSV). A newline, or anything a terminal, a CSV
    reader or a ``key=value`` reader takes as a line break (``\\r``, ``\\x0b``, ``\\x0c``,
    ``\\x1c``-``\\x1e``, ``\\x85``, U+2028, U+2029), would let the text forge a line of its own,
    e.g. a ``window_note`` of ``"x\\ncvr_session_to_purchase=0.8888"`` forging a KPI; the other
    controls (an ESC starting a terminal sequence that moves the cursor, NUL, DEL) can hide or
    overwrite what a reader sees. Nothing else is refused:

    - spaces, leading and trailing ones included, are text like any other: nothing is stripped
      (the text is recorded as given) and nothing is refused for its padding (a note cut at
      :data:`WINDOW_NOTE_MAX` may end in a space);
    - format characters (Cf: the zero-width space U+200B, the joiners U+200C/U+200D of emoji
      and of many scripts, bidi marks) are allowed: none of them ends a line for any reader, and
      refusing them would need a list that changes with each Unicode version, copied into Jinja
      (dbt's Jinja has ``re`` but not ``unicodedata``);
    - an empty string is refused: absence is spelled by not passing the value (``None``).

    Anything but a ``str`` (a number, a boolean, a date that YAML read from an unquoted value)
    is refused too. The message never repeats the text: it names the first refused character
    escaped as :func:`one_line` writes it, and its position (1 = the first character).
    dbt's macro ``rr_free_text_problem`` gives the same verdicts with the same words
    (tests/test_free_text.py feeds both the same inputs).
    """
    if value is None:
        return None
    rule = f"{name} must be one line of at most {max_length} characters without control characters"
    if not isinstance(value, str):
        return f"{rule}; got {_kind(value)}, not text"
    if value == "":
        return f"{rule}; got an empty string"
    refused = _REFUSED_RE.search(value)
    if refused:
        char = refused.group()
        what = "a line break" if _LINE_BREAK_RE.fullmatch(char) else "a control character"
        return f"{rule}; got {what} ({_escape(char)}) at character {refused.start() + 1}"
    if len(value) > max_length:
        return f"{rule}; got {len(value)} characters"
    return None


def parse_free_text(value: Any, name: str, max_length: int) -> str | None:
    """``value`` itself when :func:`free_text_problem` finds nothing wrong (``None`` stays
    ``None``), else :class:`FreeTextError` with the problem."""
    problem = free_text_problem(value, name, max_length)
    if problem is not None:
        raise FreeTextError(problem)
    return value


def one_line(text: str) -> str:
    """``text`` escaped for a line-oriented file (a summary ``key=value`` line, a log line): always
    one line, and reversible.

    Every character :func:`free_text_problem` refuses becomes a visible escape (``\\n``, ``\\r``,
    ``\\t``, else ``\\xHH`` below U+0100 and ``\\uHHHH`` above: the escapes of Python's
    ``repr``) and a backslash is doubled, so the escapes read back unambiguously. Valid text
    without a backslash comes out unchanged. For text recorded before the rule existed (old
    run history rows) and as defence in depth wherever free text is written.
    """
    return _ESCAPED_RE.sub(lambda m: _escape(m.group()), text)


def _escape(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _kind(value: Any) -> str:
    """What a value that is not text is, in the words of the macro rr_free_text_problem."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, numbers.Number):  # what Jinja's `number` test asks
        return "a number"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, list | tuple):
        return "a list"
    return "a value of another type"


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


@functools.cache
def locked_rules() -> dict[str, Any]:
    """The rules of the committed definitions lock (``dbt_retailrocket/models/qa/
    _qa__definitions_lock.yml``, written by ``make lock-definitions``): the gate list, the session
    gap, the date split, the session rule in words."""
    import yaml

    from seeds_loader.settings import project_root

    path = project_root() / "dbt_retailrocket" / "models" / "qa" / "_qa__definitions_lock.yml"
    with open(path, encoding="utf-8") as fh:
        for model in (yaml.safe_load(fh) or {}).get("models") or []:
            lock = ((model.get("config") or {}).get("meta") or {}).get("rr_lock")
            if isinstance(lock, dict):
                return dict(lock["rules"])
    raise ValueError(f"{path} holds no definitions lock (meta rr_lock): make lock-definitions REASON=...")


def gates() -> tuple[str, ...]:
    """The quality gates, in report order, from the definitions lock (never from a var: the dbt
    project reads the same list, macro rr_quality_gates)."""
    return tuple(locked_rules()["quality_gates"])


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
