"""The reports of one Asia/Seoul date, written only from certified data.

``export_reports(settings, date(2015, 9, 17))`` writes into the output folder:

- ``rr_funnel_daily_<D>.csv``: the ``kpi.mart_rr_funnel_daily`` row of D;
- ``rr_cohort_weekly_<D>.csv``: ``kpi.mart_rr_cohort_weekly`` as of D;
- ``rr_crm_targets_<D>.csv``: ``kpi.mart_rr_crm_targets_daily`` of D, all segments, mart order;
- ``rr_pipeline_summary_<D>.txt``: run id, warehouse, funnel numbers, rows per layer, duplicates
  removed, CRM segment sizes before and after the cap, the certification (who checked D, the
  window and raw load it describes, each gate's tests expected / ran / passed), and each CSV's
  row count and sha256; then the original project's ``key=value`` lines (run id, target date,
  ``[rr_funnel_daily]``, ``[quality_checks]``);
- ``rr_report_<D>.html``: the same day as one self-contained page with charts, for people
  (:mod:`exports.html_report`);
- ``rr_report_files_<D>.sha256``: the manifest, the sha256 of every file above
  (:mod:`exports.manifest`; ``make check`` names any file edited after the export).

Compatible with the original project (docs/differences.md): each CSV starts with the original's
columns, in its order and with its names, then ours (:data:`REPORT_LAYOUTS`, the one place that
says which of our columns fills each of the original's).

Guarded: the export asks :func:`exports.certification.certification` whether D is certified
(the dbt project's ``qa.rr_date_certification``, the one definition) and reads only rows of
schema ``kpi``, whose views show certified dates only; everything is read in one snapshot that
no raw load can change. The rows read must be those their gates checked (:mod:`exports.rows`:
each row's fingerprint against the one recorded at its build), the installed dbt, adapter and
packages those the definitions lock pins, and the page shows the definitions recorded for the
version the date was certified under (not today's files). When anything of this fails nothing
is written, the reports of D already in the folder are left as they are (``make check`` says
whether they still hold), and :class:`GateRefusal` gives the one-line reason.

Stable: ISO dates, timestamps ``YYYY-MM-DD HH:MM:SS.mmm``, every float (the rates) with 4
decimals, booleans ``true``/``false``, NULL as an empty field, deterministic row order, UTF-8, LF.
The same data gives byte-identical CSVs; the summary differs only in its run-id lines.

Atomic: every file is written to a temporary name in the output folder, flushed, and renamed;
the HTML page after the CSVs, then the summary (which lists the CSVs' checksums), the manifest
last. A failure removes what it wrote.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exports.catalogue import catalogue_from_definitions
from exports.certification import (
    Certification,
    GateTestResult,
    certification,
    definition_texts,
    gate_test_results,
    history_version,
)
from exports.definitions import read_lock, version_problems
from exports.html_report import read_page_data, render_html
from exports.manifest import manifest_name, render_manifest, report_names, sweep_abandoned, temp_name
from exports.rows import FINGERPRINT_COLUMN, RowsRead
from seeds_loader.rules import PIPELINE_RUN_ID_MAX, FreeTextError, one_line, parse_free_text
from seeds_loader.settings import Settings
from seeds_loader.status import Coverage, read_raw_status
from seeds_loader.warehouse import Warehouse, connect

SEGMENTS = ("cart_abandoner_today", "high_intent_viewer_7d_no_cart", "repeat_buyer")

# A CSV column's value: a column of the published view, or a function of the row (a dict by the
# view's column names).
Source = str | Callable[[dict[str, Any]], Any]


def _crm_evidence(row: dict[str, Any]) -> str:
    """The original project's ``evidence``: its ``key=value`` pairs per segment."""
    segment = row["segment_name"]
    if segment == "cart_abandoner_today":
        return f"last_cart_ts={format_value(row['last_cart_at_kst'])}, cart_events={format_value(row['addtocart_count'])}"
    if segment == "high_intent_viewer_7d_no_cart":
        return f"view_events_7d={format_value(row['view_count'])}"
    if segment == "repeat_buyer":
        return (
            f"tx_cnt={format_value(row['transaction_count'])}, "
            f"last_purchase_ts={format_value(row['last_purchase_at_kst'])}"
        )
    raise ExportError(f"segment {segment!r} has no evidence in the original project's key=value form")


