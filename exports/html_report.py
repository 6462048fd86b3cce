"""The daily report as one HTML page: ``rr_report_<D>.html``, written by :func:`exports.report.export_reports`.

One self-contained file (no script, font, style sheet or image from elsewhere: it opens offline
and prints), drawn from the same snapshot of schema ``kpi`` (certified dates only) as the CSVs:

- the headline: visitors, sessions, purchases and the three conversion rates of D, each with its
  change against D - 1 and its trailing 7-day value, and the badge of the certification (gates,
  tests expected / ran / passed, the raw load it describes);
- the session funnel of D as a chart with the conversion rates the catalogue defines;
- the three rates over the last 8 weeks: daily values and the 7-day value (summed numerators over
  summed denominators, :func:`exports.catalogue.ratio`), the partial days of the data marked;
- the weekly cohort retention as two heat maps; the category funnel of D (top root categories
  by sessions) as a table with inline bars; the CRM segments' sizes and a short sample;
- the definitions: every number links to its docs block and shows it on hover, in the texts the
  dbt project recorded for the definitions version the date was certified under (named on the
  page, with its sha256; :func:`exports.catalogue.catalogue_from_definitions`), never today's
  files; trend points certified under another version are marked, and a comparison across
  versions says so.

The charts are matplotlib figures saved as SVG and inlined. Why matplotlib: the page must open
offline, stay small and be byte-identical for the same data. Plotly inlines about 4.6 MB of
JavaScript per page; Vega-Altair needs either the Vega JavaScript inlined (about 1 MB) or
vl-convert, a 30+ MB binary wheel with its own JavaScript engine, to get static SVG. matplotlib
(Agg, no display) writes static SVG with the text kept as text (``svg.fonttype='none'``: a few
kB per chart, crisp in print), and is deterministic once its two variable parts are fixed: the
ids it hashes (``svg.hashsalt``) and the date in the metadata (``metadata={'Date': None}``).
The only timestamps on the page are those of the data and the certification (the raw load).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exports.catalogue import Catalogue, doc_html, doc_text, ratio
from exports.certification import Certification, certification
from exports.rows import FINGERPRINT_COLUMN, RowsRead
from seeds_loader.status import PARTIAL, RawStatus
from seeds_loader.warehouse import Warehouse

FUNNEL_MODEL = "mart_rr_funnel_daily"
CATEGORY_MODEL = "mart_rr_funnel_category_daily"
TREND_DAYS = 56  # 8 weeks up to D
TRAILING_DAYS = 7
TOP_CATEGORIES = 12
CRM_SAMPLE_ROWS = 5
# the headline, in order: funnel columns (counts, then the three ratio metrics)
HEADLINE_COUNTS = ("visitors", "sessions", "purchases")
RATES = ("cvr_session_to_purchase", "cvr_view_to_cart", "cvr_cart_to_purchase")
FUNNEL_STEPS = ("sessions", "sessions_with_view", "sessions_with_cart", "sessions_with_purchase")
TEMPLATE = Path(__file__).parent / "templates" / "report.html.j2"

# chart colours (colour-blind safe: Okabe-Ito), and the one style of every chart
BLUE, ORANGE, GREEN, GREY, VERMILION = "#0072B2", "#E69F00", "#009E73", "#999999", "#D55E00"
RATE_COLOURS = dict(zip(RATES, (BLUE, ORANGE, GREEN), strict=True))
MPL_STYLE = {
    "svg.fonttype": "none",  # text stays text: small, searchable, crisp in print
    "svg.hashsalt": "rr-report",  # stable ids: the same data gives the same bytes
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
}


@dataclass(frozen=True)
class PageData:
    """Everything the page shows, read in the export's snapshot (schema kpi: certified dates only)."""

    target_date: dt.date
    funnel: dict[str, Any]  # the funnel row of D (the funnel CSV's row)
    history: dict[dt.date, dict[str, Any]]  # published funnel rows of the trend window and the 7 days before
    previous_refusal: str | None  # why D - 1 has no published row (None: it has one)
    categories: list[dict[str, Any]]  # the top root categories of D by sessions
    category_count: int
    cohort: tuple[list[str], list[tuple]]  # the cohort CSV's columns and rows
    crm: tuple[list[str], list[tuple]]  # the CRM CSV's columns and rows
    crm_sizes: list[tuple[str, int, int]]  # (segment, before the cap, after the cap)
    certification: Certification
    partial_days: frozenset[dt.date]  # days of the window the raw data cover in part
    raw_first_date: dt.date
    raw_last_date: dt.date
    # the definitions version each published date of the trend was certified under
    definitions: dict[dt.date, int | None]


