"""Is a date's data certified? The one question the export, the DAG and ``make check`` ask.

The answer is the dbt project's view ``qa.rr_date_certification`` (models/qa, macro
rr_date_certification_sql: the rule lives there, once). This module only reads it, with what
the summary and ``make check`` show beside it: the tests expected / ran / passed per gate of
the verdict that certified the date, the pipeline run and window that checked it, and the raw
load it describes.

:func:`plan_window` is the other half of the contract: a run for date D must rebuild from the
first uncertified date (a re-delivery that changed an older date, a failed or partial earlier
run), or D cannot be certified, since its cohorts and CRM histories read every earlier date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from seeds_loader.rules import WINDOW_NOTE_MAX, one_line
from seeds_loader.status import read_raw_status
from seeds_loader.warehouse import Warehouse

VIEW = "rr_date_certification"


@dataclass(frozen=True)
class GateCoverage:
    """One gate's tests for one date, as counted by the verdict."""

    gate: str
    expected: int
    ran: int
    passed: int
    warned: int
    failed: int
    first_failing: str | None = None

    @property
    def status(self) -> str:
        if self.failed:
            return "FAIL"
        if self.ran < self.expected:
            return "INCOMPLETE"
        return "WARN" if self.warned else "PASS"

    def describe(self) -> str:
        """``15 expected / 15 ran / 15 passed`` (+ warnings)."""
        text = f"{self.expected} expected / {self.ran} ran / {self.passed} passed"
        return text + (f" ({self.warned} with a warning)" if self.warned else "")


@dataclass(frozen=True)
class Certification:
    """The certification of one Asia/Seoul date, as the warehouse states it now."""

    date: dt.date
    certified: bool
    reason: str | None
    checked_at: dt.datetime | None = None
    pipeline_run_id: str | None = None
    invocation_id: str | None = None
    raw_load_id: int | None = None
    raw_loaded_at: dt.datetime | None = None
    raw_changes: str | None = None
    window: tuple[dt.date | None, dt.date | None] | None = None
    window_note: str | None = None
    gates: list[GateCoverage] = field(default_factory=list)
    warnings: list[tuple[str, str | None, int | None]] = field(default_factory=list)
    # the locked definitions the date was certified under (docs block rr_definitions)
    definitions_version: int | None = None
    definitions_sha256: str | None = None

    @property
    def refusal(self) -> str:
        """The one-line reason a report of this date is refused."""
        return self.reason or "not certified"

    def window_text(self) -> str:
        if self.window is None:
            return "unknown"
        start, end = self.window
        if start is None and end is None:
            text = "every date"
        else:
            text = f"{start.isoformat() if start else 'the first date'} .. {end.isoformat() if end else 'the last'}"
        return text + (f" ({self.window_note})" if self.window_note else "")


def _not_askable(wh: Warehouse) -> str | None:
    """Why no date can be certified yet (nothing loaded or checked, or checked by an earlier
    version of the project, before definitions were locked), or None."""
    if not wh.table_exists("raw", "raw_rr_loads") or not wh.table_exists("raw", "raw_rr_date_fingerprints"):
        return (
            "no raw load is recorded in this warehouse: load the raw files with python -m seeds_loader load"
        )
    if not wh.table_exists("qa", VIEW):
        return "no dbt run has checked any date yet (qa.rr_date_certification does not exist)"
    if "definitions_sha256" not in wh.columns("qa", VIEW):
        return (
            "the dates were checked by an earlier version of the project, before definitions were locked: "
            "rebuild and check them under the lock (make build)"
        )
    return None