@dataclass(frozen=True)
class ReportLayout:
    """One CSV: the published view it reads, its row order, the original project's columns (in
    the original's order, each with the source that fills it), then our extra columns."""

    table: str
    order: tuple[str, ...]
    original: tuple[tuple[str, Source], ...]
    extras: tuple[tuple[str, Source], ...]
    # columns of the view that a function of the row reads but that are no column of the CSV
    inputs: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return [name for name, _ in (*self.original, *self.extras)]


def _same(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, name) for name in names)


REPORT_LAYOUTS = {
    "funnel": ReportLayout(
        table="kpi.mart_rr_funnel_daily",
        order=("kpi_date",),
        # same names; our cvr_view_to_cart and cvr_cart_to_purchase have nested numerators
        # (sessions with view AND cart, with cart AND purchase): docs/differences.md
        original=_same(
            "kpi_date",
            "visitors",
            "sessions",
            "views",
            "addtocarts",
            "purchases",
            "sessions_with_view",
            "sessions_with_cart",
            "sessions_with_purchase",
            "cvr_session_to_purchase",
            "cvr_view_to_cart",
            "cvr_cart_to_purchase",
        ),
        extras=_same("sessions_with_view_and_cart", "sessions_with_cart_and_purchase"),
    ),
    "cohort": ReportLayout(
        table="kpi.mart_rr_cohort_weekly",
        order=("cohort_type", "cohort_week", "week_index"),
        original=_same("cohort_week", "week_index", "cohort_size", "active_visitors", "retention_rate"),
        extras=_same("kpi_date", "cohort_type", "activity_week"),
    ),
    "crm": ReportLayout(
        table="kpi.mart_rr_crm_targets_daily",
        order=("segment_name", "segment_rank"),
        original=(
            ("kpi_date", "kpi_date"),
            ("visitor_id", "visitor_id"),
            ("segment_name", "segment_name"),
            ("evidence", _crm_evidence),
        ),
        extras=(
            *_same(
                "segment_rank",
                "window_start_date",
                "window_end_date",
                "view_count",
                "addtocart_count",
                "transaction_count",
                "last_event_at_kst",
                "focus_item_id",
                "focus_item_event_type",
                "focus_item_root_category_id",
                "evidence_strength",
                "segment_size_before_cap",
            ),
            ("evidence_text", "evidence"),  # our prose evidence
        ),
        # the original's evidence quotes the time of the last add-to-cart of D (cart abandoners)
        # and of the last purchase up to D (repeat buyers): columns of the mart, checked there
        inputs=("last_cart_at_kst", "last_purchase_at_kst"),
    ),
}

# what the summary's "Rows for D" counts: the layers from kpi.mart_rr_layer_rows_daily (built and
# checked like every number), then the rows of each report table read
LAYER_ROWS = (
    ("raw.raw_rr_events", "raw_events"),
    ("exact duplicates removed", "duplicate_events_removed"),
    ("staging.stg_rr_events", "staged_events"),
    ("mart.fact_rr_events", "fact_events"),
    ("mart.fact_rr_sessions", "fact_sessions"),
    ("mart.fact_rr_visitor_daily", "visitor_days"),
)
LAYER_ROWS_TABLE = "kpi.mart_rr_layer_rows_daily"
CATEGORY_TABLE = "kpi.mart_rr_funnel_category_daily"


# lines of the summary that name the run or the load (they differ between two runs on the same data)
VOLATILE_SUMMARY_LABELS = (
    "pipeline run id",
    "checked by dbt invocation",
    "checked at",
    "airflow run id",
    "raw load",
)


# ... and the key=value lines that do
VOLATILE_SUMMARY_KEYS = ("run_id",)

# the original project's summary: its key=value lines, its sections, the funnel keys it lists
ORIGINAL_FUNNEL_KEYS = (
    "kpi_date",
    "visitors",
    "sessions",
    "views",
    "addtocarts",
    "purchases",
    "cvr_session_to_purchase",
    "cvr_view_to_cart",
    "cvr_cart_to_purchase",
)