def read_page_data(
    wh: Warehouse,
    target_date: dt.date,
    tables: dict[str, tuple[list[str], list[tuple]]],
    crm_sizes: list[tuple[str, int, int]],
    cert: Certification,
    raw: RawStatus,
    rows_read: RowsRead,
) -> PageData:
    """The page's data of ``target_date``, inside the export's snapshot; the fingerprints of the
    rows it reads go to ``rows_read`` (every certified date of the trend is expected: a row
    deleted after its checks is refused, not drawn as a gap)."""
    first = target_date - dt.timedelta(days=TREND_DAYS + TRAILING_DAYS - 2)
    names, rows = wh.query_with_columns(
        f"select * from kpi.{FUNNEL_MODEL} where kpi_date between %s and %s order by kpi_date",
        (first, target_date),
    )
    read = [dict(zip(names, row, strict=True)) for row in rows]
    history = {r["kpi_date"]: {k: v for k, v in r.items() if k != FINGERPRINT_COLUMN} for r in read}
    definitions = {
        d: (None if version is None else int(version))
        for d, version in wh.query(
            "select kpi_date, definitions_version from qa.rr_date_certification "
            "where is_certified and kpi_date between %s and %s",
            (first, target_date),
        )
    }
    rows_read.read(f"kpi.{FUNNEL_MODEL}", definitions, [(r["kpi_date"], r[FINGERPRINT_COLUMN]) for r in read])
    previous = target_date - dt.timedelta(days=1)
    previous_refusal = None if previous in history else certification(wh, previous).refusal
    names, rows = wh.query_with_columns(
        f"select * from kpi.{CATEGORY_MODEL} where kpi_date = %s order by sessions desc, root_category_id",
        (target_date,),
    )
    read = [dict(zip(names, row, strict=True)) for row in rows]
    rows_read.read(
        f"kpi.{CATEGORY_MODEL}", [target_date], [(target_date, r[FINGERPRINT_COLUMN]) for r in read]
    )
    categories = [{k: v for k, v in r.items() if k != FINGERPRINT_COLUMN} for r in read]
    funnel_columns, funnel_rows = tables["funnel"]
    window = [target_date - dt.timedelta(days=i) for i in range(TREND_DAYS)]
    return PageData(
        target_date=target_date,
        funnel=dict(zip(funnel_columns, funnel_rows[0], strict=True)),
        history=history,
        previous_refusal=previous_refusal,
        categories=categories[:TOP_CATEGORIES],
        category_count=len(categories),
        cohort=tables["cohort"],
        crm=tables["crm"],
        crm_sizes=crm_sizes,
        certification=cert,
        partial_days=frozenset(d for d in window if raw.coverage(d).state == PARTIAL),
        raw_first_date=raw.first_event_date,
        raw_last_date=raw.last_event_date,
        definitions=definitions,
    )


# -----------------------------------------------------------------------------------------------
# numbers
# -----------------------------------------------------------------------------------------------
def trailing(history: dict[dt.date, dict[str, Any]], end: dt.date, column: str) -> tuple[int, int]:
    """(sum of ``column``, days summed) over the published days of ``end - 6 .. end``."""
    days = [history[d] for d in (end - dt.timedelta(days=i) for i in range(TRAILING_DAYS)) if d in history]
    return sum(int(row[column]) for row in days), len(days)


def trailing_rate(
    history: dict[dt.date, dict[str, Any]], end: dt.date, catalogue: Catalogue, metric: str
) -> tuple[float | None, int]:
    """The ratio metric over ``end - 6 .. end``: summed numerators over summed denominators."""
    m = catalogue.ratios[metric]
    numerator, days = trailing(history, end, m.numerator)
    denominator, _ = trailing(history, end, m.denominator)
    return ratio(numerator, denominator), days


def fmt_count(value: int | None) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{float(value) * 100:.2f}%"


def fmt_share(value: float | None) -> str:
    """A rate as the CSVs write it (4 decimals)."""
    return "" if value is None else f"{float(value):.4f}"


def _signed(value: float, unit: str, decimals: int) -> str:
    text = f"{value:+,.{decimals}f}{unit}"
    return text.replace("-", "\u2212")


