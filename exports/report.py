"""The four reports of one Asia/Seoul date, written only from data that passed every gate.

``export_reports(settings, date(2015, 9, 17))`` writes into the output folder:

- ``rr_funnel_daily_<D>.csv``: the ``kpi.mart_rr_funnel_daily`` row of D, columns in model order;
- ``rr_cohort_weekly_<D>.csv``: ``kpi.mart_rr_cohort_weekly`` as of D;
- ``rr_crm_targets_<D>.csv``: ``kpi.mart_rr_crm_targets_daily`` of D, all segments, mart order;
- ``rr_pipeline_summary_<D>.txt``: run id, warehouse, funnel numbers, rows per layer, duplicates
  removed, CRM segment sizes before and after the cap, every gate's status and failures from
  ``qa.quality_check_runs``, and each CSV's row count and sha256.

Guarded: when D was never built, or the latest recorded results of the pipeline run that last
checked D hold a test in ``fail``/``error`` (or a gate did not run), nothing is written, any
earlier report of D is removed (it would be stale), and :class:`GateRefusal` names the gates.

Stable: ISO dates, timestamps ``YYYY-MM-DD HH:MM:SS.mmm``, every float (the rates) with 4
decimals, booleans ``true``/``false``, NULL as an empty field, deterministic row order, UTF-8, LF.
The same data gives byte-identical CSVs; the summary differs only in its run-id lines.

Atomic: every file is written to a temporary name in the output folder, flushed, and renamed;
the summary (which lists the CSVs' checksums) is renamed last. A failure removes what it wrote.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seeds_loader.settings import Settings
from seeds_loader.warehouse import Warehouse, connect

GATES = ("gate_domain", "gate_integrity", "gate_nulls", "gate_rowcount", "gate_kpi_range")
SEGMENTS = ("cart_abandoner_today", "high_intent_viewer_7d_no_cart", "repeat_buyer")
KST_OFFSET_MS = 9 * 3600 * 1000
DAY_MS = 86_400_000

# lines of the summary that name the run (they differ between two runs on the same data)
VOLATILE_SUMMARY_LABELS = ("pipeline run id", "dbt invocations", "gates checked at", "airflow run id")


class ExportError(RuntimeError):
    """The reports of a date cannot be produced."""


class GateRefusal(ExportError):
    """The data of the date did not pass every gate (or was never built): no report."""

    def __init__(self, target_date: dt.date, reasons: list[str]):
        self.target_date = target_date
        self.reasons = reasons
        super().__init__(
            f"no report for {target_date.isoformat()}: " + "; ".join(reasons)
            if reasons
            else f"no report for {target_date.isoformat()}"
        )


@dataclass(frozen=True)
class TestOutcome:
    gate: str | None
    test_name: str
    model: str | None
    status: str
    failures: int | None


@dataclass
class GateStatus:
    gate: str
    tests: list[TestOutcome] = field(default_factory=list)

    @property
    def status(self) -> str:
        statuses = {t.status for t in self.tests}
        if not statuses:
            return "missing"
        for worst in ("error", "fail", "skipped", "warn"):
            if worst in statuses:
                return worst
        return "pass"

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "warn")


@dataclass
class GateCheck:
    pipeline_run_id: str
    invocation_ids: list[str]
    latest_invocation_id: str
    last_checked_at: dt.datetime
    gates: list[GateStatus]
    outside_gates: list[TestOutcome]

    def refusal_reasons(self) -> list[str]:
        reasons = []
        for g in self.gates:
            if g.passed:
                continue
            if g.status == "missing":
                reasons.append(f"{g.gate} did not run")
                continue
            failed = [t for t in g.tests if t.status in ("fail", "error")]
            skipped = [t for t in g.tests if t.status == "skipped"]
            if failed:
                listed = ", ".join(
                    f"{t.test_name} on {t.model or '?'} ({t.status}"
                    + ("" if t.failures is None else f", {t.failures} failing rows")
                    + ")"
                    for t in failed[:3]
                )
                more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
                extra = f"; {len(skipped)} of its tests not run" if skipped else ""
                reasons.append(f"{g.gate} FAILED: {listed}{more}{extra}")
            else:
                reasons.append(f"{g.gate} NOT RUN ({len(skipped)} tests skipped after an upstream failure)")
        bad_other = [t for t in self.outside_gates if t.status in ("fail", "error")]
        if bad_other:
            reasons.append("unit tests failed: " + ", ".join(t.test_name for t in bad_other))
        return reasons


@dataclass
class ReportFile:
    path: Path
    rows: int | None
    sha256: str


@dataclass
class ExportResult:
    target_date: dt.date
    files: list[ReportFile]
    gate_check: GateCheck
    funnel: dict[str, Any]

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files]


# -----------------------------------------------------------------------------------------------
# formatting
# -----------------------------------------------------------------------------------------------
def format_value(value: Any) -> str:
    """One field, the same text whichever warehouse produced the value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "as_integer_ratio"):  # Decimal
        return format_value(float(value)) if value != int(value) else str(int(value))
    return str(value)