def certification(wh: Warehouse, d: dt.date) -> Certification:
    """The certification of ``d`` now (see the module doc); never raises for an unknown date."""
    why_not = _not_askable(wh)
    if why_not is not None:
        return Certification(d, False, why_not)
    rows = wh.query(
        f"select is_certified, reason, checked_at, checked_by_pipeline_run_id, checked_by_invocation_id, "
        f"raw_load_id, raw_loaded_at, definitions_version, definitions_sha256 from qa.{VIEW} where kpi_date = %s",
        (d,),
    )
    if not rows:
        loaded = wh.scalar("select max(load_id) from raw.raw_rr_loads")
        return Certification(
            d, False, f"no raw events on {d.isoformat()} in the data now loaded (raw load {loaded})"
        )
    is_certified, reason, checked_at, run_id, invocation_id, raw_load_id, raw_loaded_at, version, sha256 = (
        rows[0]
    )
    gates: list[GateCoverage] = []
    warnings: list[tuple[str, str | None, int | None]] = []
    window: tuple[dt.date | None, dt.date | None] | None = None
    note = None
    if invocation_id is not None:
        gates = [
            GateCoverage(gate, int(e), int(r), int(p), int(w), int(f), first)
            for gate, e, r, p, w, f, first in wh.query(
                "select gate, tests_expected, tests_ran, tests_passed, tests_warned, tests_failed, "
                "first_failing_test from qa.rr_date_verdict_gates where invocation_id = %s and kpi_date = %s "
                "order by gate_order, gate",
                (invocation_id, d),
            )
        ]
        found = wh.query(
            "select window_start, window_end, window_note from qa.rr_invocations "
            "where invocation_id = %s and phase = 'start'",
            (invocation_id,),
        )
        if found:
            window, note = (found[0][0], found[0][1]), found[0][2]
        # the warnings the verdict counted for d (a window test's failing rows placed on their
        # dates count on those dates only: macros/qa, rr_failing_dates), each with the
        # model the catalog of that invocation's version gives it (qa.rr_catalog keeps every version)
        warnings = [
            (name, model, None if failures is None else int(failures))
            for name, model, failures in wh.query(
                "select distinct tests.test_name, catalog.model, tests.failures "
                "from qa.rr_date_verdict_tests as tests "
                "left join qa.rr_invocations as run "
                "on run.invocation_id = tests.invocation_id and run.phase = 'start' "
                "left join qa.rr_catalog as catalog "
                "on catalog.catalog_id = run.catalog_id and catalog.unique_id = tests.unique_id "
                "and catalog.kind = 'gate_test' "
                "where tests.invocation_id = %s and tests.kpi_date = %s and tests.status = 'warn' "
                "order by 1, 2, 3",
                (invocation_id, d),
            )
        ]
    changes = None
    if raw_load_id is not None:
        changes = wh.scalar("select changed_dates from raw.raw_rr_loads where load_id = %s", (raw_load_id,))
    return Certification(
        date=d,
        certified=bool(is_certified),
        reason=reason,
        checked_at=checked_at,
        pipeline_run_id=run_id,
        invocation_id=invocation_id,
        raw_load_id=None if raw_load_id is None else int(raw_load_id),
        raw_loaded_at=raw_loaded_at,
        raw_changes=changes,
        window=window,
        window_note=note,
        gates=gates,
        warnings=warnings,
        definitions_version=None if version is None else int(version),
        definitions_sha256=sha256,
    )


@dataclass(frozen=True)
class GateTestResult:
    """One gate test's result that the certification of a date counted."""

    gate: str
    name: str
    status: str | None  # pass / warn / fail / error; None: no result covers the date
    failures: int | None


def history_version(wh: Warehouse) -> tuple:
    """What changes whenever a raw load or a dbt invocation writes to the warehouse: the last
    load id, the loads logged, the invocations and the model builds recorded. A reader without a
    snapshot (Spark has none) takes it before and after reading: unchanged, it read one state."""
    return tuple(
        wh.query(
            "select (select max(load_id) from raw.raw_rr_loads), (select count(*) from raw.raw_rr_load_log), "
            "(select count(*) from qa.rr_invocations), (select count(*) from qa.rr_model_builds)"
        )[0]
    )


def gate_test_results(wh: Warehouse, cert: Certification) -> list[GateTestResult]:
    """Each gate test of the verdict that certified ``cert.date``, with the result that verdict
    counted, as the dbt project recorded it (``qa.rr_date_verdict_tests``, written with the
    verdict by macros/qa/verdict: the one place that decides which result counts). In gate
    order, then by test name. Empty when the date was never checked."""
    if cert.invocation_id is None:
        return []
    rows = wh.query(
        "select gate, test_name, status, failures from qa.rr_date_verdict_tests "
        "where invocation_id = %s and kpi_date = %s",
        (cert.invocation_id, cert.date),
    )
    order = {gate.gate: i for i, gate in enumerate(cert.gates)}
    results = [
        GateTestResult(gate, name, status, None if failures is None else int(failures))
        for gate, name, status, failures in rows
    ]
    # sorted here, not in SQL: the warehouses' text collations differ
    return sorted(results, key=lambda r: (order.get(r.gate, len(order)), r.gate, r.name))