def _change(metric: str, today: Any, before: Any, is_rate: bool) -> tuple[str, str]:
    """The change against the day before as (text, direction)."""
    if today is None or before is None:
        return "n/a", "flat"
    diff = float(today) - float(before)
    direction = "up" if diff > 0 else "down" if diff < 0 else "flat"
    if is_rate:
        return _signed(diff * 100, " pp", 2), direction
    share = ratio(diff, before)
    relative = "" if share is None else f" ({_signed(share * 100, '%', 1)})"
    return _signed(diff, "", 0) + relative, direction


def other_definitions(data: PageData, days: list[dt.date]) -> list[int | None]:
    """The definitions versions, other than the target date's, that these published days were
    certified under (a comparison across them compares two definitions, and says so)."""
    own = data.certification.definitions_version
    return sorted(
        {data.definitions.get(d) for d in days if d in data.history and data.definitions.get(d) != own},
        key=lambda v: (v is None, v or 0),
    )


def headline(data: PageData, catalogue: Catalogue) -> list[dict[str, Any]]:
    d = data.target_date
    previous = data.history.get(d - dt.timedelta(days=1))
    own = data.certification.definitions_version
    previous_versions = other_definitions(data, [d - dt.timedelta(days=1)])
    trailing_versions = other_definitions(data, [d - dt.timedelta(days=i) for i in range(TRAILING_DAYS)])
    cards = []
    for metric in (*HEADLINE_COUNTS, *RATES):
        is_rate = metric in RATES
        value = data.funnel[metric]
        before = None if previous is None else previous[metric]
        if is_rate:
            seven, days = trailing_rate(data.history, d, catalogue, metric)
            seven_text = fmt_rate(seven)
            seven_raw = fmt_share(seven)
        else:
            total, days = trailing(data.history, d, metric)
            seven_text, seven_raw = fmt_count(total), str(total)
        change, direction = _change(metric, value, before, is_rate)
        cards.append(
            {
                "metric": metric,
                "label": catalogue.labels.get(metric, metric.replace("_", " ").capitalize()),
                "doc": catalogue.column_doc(FUNNEL_MODEL, metric),
                "is_rate": is_rate,
                "value": fmt_rate(value) if is_rate else fmt_count(value),
                "value_raw": fmt_share(value) if is_rate else str(value),
                "previous": None
                if previous is None
                else (fmt_rate(before) if is_rate else fmt_count(before)),
                "previous_raw": None if previous is None else (fmt_share(before) if is_rate else str(before)),
                "change": change,
                "direction": direction,
                "seven": seven_text,
                "seven_raw": seven_raw,
                "seven_days": days,
                "seven_label": "last 7 days" if is_rate else "7-day total",
                # a comparison across definitions versions, labelled as such
                "previous_definitions": _versions_note(own, previous_versions),
                "seven_definitions": _versions_note(own, trailing_versions),
            }
        )
    return cards


def _versions_note(own: int | None, others: list[int | None]) -> str | None:
    """'compares definitions v1 with v2' when other versions are in a comparison, else None."""
    if not others:
        return None
    names = ", ".join("unlocked" if v is None else f"v{v}" for v in others)
    return f"compares definitions v{own} with {names}"