def stable_summary_lines(summary: str, *also: str) -> list[str]:
    """The summary's lines without those that name the run or the load (:data:`VOLATILE_SUMMARY_LABELS`,
    :data:`VOLATILE_SUMMARY_KEYS` and ``also``): what two runs on the same data must write identically."""
    labels = (*VOLATILE_SUMMARY_LABELS, *also)
    return [
        line
        for line in summary.splitlines()
        if not any(re.match(re.escape(label) + r"(\s|$)", line.strip()) for label in labels)
        and not any(line.startswith(f"{key}=") for key in VOLATILE_SUMMARY_KEYS)
    ]


class ExportError(RuntimeError):
    """The reports of a date cannot be produced."""


class GateRefusal(ExportError):
    """The date is not certified (or was never built): no report."""

    def __init__(self, target_date: dt.date, reasons: list[str]):
        self.target_date = target_date
        self.reasons = reasons
        super().__init__(
            f"no report for {target_date.isoformat()}: " + "; ".join(reasons)
            if reasons
            else f"no report for {target_date.isoformat()}"
        )


@dataclass
class ReportFile:
    path: Path
    rows: int | None
    sha256: str


@dataclass
class ExportResult:
    target_date: dt.date
    files: list[ReportFile]
    certification: Certification
    funnel: dict[str, Any]
    # temporary files that killed exports had left in the folder, removed before this one wrote
    swept: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files]

    @property
    def html(self) -> Path:
        """The HTML page of the date."""
        return next(f.path for f in self.files if f.path.suffix == ".html")


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


# -----------------------------------------------------------------------------------------------
# the data
# -----------------------------------------------------------------------------------------------
def _layer_counts(
    wh: Warehouse,
    d: dt.date,
    rows_read: RowsRead,
    tables: dict[str, tuple[list[str], list[tuple]]],
    categories: int,
) -> list[tuple[str, int]]:
    """The summary's "Rows for D": each layer's rows of D (kpi.mart_rr_layer_rows_daily), then the
    rows of each report table read."""
    names, rows = wh.query_with_columns(f"select * from {LAYER_ROWS_TABLE} where kpi_date = %s", (d,))
    found = [dict(zip(names, values, strict=True)) for values in rows]
    rows_read.read(LAYER_ROWS_TABLE, [d], [(d, r[FINGERPRINT_COLUMN]) for r in found])
    if not found:
        raise GateRefusal(d, [f"{LAYER_ROWS_TABLE} shows no row for {d.isoformat()} (it was never built)"])
    row = found[0]
    counts = [(label, row[column]) for label, column in LAYER_ROWS]
    counts += [
        (REPORT_LAYOUTS["funnel"].table, len(tables["funnel"][1])),
        (CATEGORY_TABLE, categories),
        (REPORT_LAYOUTS["cohort"].table, len(tables["cohort"][1])),
        (REPORT_LAYOUTS["crm"].table, len(tables["crm"][1])),
    ]
    return [(name, int(n)) for name, n in counts]


def _crm_sizes(crm: tuple[list[str], list[tuple]]) -> list[tuple[str, int, int]]:
    """Per segment: its size before the cap and its rows after it, from the CRM rows read."""
    columns, rows = crm
    segment, before_cap = columns.index("segment_name"), columns.index("segment_size_before_cap")
    found: dict[str, tuple[int, int]] = {}
    for row in rows:
        before, after = found.get(row[segment], (0, 0))
        found[row[segment]] = (max(before, int(row[before_cap])), after + 1)
    return [(s, *found.get(s, (0, 0))) for s in (*SEGMENTS, *sorted(set(found) - set(SEGMENTS)))]