def render_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_value(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def report_names(target_date: dt.date) -> dict[str, str]:
    d = target_date.isoformat()
    return {
        "funnel": f"rr_funnel_daily_{d}.csv",
        "cohort": f"rr_cohort_weekly_{d}.csv",
        "crm": f"rr_crm_targets_{d}.csv",
        "summary": f"rr_pipeline_summary_{d}.txt",
    }


# -----------------------------------------------------------------------------------------------
# the guard
# -----------------------------------------------------------------------------------------------
_COVERS_DATE = "(window_end_date is null or (window_start_date <= %s and %s <= window_end_date))"


def check_gates(wh: Warehouse, target_date: dt.date) -> GateCheck:
    """The latest recorded result of every test of the pipeline run that last checked D.

    A pipeline run is one ``dbt build`` or one Airflow DAG run (many dbt invocations sharing the
    var ``pipeline_run_id``); it covers D when its window (target_date - lookback_days ..
    target_date) holds D, or when it checked every date. Raises :class:`GateRefusal` when no run
    ever checked D.
    """
    if not wh.table_exists("qa", "quality_check_runs"):
        raise GateRefusal(
            target_date, ["no gate results: qa.quality_check_runs does not exist (run dbt build)"]
        )
    latest = wh.query(
        f"select pipeline_run_id, max(run_started_at) from qa.quality_check_runs "
        f"where gate is not null and {_COVERS_DATE} group by 1 order by 2 desc, 1 limit 1",
        (target_date, target_date),
    )
    if not latest:
        raise GateRefusal(target_date, [f"no dbt run has checked {target_date.isoformat()} yet"])
    run_id, last_checked_at = latest[0]
    rows = wh.query(
        f"select gate, test_name, model, status, failures, run_started_at, invocation_id "
        f"from qa.quality_check_runs where pipeline_run_id = %s and {_COVERS_DATE} "
        f"order by test_name, run_started_at",
        (run_id, target_date, target_date),
    )
    latest_per_test: dict[str, TestOutcome] = {}
    invocations: dict[str, dt.datetime] = {}
    for gate, test_name, model, status, failures, started, invocation_id in rows:
        latest_per_test[test_name] = TestOutcome(gate, test_name, model, status, failures)
        invocations[invocation_id] = max(started, invocations.get(invocation_id, started))
    latest_invocation = max(invocations, key=lambda i: (invocations[i], i))
    gates = [GateStatus(g, [t for t in latest_per_test.values() if t.gate == g]) for g in GATES]
    outside = [t for t in latest_per_test.values() if t.gate not in GATES]
    return GateCheck(run_id, sorted(invocations), latest_invocation, last_checked_at, gates, outside)


def _require_built(wh: Warehouse, target_date: dt.date) -> None:
    if not wh.table_exists("kpi", "mart_rr_funnel_daily"):
        raise GateRefusal(target_date, ["the KPI tables do not exist: run dbt build first"])
    if not wh.scalar("select count(*) from kpi.mart_rr_funnel_daily where kpi_date = %s", (target_date,)):
        raise GateRefusal(
            target_date,
            [f"{target_date.isoformat()} was never built (no row in kpi.mart_rr_funnel_daily)"],
        )
    if not wh.scalar("select count(*) from kpi.mart_rr_cohort_weekly where kpi_date = %s", (target_date,)):
        raise GateRefusal(
            target_date,
            [f"the cohorts as of {target_date.isoformat()} were never built (kpi.mart_rr_cohort_weekly)"],
        )


# -----------------------------------------------------------------------------------------------
# the data
# -----------------------------------------------------------------------------------------------
def _kst_day_bounds_ms(d: dt.date) -> tuple[int, int]:
    start = (d - dt.date(1970, 1, 1)).days * DAY_MS - KST_OFFSET_MS
    return start, start + DAY_MS


def _layer_counts(wh: Warehouse, d: dt.date) -> list[tuple[str, int]]:
    start_ms, end_ms = _kst_day_bounds_ms(d)
    staged, duplicates = wh.query(
        "select count(*), coalesce(sum(raw_row_count - 1), 0) from staging.stg_rr_events where event_date = %s",
        (d,),
    )[0]
    counts = [
        (
            "raw.raw_rr_events",
            wh.scalar(
                'select count(*) from raw.raw_rr_events where "timestamp" >= %s and "timestamp" < %s',
                (start_ms, end_ms),
            ),
        ),
        ("exact duplicates removed", duplicates),
        ("staging.stg_rr_events", staged),
    ]
    for table, column in (
        ("mart.fact_rr_events", "event_date"),
        ("mart.fact_rr_sessions", "session_date"),
        ("mart.fact_rr_visitor_daily", "activity_date"),
        ("kpi.mart_rr_funnel_daily", "kpi_date"),
        ("kpi.mart_rr_funnel_category_daily", "kpi_date"),
        ("kpi.mart_rr_cohort_weekly", "kpi_date"),
        ("kpi.mart_rr_crm_targets_daily", "kpi_date"),
    ):
        counts.append((table, wh.scalar(f"select count(*) from {table} where {column} = %s", (d,))))
    return [(name, int(n)) for name, n in counts]


def _crm_sizes(wh: Warehouse, d: dt.date) -> list[tuple[str, int, int]]:
    rows = wh.query(
        "select segment_name, max(segment_size_before_cap), count(*) "
        "from kpi.mart_rr_crm_targets_daily where kpi_date = %s group by 1",
        (d,),
    )
    found = {name: (int(before), int(after)) for name, before, after in rows}
    return [(s, *found.get(s, (0, 0))) for s in (*SEGMENTS, *sorted(set(found) - set(SEGMENTS)))]


def _render_summary(
    settings: Settings,
    d: dt.date,
    check: GateCheck,
    funnel: dict[str, Any],
    layers: list[tuple[str, int]],
    crm: list[tuple[str, int, int]],
    csv_files: list[ReportFile],
    airflow_run_id: str | None,
) -> bytes:
    width = 36
    lines = [
        "RetailRocket KPI pipeline summary",
        "=================================",
        f"{'target date':<{width}}{d.isoformat()}",
        f"{'warehouse':<{width}}{settings.describe()}",
        f"{'pipeline run id':<{width}}{check.pipeline_run_id}",
    ]
    if airflow_run_id:
        lines.append(f"{'airflow run id':<{width}}{airflow_run_id}")
    lines += [
        f"{'dbt invocations':<{width}}{len(check.invocation_ids)} (latest {check.latest_invocation_id})",
        f"{'gates checked at':<{width}}{format_value(check.last_checked_at)} UTC",
        "",
        "Funnel (kpi.mart_rr_funnel_daily)",
    ]
    lines += [f"  {name:<{width - 2}}{format_value(value)}" for name, value in funnel.items()]
    lines += ["", f"Rows for {d.isoformat()}"]
    lines += [f"  {name:<{width - 2}}{n}" for name, n in layers]
    lines += ["", "CRM targets (segment size before the cap -> rows after the cap)"]
    lines += [f"  {name:<{width - 2}}{before} -> {after}" for name, before, after in crm]
    lines += ["", "Quality gates (qa.quality_check_runs: latest result of each test of the pipeline run)"]
    for gate in check.gates:
        failing = sum(1 for t in gate.tests if t.status in ("fail", "error"))
        warned = sum(1 for t in gate.tests if t.status == "warn")
        lines.append(
            f"  {gate.gate:<18}{gate.status:<9}{len(gate.tests)} tests, {failing} failing, {warned} warnings"
        )
        for t in sorted(gate.tests, key=lambda t: t.test_name):
            if t.status != "pass":
                rows = "" if t.failures is None else f": {t.failures} rows"
                lines.append(f"      {t.status:<8}{t.test_name} on {t.model or '?'}{rows}")
    if check.outside_gates:
        statuses = sorted({t.status for t in check.outside_gates})
        lines.append(
            f"  {'(unit tests)':<18}{'/'.join(statuses):<9}{len(check.outside_gates)} tests outside the gates"
        )
    lines += ["", "Report files"]
    for f in csv_files:
        lines.append(f"  {f.path.name:<{width + 4}}rows {f.rows:<8}sha256 {f.sha256}")
    return ("\n".join(lines) + "\n").encode("utf-8")


# -----------------------------------------------------------------------------------------------
# writing
# -----------------------------------------------------------------------------------------------
class _AtomicWriter:
    """Writes files under temporary names in the target folder; ``commit`` renames them all."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.pending: list[tuple[Path, Path]] = []
        self.committed: list[Path] = []

    def write(self, name: str, data: bytes) -> Path:
        final = self.out_dir / name
        tmp = self.out_dir / f".{name}.tmp-{os.getpid()}"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        self.pending.append((tmp, final))
        return final

    def commit(self) -> None:
        for tmp, final in self.pending:
            os.replace(tmp, final)
            self.committed.append(final)
        self.pending = []

    def abort(self) -> None:
        for tmp, _final in self.pending:
            tmp.unlink(missing_ok=True)
        for final in self.committed:
            final.unlink(missing_ok=True)
        self.pending, self.committed = [], []


def remove_reports(out_dir: Path, target_date: dt.date) -> list[Path]:
    removed = []
    for name in report_names(target_date).values():
        path = out_dir / name
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


def export_reports(
    settings: Settings,
    target_date: dt.date,
    out_dir: Path | None = None,
    *,
    airflow_run_id: str | None = None,
) -> ExportResult:
    """Write the four reports of ``target_date``; raise :class:`GateRefusal` when the gates forbid it."""
    out_dir = Path(out_dir) if out_dir is not None else settings.root / "logs" / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    names = report_names(target_date)
    writer = _AtomicWriter(out_dir)
    try:
        with connect(settings, create=False) as wh:
            _require_built(wh, target_date)
            check = check_gates(wh, target_date)
            reasons = check.refusal_reasons()
            if reasons:
                raise GateRefusal(target_date, reasons)

            funnel_columns, funnel_rows = wh.query_with_columns(
                "select * from kpi.mart_rr_funnel_daily where kpi_date = %s", (target_date,)
            )
            cohort_columns, cohort_rows = wh.query_with_columns(
                "select * from kpi.mart_rr_cohort_weekly where kpi_date = %s "
                "order by cohort_type, cohort_week, week_index",
                (target_date,),
            )
            crm_columns, crm_rows = wh.query_with_columns(
                "select * from kpi.mart_rr_crm_targets_daily where kpi_date = %s "
                "order by segment_name, segment_rank",
                (target_date,),
            )
            layers = _layer_counts(wh, target_date)
            crm = _crm_sizes(wh, target_date)

        csv_files = []
        for key, columns, rows in (
            ("funnel", funnel_columns, funnel_rows),
            ("cohort", cohort_columns, cohort_rows),
            ("crm", crm_columns, crm_rows),
        ):
            data = render_csv(columns, rows)
            path = writer.write(names[key], data)
            csv_files.append(ReportFile(path, len(rows), hashlib.sha256(data).hexdigest()))
        funnel = dict(zip(funnel_columns, funnel_rows[0], strict=True))
        summary = _render_summary(
            settings, target_date, check, funnel, layers, crm, csv_files, airflow_run_id
        )
        summary_path = writer.write(names["summary"], summary)
        writer.commit()
    except BaseException:
        # no partial report, and no earlier report of the date left looking current
        writer.abort()
        remove_reports(out_dir, target_date)
        raise
    files = [*csv_files, ReportFile(summary_path, None, hashlib.sha256(summary).hexdigest())]
    return ExportResult(target_date, files, check, funnel)