# -----------------------------------------------------------------------------------------------
# charts: matplotlib figures as inline SVG
# -----------------------------------------------------------------------------------------------
def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig, chart_id: str, title: str) -> str:
    """The figure as an inline ``<svg>``: no XML prolog, ids prefixed by the chart's (several
    SVGs share one document), with an accessible title (the page's CSS scales it down to fit)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)  # RDF boilerplate
    svg = re.sub(r'\bid="', f'id="{chart_id}-', svg)
    svg = re.sub(r"url\(#", f"url(#{chart_id}-", svg)
    svg = re.sub(r'xlink:href="#', f'xlink:href="#{chart_id}-', svg)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)
    return svg.strip()


def _percent_axis(axis) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0, decimals=None))


def funnel_chart(data: PageData, catalogue: Catalogue) -> str:
    f = data.funnel
    labels = ["Sessions", "with a view", "with a cart", "with a purchase"]
    counts = [int(f[step]) for step in FUNNEL_STEPS]
    fig = _figure(10.0, 2.2)
    ax = fig.subplots()
    y = list(range(len(counts)))[::-1]
    ax.barh(y, counts, color=[GREY, BLUE, ORANGE, GREEN], height=0.62)
    ax.set_yticks(y, labels)
    ax.set_xlim(0, max(counts + [1]) * 1.55)
    ax.xaxis.set_visible(False)
    ax.spines["bottom"].set_visible(False)
    notes = {
        2: f"view-to-cart {fmt_rate(f['cvr_view_to_cart'])}",
        3: f"cart-to-purchase {fmt_rate(f['cvr_cart_to_purchase'])} · "
        f"session conversion {fmt_rate(f['cvr_session_to_purchase'])}",
    }
    for i, (yy, n) in enumerate(zip(y, counts, strict=True)):
        text = f"{n:,}" + (f"   {notes[i]}" if i in notes else "")
        ax.annotate(text, (n, yy), xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_title(f"Session funnel of {data.target_date.isoformat()}")
    return _svg(fig, "funnel-chart", "the session funnel of the day")


def trend_series(data: PageData, catalogue: Catalogue) -> list[dict[str, Any]]:
    """Per day of the 8-week window: each rate's daily value and 7-day value (None when unpublished)."""
    out = []
    for i in range(TREND_DAYS - 1, -1, -1):
        day = data.target_date - dt.timedelta(days=i)
        row = data.history.get(day)
        point: dict[str, Any] = {
            "date": day,
            "partial": day in data.partial_days,
            "published": row is not None,
            # the definitions version the day was certified under, when not the target date's
            "other_definitions": bool(other_definitions(data, [day])),
        }
        for metric in RATES:
            point[metric] = None if row is None else row[metric]
            point[f"{metric}_7d"] = trailing_rate(data.history, day, catalogue, metric)[0] if row else None
        out.append(point)
    return out


def trend_chart(data: PageData, catalogue: Catalogue, series: list[dict[str, Any]]) -> str:
    import matplotlib.dates as mdates

    fig = _figure(10.0, 5.4)
    axes = fig.subplots(len(RATES), 1, sharex=True)
    days = [p["date"] for p in series]
    for ax, metric in zip(axes, RATES, strict=True):
        colour = RATE_COLOURS[metric]
        for day in sorted(data.partial_days):
            ax.axvspan(
                day - dt.timedelta(hours=12),
                day + dt.timedelta(hours=12),
                color=GREY,
                alpha=0.25,
                hatch="///",
                lw=0,
                label="partial day of the data",
            )
        daily = [float("nan") if p[metric] is None else p[metric] for p in series]
        seven = [float("nan") if p[f"{metric}_7d"] is None else p[f"{metric}_7d"] for p in series]
        ax.plot(days, daily, color=colour, lw=0.8, alpha=0.55, marker="o", ms=2.5, label="daily")
        ax.plot(days, seven, color=colour, lw=2.2, label="7 days (summed numerators / denominators)")
        other = [(p["date"], p[metric]) for p in series if p["other_definitions"] and p[metric] is not None]
        if other:
            ax.plot(
                [day for day, _ in other],
                [value for _, value in other],
                linestyle="none",
                marker="X",
                ms=7,
                color=VERMILION,
                label=f"certified under other definitions than v{data.certification.definitions_version}",
            )
        ax.set_title(catalogue.labels[metric], fontsize=9)
        _percent_axis(ax.yaxis)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper left", frameon=False, ncols=3)
    axes[-1].xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    axes[-1].set_xlim(days[0] - dt.timedelta(days=1), days[-1] + dt.timedelta(days=1))
    fig.suptitle(
        f"Conversion rates, {days[0].isoformat()} .. {days[-1].isoformat()} (weeks start on Monday)",
        x=0.01,
        ha="left",
        fontsize=10,
        fontweight="bold",
    )
    return _svg(fig, "trend-chart", "the three conversion rates over eight weeks")


def cohort_matrix(data: PageData, cohort_type: str) -> tuple[list[dt.date], int, dict[tuple[int, int], dict]]:
    columns, rows = data.cohort
    cells = [
        dict(zip(columns, r, strict=True)) for r in rows if r[columns.index("cohort_type")] == cohort_type
    ]
    weeks = sorted({c["cohort_week"] for c in cells})
    width = 1 + max((int(c["week_index"]) for c in cells), default=0)
    return weeks, width, {(weeks.index(c["cohort_week"]), int(c["week_index"])): c for c in cells}