def _render_summary(
    settings: Settings,
    d: dt.date,
    cert: Certification,
    funnel: dict[str, Any],
    layers: list[tuple[str, int]],
    crm: list[tuple[str, int, int]],
    csv_files: list[ReportFile],
    airflow_run_id: str | None,
    checks: list[GateTestResult],
    coverage: Coverage,
    session_rule: str,
) -> bytes:
    """The summary (see the module doc). Every text that comes from outside the export (run ids,
    the window's note) is written through rules.one_line: no value can start a line of its own."""
    width = 36
    lines = [
        "RetailRocket KPI pipeline summary",
        "=================================",
        f"{'target date':<{width}}{d.isoformat()}",
        f"{'warehouse':<{width}}{one_line(settings.describe())}",
        f"{'pipeline run id':<{width}}{one_line(str(cert.pipeline_run_id))}",
    ]
    if airflow_run_id:
        lines.append(f"{'airflow run id':<{width}}{one_line(airflow_run_id)}")
    lines += [
        "",
        "Funnel (kpi.mart_rr_funnel_daily)",
    ]
    lines += [f"  {name:<{width - 2}}{format_value(value)}" for name, value in funnel.items()]
    lines += ["", f"Rows for {d.isoformat()}"]
    lines += [f"  {name:<{width - 2}}{n}" for name, n in layers]
    lines += ["", "CRM targets (segment size before the cap -> rows after the cap)"]
    lines += [f"  {name:<{width - 2}}{before} -> {after}" for name, before, after in crm]
    loaded = "" if cert.raw_loaded_at is None else f" at {format_value(cert.raw_loaded_at)} UTC"
    lines += [
        "",
        "Certification (qa.rr_date_certification)",
        f"  {'status':<{width - 2}}{'CERTIFIED' if cert.certified else 'NOT CERTIFIED'}",
        f"  {'definitions':<{width - 2}}v{cert.definitions_version} (sha256 {cert.definitions_sha256})",
        f"  {'session rule':<{width - 2}}{one_line(session_rule)}",
        f"  {'checked window':<{width - 2}}{one_line(cert.window_text())}",
        f"  {'raw load':<{width - 2}}{cert.raw_load_id}{loaded} (dates it changed: {cert.raw_changes})",
        f"  {'raw coverage':<{width - 2}}{coverage.state}: {coverage.message}",
        f"  {'checked at':<{width - 2}}{format_value(cert.checked_at)} UTC",
        f"  {'checked by dbt invocation':<{width - 2}}{cert.invocation_id}",
        "",
        "Quality gates (tests of the complete set: expected / ran / passed)",
    ]
    for gate in cert.gates:
        lines.append(f"  {gate.gate:<18}{gate.status:<11}{gate.describe()}")
    for name, model, failures in cert.warnings:
        rows = "" if failures is None else f": {failures} rows"
        lines.append(f"      warn    {name} on {model or '?'}{rows}")
    lines += ["", "Report files"]
    for f in csv_files:
        lines.append(f"  {f.path.name:<{width + 4}}rows {f.rows:<8}sha256 {f.sha256}")
    lines += [
        "",
        *_original_summary_lines(
            airflow_run_id or cert.pipeline_run_id, d, funnel, checks, cert, session_rule
        ),
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _original_summary_lines(
    run_id: str | None,
    d: dt.date,
    funnel: dict[str, Any],
    checks: list[GateTestResult],
    cert: Certification,
    session_rule: str,
) -> list[str]:
    """The original project's summary, exactly ``key=value`` lines: run id, target date, the
    definitions the date was certified under (version, sha256, the session rule in words), the
    ``[rr_funnel_daily]`` section (the funnel CSV's values) and the ``[quality_checks]`` section,
    one ``<test>=<PASS|FAIL> (rows=N)`` per gate test the certification counted (a test that
    warned passed the gate: PASS, its rows counted). Written last, after our readable layout,
    whose lines carry no section header: a reader of the original's key=value lines finds its
    keys and only its checks in the sections. A value is one line (rules.one_line)."""
    lines = [
        f"run_id={one_line(run_id or '')}",
        f"target_date={d.isoformat()}",
        f"definitions_version={cert.definitions_version}",
        f"definitions_sha256={cert.definitions_sha256}",
        f"session_rule={one_line(session_rule)}",
        "[rr_funnel_daily]",
    ]
    lines += [f"{key}={format_value(funnel[key])}" for key in ORIGINAL_FUNNEL_KEYS]
    lines.append("[quality_checks]")
    for check in checks:
        status = "PASS" if check.status in ("pass", "warn") else "FAIL"
        lines.append(f"{check.name}={status} (rows={check.failures or 0})")
    return lines


def _require_counted_checks(cert: Certification, checks: list[GateTestResult]) -> None:
    """The per-test results must be the ones the certification counted: as many per gate, all
    passed; else the summary would contradict the certification it shows."""
    counted = [(g.gate, g.expected, g.passed) for g in cert.gates]
    found = [
        (
            g.gate,
            sum(1 for c in checks if c.gate == g.gate),
            sum(1 for c in checks if c.gate == g.gate and c.status in ("pass", "warn")),
        )
        for g in cert.gates
    ]
    if found != counted or len(checks) != sum(g.expected for g in cert.gates):
        raise ExportError(
            f"the gate tests' results of {cert.date.isoformat()} do not match its certification "
            f"(per gate: tests, passed): {found} != {counted}"
        )


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
        tmp = self.out_dir / temp_name(name)
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
        for path in [tmp for tmp, _final in self.pending] + self.committed:
            # the folder may have gone read-only meanwhile: the caller reports the first error
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        self.pending, self.committed = [], []


def export_reports(
    settings: Settings,
    target_date: dt.date,
    out_dir: Path | None = None,
    *,
    airflow_run_id: str | None = None,
) -> ExportResult:
    """Write the reports of ``target_date``; raise :class:`GateRefusal` unless it is certified,
    its rows are those its gates checked and the installed dbt is the locked one (the reports of
    the date already in the folder are then left as they are)."""
    try:
        parse_free_text(airflow_run_id, "the Airflow run id", PIPELINE_RUN_ID_MAX)
    except FreeTextError as exc:
        raise ExportError(str(exc)) from None
    out_dir = Path(out_dir) if out_dir is not None else settings.root / "logs" / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    swept = sweep_abandoned(out_dir)
    if swept:
        logging.getLogger(__name__).warning(
            "removed %d temporary file(s) that killed exports left in %s: %s",
            len(swept),
            out_dir,
            "; ".join(t.describe() for t in swept),
        )
    names = report_names(target_date)
    writer = _AtomicWriter(out_dir)
    try:
        _require_locked_versions(settings, target_date)
        with connect(settings, create=False) as wh, wh.snapshot():
            cert = certification(wh, target_date)
            if not cert.certified:
                raise GateRefusal(target_date, [cert.refusal])
            version = history_version(wh)
            rows_read = RowsRead()
            tables = read_report_tables(wh, target_date, rows_read)
            _require_published(target_date, tables["funnel"][1], tables["cohort"][1])
            crm = _crm_sizes(tables["crm"])
            checks = gate_test_results(wh, cert)
            raw = read_raw_status(wh)
            if raw is None:
                raise GateRefusal(target_date, ["no raw events are loaded"])
            coverage = raw.coverage(target_date)  # complete, or partial (the first/last day)
            _require_counted_checks(cert, checks)
            page_data = read_page_data(wh, target_date, tables, crm, cert, raw, rows_read)
            layers = _layer_counts(wh, target_date, rows_read, tables, page_data.category_count)
            texts = definition_texts(wh, str(cert.definitions_sha256))
            changed = rows_read.changed(wh)
            if changed:
                raise GateRefusal(target_date, changed)
            # without a snapshot (Spark), a dbt run or a raw load may have written meanwhile: the
            # rows read would then mix two states, and the certification read first may not hold
            if history_version(wh) != version:
                raise GateRefusal(
                    target_date,
                    [
                        "the warehouse changed while the report was read (a dbt run or a raw load): export again"
                    ],
                )
        if not texts:
            raise GateRefusal(
                target_date,
                [
                    f"no texts are recorded for the definitions v{cert.definitions_version} it was certified under"
                ],
            )
        csv_files = []
        for key, (columns, rows) in tables.items():
            data = render_csv(columns, rows)
            path = writer.write(names[key], data)
            csv_files.append(ReportFile(path, len(rows), hashlib.sha256(data).hexdigest()))
        session_rule = texts.get(("rule", "session_rule"), "unknown")
        page = render_html(page_data, catalogue_from_definitions(texts), session_rule)
        html_path = writer.write(names["html"], page)
        funnel_columns, funnel_rows = tables["funnel"]
        funnel = dict(zip(funnel_columns, funnel_rows[0], strict=True))
        summary = _render_summary(
            settings,
            target_date,
            cert,
            funnel,
            layers,
            crm,
            csv_files,
            airflow_run_id,
            checks,
            coverage,
            session_rule,
        )
        summary_path = writer.write(names["summary"], summary)
        files = [
            *csv_files,
            ReportFile(html_path, None, hashlib.sha256(page).hexdigest()),
            ReportFile(summary_path, None, hashlib.sha256(summary).hexdigest()),
        ]
        manifest = render_manifest(
            {f.path.name: data for f, data in zip(files, _written(writer), strict=True)},
            report_date=target_date,
        )
        manifest_path = writer.write(manifest_name(target_date), manifest)
        writer.commit()
    except BaseException:
        # nothing half-written; the reports of the date already in the folder stay as they were
        writer.abort()
        raise
    files.append(ReportFile(manifest_path, None, hashlib.sha256(manifest).hexdigest()))
    return ExportResult(target_date, files, cert, funnel, [t.describe() for t in swept])


def _written(writer: _AtomicWriter) -> list[bytes]:
    """The bytes of the files the writer holds, in the order written (the manifest hashes them)."""
    return [tmp.read_bytes() for tmp, _final in writer.pending]


def _require_locked_versions(settings: Settings, target_date: dt.date) -> None:
    """The installed dbt-core, adapter and dbt packages must be those the definitions lock pins
    (dbt cannot check them from inside a run: docs block rr_definitions)."""
    lock = read_lock()
    if lock is None:
        raise GateRefusal(target_date, ["there is no definitions lock (make lock-definitions)"])
    problems = version_problems(lock, settings.target)
    if problems:
        raise GateRefusal(
            target_date, [f"not the locked versions: {'; '.join(problems)} (make lock-definitions)"]
        )


def export_dates(
    settings: Settings,
    dates: Sequence[dt.date],
    out_dir: Path | None = None,
    *,
    airflow_run_id: str | None = None,
) -> tuple[list[ExportResult], list[GateRefusal]]:
    """:func:`export_reports` for each date of a ranged run, in order: (written, refused).

    Each date's reports stand on that date's own certification, so a date that is not certified
    refuses only its own reports; the certified dates' are written. The caller fails the run when anything was refused. Any other error stops at once.
    """
    written: list[ExportResult] = []
    refused: list[GateRefusal] = []
    for d in dates:
        try:
            written.append(export_reports(settings, d, out_dir, airflow_run_id=airflow_run_id))
        except GateRefusal as exc:
            refused.append(exc)
    return written, refused


def read_report_tables(
    wh: Warehouse, target_date: dt.date, rows_read: RowsRead | None = None
) -> dict[str, tuple[list[str], list[tuple]]]:
    """The rows of the three CSVs of ``target_date`` from schema kpi (certified dates only), in
    the reports' columns and order (:data:`REPORT_LAYOUTS`): {"funnel" | "cohort" | "crm": (columns,
    rows)}; the rows' fingerprints go to ``rows_read``."""
    rows_read = rows_read if rows_read is not None else RowsRead()
    return {key: _read_report(wh, layout, target_date, rows_read) for key, layout in REPORT_LAYOUTS.items()}


def _read_report(
    wh: Warehouse, layout: ReportLayout, d: dt.date, rows_read: RowsRead
) -> tuple[list[str], list[tuple]]:
    order = ", ".join(f"report.{column}" for column in layout.order)
    names, rows = wh.query_with_columns(
        f"select report.* from {layout.table} as report where report.kpi_date = %s order by {order}", (d,)
    )
    placed = {source for _, source in (*layout.original, *layout.extras) if isinstance(source, str)}
    unplaced = [c for c in names if c not in placed and c not in layout.inputs and c != FINGERPRINT_COLUMN]
    if unplaced:  # never drop a published column silently: give it a place in the layout
        raise ExportError(
            f"{layout.table} has columns the report layout does not place: {', '.join(unplaced)}"
        )
    sources = [source for _, source in (*layout.original, *layout.extras)]
    found = [dict(zip(names, values, strict=True)) for values in rows]
    rows_read.read(layout.table, [d], [(d, row[FINGERPRINT_COLUMN]) for row in found])
    return layout.columns, [tuple(s(row) if callable(s) else row[s] for s in sources) for row in found]


def _require_published(target_date: dt.date, funnel_rows: list[tuple], cohort_rows: list[tuple]) -> None:
    """A certified date is published; if schema kpi still shows nothing, refuse rather than guess."""
    d = target_date.isoformat()
    if not funnel_rows:
        raise GateRefusal(
            target_date, [f"kpi.mart_rr_funnel_daily shows no row for {d} (it was never built)"]
        )
    if not cohort_rows:
        raise GateRefusal(target_date, [f"kpi.mart_rr_cohort_weekly shows no cohort as of {d}"])
