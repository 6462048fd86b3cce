"""The metric catalogue as the dbt project states it, read by the HTML report.

Nothing here defines a metric. The definitions are the ``{% docs %}`` blocks of the dbt project
(``models/**/_*__docs.md``), a column's definition is the docs block its description names in
the models' YAML (``{{ doc('kpi_sessions') }}``), and a conversion rate's numerator and
denominator are those of its ratio metric in the semantic layer (``models/kpi/_kpi__semantic.yml``).

Two ways to read them: :func:`catalogue_from_definitions` takes them from the texts the dbt
project recorded for the definitions a date was certified under (``qa.rr_definition_texts``,
docs block ``rr_definitions``): what the report of that date shows, whatever the files say
today. :func:`load_catalogue` reads today's files (the project site's metrics page).

:func:`ratio` is the Python side of the dbt macro ``rr_ratio`` (``macros/rr_ratio.sql``): a share
is the numerator over the denominator, null when the denominator is 0. The daily rates are read
from the KPI tables (computed there by ``rr_ratio``); the report only combines days, as the
semantic layer's ratio metrics do: ``ratio(sum of numerators, sum of denominators)``, never an
average of daily rates.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

_DOCS_BLOCK = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.S)
_DOC_REF = re.compile(r"""{{\s*doc\(\s*['"](\w+)['"]\s*\)\s*}}""")


class CatalogueError(RuntimeError):
    """The dbt project's files do not say what the report needs."""


def ratio(numerator: float | int | None, denominator: float | int | None) -> float | None:
    """A share, as ``rr_ratio`` computes it in SQL: None when the denominator is 0 (or unknown)."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return float(numerator) / float(denominator)


@dataclass(frozen=True)
class RatioMetric:
    """A ratio metric of the semantic layer: its label and the columns of its two measures."""

    name: str
    label: str
    numerator: str
    denominator: str
    doc: str | None


@dataclass(frozen=True)
class Catalogue:
    """What the dbt project says about the KPI columns (see the module doc)."""

    docs: dict[str, str]  # docs block name -> its Markdown text
    columns: dict[str, dict[str, str]]  # model -> column -> docs block name
    ratios: dict[str, RatioMetric]  # metric name -> the ratio metric
    labels: dict[str, str]  # metric name -> label (simple and ratio metrics)

    def column_doc(self, model: str, column: str) -> str:
        """The docs block that defines ``model.column`` (an error when it names none)."""
        try:
            return self.columns[model][column]
        except KeyError:
            raise CatalogueError(
                f"{model}.{column} names no docs block in the models' YAML: the report shows no number "
                "without its definition"
            ) from None


def load_catalogue(dbt_dir: Path) -> Catalogue:
    """The catalogue of the dbt project in ``dbt_dir`` (cached per folder: the files do not change
    while a process runs)."""
    return _load(Path(dbt_dir).resolve())


@cache
def _load(dbt_dir: Path) -> Catalogue:
    models = dbt_dir / "models"
    if not models.is_dir():
        raise CatalogueError(f"{models} is missing: the report takes its definitions from the dbt project")
    docs: dict[str, str] = {}
    for path in sorted(models.rglob("*.md")):
        for name, text in _DOCS_BLOCK.findall(path.read_text(encoding="utf-8")):
            docs[name] = text.strip()
    columns: dict[str, dict[str, str]] = {}
    measures: dict[str, str] = {}  # measure name -> column (its expr, else its name)
    metric_measure: dict[str, str] = {}
    labels: dict[str, str] = {}
    raw_ratios: list[dict] = []
    for path in sorted(models.rglob("*.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in content.get("models") or []:
            for column in model.get("columns") or []:
                found = _DOC_REF.search(str(column.get("description") or ""))
                if found:
                    columns.setdefault(model["name"], {})[column["name"]] = found.group(1)
        for semantic in content.get("semantic_models") or []:
            for measure in semantic.get("measures") or []:
                measures.setdefault(measure["name"], str(measure.get("expr") or measure["name"]))
        for metric in content.get("metrics") or []:
            labels[metric["name"]] = metric.get("label") or metric["name"]
            if metric.get("type") == "simple":
                metric_measure[metric["name"]] = metric["type_params"]["measure"]
            elif metric.get("type") == "ratio":
                raw_ratios.append(metric)
    ratios = {}
    for metric in raw_ratios:
        params = metric["type_params"]
        try:
            numerator = measures[metric_measure[params["numerator"]]]
            denominator = measures[metric_measure[params["denominator"]]]
        except KeyError as exc:
            raise CatalogueError(f"ratio metric {metric['name']}: unknown metric or measure {exc}") from None
        found = _DOC_REF.search(str(metric.get("description") or ""))
        ratios[metric["name"]] = RatioMetric(
            metric["name"], labels[metric["name"]], numerator, denominator, found.group(1) if found else None
        )
    return Catalogue(docs, columns, ratios, labels)


def catalogue_from_definitions(texts: Mapping[tuple[str, str], str]) -> Catalogue:
    """The catalogue of one state of the definitions: ``texts`` maps (kind, name) to the entry
    texts the dbt project recorded (macro rr_definitions_current): ``doc`` entries (a docs block's
    text), ``column`` entries (``model.column`` -> JSON with its description and the docs blocks
    it names) and ``metric`` entries (JSON: label, type, numerator and denominator metrics, the
    columns of the measures it reads)."""
    docs = {name: text for (kind, name), text in texts.items() if kind == "doc"}
    columns: dict[str, dict[str, str]] = {}
    for (kind, name), text in texts.items():
        if kind == "column":
            blocks = json.loads(text).get("docs") or []
            if blocks:
                model, column = name.split(".", 1)
                columns.setdefault(model, {})[column] = blocks[0]
    metrics = {name: json.loads(text) for (kind, name), text in texts.items() if kind == "metric"}
    labels = {name: metric.get("label") or name for name, metric in metrics.items()}
    ratios = {}
    for name, metric in metrics.items():
        if metric.get("type") != "ratio":
            continue
        measures = metric.get("measures") or {}
        try:
            numerator = measures[metrics[metric["numerator"]]["measure"]]
            denominator = measures[metrics[metric["denominator"]]["measure"]]
        except KeyError as exc:
            raise CatalogueError(
                f"ratio metric {name}: unknown metric or measure {exc} in the recorded definitions"
            ) from None
        doc = next((c.get(name) for c in columns.values() if c.get(name)), None)
        ratios[name] = RatioMetric(name, labels[name], numerator, denominator, doc)
    return Catalogue(docs, columns, ratios, labels)


# -----------------------------------------------------------------------------------------------
# the docs blocks' Markdown, for a page: the small subset the blocks use
# -----------------------------------------------------------------------------------------------
def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<!\w)\*(\S.*?)\*(?!\w)", r"<em>\1</em>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def doc_html(markdown: str) -> str:
    """A docs block as HTML: paragraphs, ``- `` lists, **bold**, *italic* and `code`."""
    runs: list[tuple[str, list[str]]] = []  # ("p" | "ul", its paragraph lines or list items)
    for line in markdown.strip().splitlines():
        kind = runs[-1][0] if runs else None
        if not line.strip():
            runs.append(("", []))
        elif line.startswith("- "):
            if kind != "ul":
                runs.append(("ul", []))
            runs[-1][1].append(line[2:].strip())
        elif kind == "ul" and line.startswith("  "):
            runs[-1][1][-1] += " " + line.strip()
        else:
            if kind != "p":
                runs.append(("p", []))
            runs[-1][1].append(line.strip())
    out = []
    for kind, lines in runs:
        if kind == "p":
            out.append("<p>" + _inline(" ".join(lines)) + "</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in lines) + "</ul>")
    return "\n".join(out)


def doc_text(markdown: str) -> str:
    """A docs block as one line of plain text (a tooltip)."""
    text = re.sub(
        r"\*\*(.+?)\*\*|\*(\S.*?)\*|`([^`]+)`", lambda m: next(g for g in m.groups() if g), markdown
    )
    return " ".join(text.split())