def cohort_chart(data: PageData, cohort_type: str, title: str) -> str:
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    weeks, width, cells = cohort_matrix(data, cohort_type)
    height = max(1, len(weeks))
    fig = _figure(10.0, 1.2 + 0.26 * height)
    ax = fig.subplots()
    ax.set_title(title)
    if not cells:
        ax.text(0.5, 0.5, "no cohort yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _svg(fig, f"cohort-{cohort_type}", title)
    later = [
        float(c["retention_rate"]) for (_, k), c in cells.items() if k > 0 and c["retention_rate"] is not None
    ]
    norm = Normalize(0, max(later + [0.01]))
    values = np.full((height, width), np.nan)
    for (i, k), c in cells.items():
        if k > 0 and c["retention_rate"] is not None:
            values[i, k] = float(c["retention_rate"])
    cmap = colormaps["Blues"]
    mesh = ax.pcolormesh(
        np.ma.masked_invalid(values), cmap=cmap, norm=norm, edgecolors="white", linewidth=0.5
    )
    for (i, k), c in cells.items():
        if k == 0:  # week 0 is the whole cohort by definition: its size, on grey
            ax.add_patch(_rectangle(k, i, "#e6e6e6"))
            ax.text(
                k + 0.5,
                i + 0.5,
                f"{int(c['cohort_size']):,}",
                ha="center",
                va="center",
                fontsize=7,
                in_layout=False,
            )
        elif c["retention_rate"] is not None and width <= 30:
            rate = float(c["retention_rate"])
            ink = "white" if norm(rate) > 0.6 else "#222222" if rate > 0 else "#aaaaaa"
            text = f"{rate * 100:.1f}" if rate > 0 else "0"
            ax.text(k + 0.5, i + 0.5, text, ha="center", va="center", fontsize=7, color=ink, in_layout=False)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_xticks([k + 0.5 for k in range(width)], [str(k) for k in range(width)], fontsize=8)
    ax.set_yticks([i + 0.5 for i in range(len(weeks))], [w.isoformat() for w in weeks], fontsize=8)
    ax.xaxis.set_ticks_position("top")
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("week index (0 = the cohort week: its size; then % of the cohort active)", fontsize=8)
    ax.set_ylabel("cohort week (Monday)", fontsize=8)
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    colourbar = fig.colorbar(mesh, ax=ax, shrink=0.8, pad=0.01, fraction=0.03)
    _percent_axis(colourbar.ax.yaxis)
    colourbar.ax.tick_params(labelsize=7)
    return _svg(fig, f"cohort-{cohort_type}", title)


def _rectangle(x: float, y: float, colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 1, facecolor=colour, edgecolor="white", linewidth=0.5)


# -----------------------------------------------------------------------------------------------
# the page
# -----------------------------------------------------------------------------------------------
def _category_rows(data: PageData, catalogue: Catalogue) -> list[dict[str, Any]]:
    top = max([int(c["sessions"]) for c in data.categories] + [1])
    rows = []
    for c in data.categories:
        rows.append(
            {
                "root_category_id": c["root_category_id"],
                "name": "unknown category" if c["is_unknown_category"] else f"root {c['root_category_id']}",
                "bar": f"{100 * int(c['sessions']) / top:.1f}",
                "cells": [
                    (column, catalogue.column_doc(CATEGORY_MODEL, column), _cell(column, c[column]))
                    for column in (
                        "sessions",
                        "visitors",
                        "sessions_with_view",
                        "sessions_with_cart",
                        "sessions_with_purchase",
                        "purchases",
                        *RATES,
                    )
                ],
            }
        )
    return rows


def _cell(column: str, value: Any) -> dict[str, str]:
    if column in RATES:
        return {"text": fmt_rate(value), "raw": fmt_share(value)}
    return {"text": fmt_count(value), "raw": str(value)}


def _crm(data: PageData) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from exports.report import format_value

    columns, rows = data.crm
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    sizes = [{"segment": s, "before": before, "after": after} for s, before, after in data.crm_sizes]
    sample = []
    for segment, _, _ in data.crm_sizes:
        for r in [r for r in records if r["segment_name"] == segment][:CRM_SAMPLE_ROWS]:
            sample.append(
                {
                    "segment": segment,
                    "rank": format_value(r["segment_rank"]),
                    "visitor_id": format_value(r["visitor_id"]),
                    "strength": format_value(r["evidence_strength"]),
                    "evidence": format_value(r["evidence_text"]),
                }
            )
    return sizes, sample


def _definitions(catalogue: Catalogue, names: list[str]) -> list[dict[str, str]]:
    seen: list[str] = []
    for name in names:
        if name not in seen:
            seen.append(name)
    missing = [n for n in seen if n not in catalogue.docs]
    if missing:
        from exports.catalogue import CatalogueError

        raise CatalogueError(f"docs blocks missing from the dbt project: {', '.join(missing)}")
    return [
        {"name": n, "html": doc_html(catalogue.docs[n]), "text": doc_text(catalogue.docs[n])} for n in seen
    ]


def render_html(data: PageData, catalogue: Catalogue, session_rule: str) -> bytes:
    """The page of ``data`` with the definitions of ``catalogue`` (those the date was certified
    under) and the session rule in words (see the module doc): the same data gives the same bytes."""
    import jinja2
    from matplotlib import rc_context

    from exports.report import format_value

    cards = headline(data, catalogue)
    series = trend_series(data, catalogue)
    with rc_context(MPL_STYLE):
        charts = {
            "funnel": funnel_chart(data, catalogue),
            "trend": trend_chart(data, catalogue, series),
            "cohort_first_purchase": cohort_chart(
                data, "first_purchase", "First-purchase cohorts: share buying again, by week"
            ),
            "cohort_first_visit": cohort_chart(
                data, "first_visit", "First-visit cohorts: share returning, by week"
            ),
        }
    categories = _category_rows(data, catalogue)
    crm_sizes, crm_sample = _crm(data)
    cert = data.certification
    funnel_docs = {c: catalogue.column_doc(FUNNEL_MODEL, c) for c in data.funnel if c != "kpi_date"}
    definitions = _definitions(
        catalogue,
        [
            *(card["doc"] for card in cards),
            *funnel_docs.values(),
            "kpi_cohort_weekly",
            "kpi_crm_targets",
            "rr_session_rule",
            "rr_unknown_category",
            "rr_certification",
            "rr_asia_seoul",
        ],
    )
    tooltips = {d["name"]: d["text"] for d in definitions}
    machine = {
        "target_date": data.target_date.isoformat(),
        "certified": cert.certified,
        "raw_load_id": cert.raw_load_id,
        "definitions_version": cert.definitions_version,
        "definitions_sha256": cert.definitions_sha256,
        "headline": {
            c["metric"]: {
                "value": c["value_raw"],
                "previous": c["previous_raw"],
                "trailing_7d": c["seven_raw"],
                "trailing_days": c["seven_days"],
            }
            for c in cards
        },
        "funnel": {k: format_value(v) for k, v in data.funnel.items()},
        "categories": [
            {"root_category_id": r["root_category_id"], **{col: cell["raw"] for col, _, cell in r["cells"]}}
            for r in categories
        ],
        "category_count": data.category_count,
        "crm_segments": crm_sizes,
        "trend": [
            {
                "date": p["date"].isoformat(),
                "partial": p["partial"],
                "definitions_version": data.definitions.get(p["date"]),
                **{k: fmt_share(p[k]) if p["published"] else None for k in p if k.startswith("cvr_")},
            }
            for p in series
        ],
        "gates": [
            {"gate": g.gate, "status": g.status, "expected": g.expected, "ran": g.ran, "passed": g.passed}
            for g in cert.gates
        ],
    }
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE.parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    page = environment.get_template(TEMPLATE.name).render(
        d=data.target_date.isoformat(),
        cards=cards,
        charts={k: jinja2.utils.markupsafe.Markup(v) for k, v in charts.items()},
        funnel=data.funnel,
        funnel_docs=funnel_docs,
        fmt_count=fmt_count,
        fmt_rate=fmt_rate,
        fmt_share=fmt_share,
        previous_refusal=data.previous_refusal,
        categories=categories,
        category_count=data.category_count,
        crm_sizes=crm_sizes,
        crm_sample=crm_sample,
        cert=cert,
        tests=(
            sum(g.expected for g in cert.gates),
            sum(g.ran for g in cert.gates),
            sum(g.passed for g in cert.gates),
        ),
        loaded_at=None if cert.raw_loaded_at is None else format_value(cert.raw_loaded_at),
        partial_days=sorted(data.partial_days),
        d_is_partial=data.target_date in data.partial_days,
        raw_first=data.raw_first_date.isoformat(),
        raw_last=data.raw_last_date.isoformat(),
        definitions=definitions,
        session_rule=session_rule,
        other_trend_days=[p["date"].isoformat() for p in series if p["other_definitions"] and p["published"]],
        tooltips=tooltips,
        labels=catalogue.labels,
        machine=jinja2.utils.markupsafe.Markup(
            json.dumps(machine, indent=1, default=str).replace("</", "<\\/")
        ),
        top_categories=TOP_CATEGORIES,
        trend_days=TREND_DAYS,
    )
    return page.encode("utf-8")