def certified_dates(wh: Warehouse) -> list[tuple[dt.date, bool, str | None]]:
    """(date, certified, reason) of every date of the raw events now loaded, in date order."""
    if _not_askable(wh) is not None:
        return []
    return [
        (d, bool(c), r)
        for d, c, r in wh.query(f"select kpi_date, is_certified, reason from qa.{VIEW} order by 1")
    ]


@dataclass(frozen=True)
class RunWindow:
    """The dates a run for ``target_date`` must rebuild and check: ``start .. target_date``."""

    target_date: dt.date
    start: dt.date | None  # None: from the first date (a full rebuild up to target_date)
    lookback_days: int | None  # the dbt var; None with start None
    note: str | None  # why the window is wider than asked (None: it is not)

    def dbt_vars(self, **extra: object) -> dict[str, object]:
        out: dict[str, object] = {"target_date": self.target_date.isoformat()}
        if self.lookback_days is not None:
            out["lookback_days"] = self.lookback_days
        if self.note:
            out["window_note"] = self.note
        out.update(extra)
        return out


def plan_window(
    wh: Warehouse | None, target_date: dt.date, lookback_days: int = 1, definitions_sha256: str | None = None
) -> RunWindow:
    """The window of a run for ``target_date``: ``target_date - lookback_days .. target_date``,
    widened back to the first date up to ``target_date`` that is not certified (never built or
    checked, changed by a raw re-delivery, or left failed or partial by an earlier run) or was
    certified under other definitions than the lock's (``definitions_sha256``, default: the
    committed lock's): a date's numbers read every earlier date's, so a new definitions version
    rebuilds from the first date."""
    asked = target_date - dt.timedelta(days=lookback_days)
    why_not = None if wh is None else _not_askable(wh)
    if wh is None or why_not is not None:
        status = None if wh is None else read_raw_status(wh)
        first = None if status is None else status.first_event_date
        if first is None or first >= asked:
            return RunWindow(target_date, asked, lookback_days, None)
        if why_not is not None and why_not.startswith("the dates were checked by an earlier version"):
            return _widened(target_date, first, "checked before definitions were locked")
        return _widened(target_date, first, "no date has been certified in this warehouse yet")
    locked = definitions_sha256 or locked_sha256()
    rows = wh.query(
        f"select kpi_date, is_certified, reason, definitions_version from qa.{VIEW} "
        "where (not is_certified or definitions_sha256 is null or definitions_sha256 <> %s) and kpi_date < %s "
        "order by kpi_date limit 1",
        (locked, asked),
    )
    if not rows:
        return RunWindow(target_date, asked, lookback_days, None)
    first, is_certified, reason, version = rows[0]
    if is_certified:
        reason = f"certified under definitions v{version}, not under the lock's"
    return _widened(target_date, first, f"{first.isoformat()} was not certified: {reason}")


def locked_sha256() -> str:
    """The sha256 of the committed definitions lock (docs block rr_definitions)."""
    from exports.definitions import read_lock

    lock = read_lock()
    if lock is None:
        raise ValueError("there is no definitions lock: make lock-definitions REASON=...")
    return str(lock["definitions_sha256"])


def definition_texts(wh: Warehouse, definitions_sha256: str) -> dict[tuple[str, str], str]:
    """The texts of one state of the definitions, as the dbt project recorded them when a run
    first ran under it (qa.rr_definition_texts): {(kind, name): text}."""
    return {
        (kind, name): text
        for kind, name, text in wh.query(
            "select kind, name, entry_text from qa.rr_definition_texts where definitions_sha256 = %s",
            (definitions_sha256,),
        )
    }


def _widened(target_date: dt.date, first: dt.date, why: str) -> RunWindow:
    """The window from ``first``; its note (the dbt var window_note: one line, at most
    WINDOW_NOTE_MAX characters) says why."""
    days = (target_date - first).days
    note = one_line(f"rebuilt from {first.isoformat()}: {why}")
    return RunWindow(
        target_date,
        first,
        days,
        note if len(note) <= WINDOW_NOTE_MAX else note[: WINDOW_NOTE_MAX - 3] + "...",
    )
