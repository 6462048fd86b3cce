"""The HTML report page: its numbers against the CSVs of the same export and the hand-checked
golden values, stable bytes, the refusal of an uncertified date, and a real render in headless
Chromium (no console errors, charts with marks, printable)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from html import unescape
from pathlib import Path

import pytest

import exports.report as report_module
from exports.catalogue import catalogue_from_definitions, doc_text, load_catalogue
from exports.certification import definition_texts
from exports.definitions import read_lock
from exports.report import GateRefusal, export_reports, report_names
from seeds_loader.load import load
from seeds_loader.warehouse import connect
from tests.browser_support import render
from tests.dbt_support import ROOT, run_dbt
from tests.golden_data import write_golden_files

pytestmark = pytest.mark.slow

D = dt.date(2015, 9, 15)
FIRST = dt.date(2015, 9, 8)  # the golden data's first date (partial: its first event is at 10:00)
MAX_BYTES = 1_500_000


@pytest.fixture(scope="module")
def golden(new_warehouse, tmp_path_factory):
    data_dir = write_golden_files(tmp_path_factory.mktemp("golden_html") / "raw")
    settings = new_warehouse("duckdb")
    load(settings, data_dir, progress=False)
    target_path = tmp_path_factory.mktemp("target_html")
    run_dbt(settings, "build", target_path=target_path)
    return settings, target_path


@pytest.fixture(scope="module")
def exported(golden, tmp_path_factory):
    settings, _ = golden
    out = tmp_path_factory.mktemp("html_export")
    result = export_reports(settings, D, out)
    return out, result


def csv_dicts(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def page_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="rr-report-data">(.*?)</script>', page, re.S)
    assert found, "the page carries no rr-report-data block"
    return json.loads(found.group(1))


def numbers(page: str, attribute: str) -> dict[str, tuple[str, str]]:
    """``attribute`` value -> (data-value, visible text) of the page's linked numbers."""
    out = {}
    pattern = rf'<a class="num" [^>]*?{attribute}="([^"]+)" data-value="([^"]*)">([^<]*)</a>'
    for key, raw, text in re.findall(pattern, page):
        out[key] = (raw, unescape(text))
    return out


def visible_count(text: str) -> int:
    return int(text.replace(",", ""))


def visible_rate(share: str) -> str:
    return f"{float(share) * 100:.2f}%" if share else "n/a"


def test_headline_and_funnel_are_the_csv_values_and_the_golden_ones(exported):
    out, result = exported
    page = (out / report_names(D)["html"]).read_text(encoding="utf-8")
    assert result.html == out / "rr_report_2015-09-15.html"
    assert [p.name for p in result.paths][3:] == [
        "rr_report_2015-09-15.html",
        "rr_pipeline_summary_2015-09-15.txt",
        "rr_report_files_2015-09-15.sha256",
    ]
    [funnel] = csv_dicts(out / "rr_funnel_daily_2015-09-15.csv")
    data = page_data(page)
    assert data["funnel"] == funnel
    shown = numbers(page, "data-metric")
    # the six headline numbers, as data and as the visible text, equal the CSV's
    assert list(shown) == [
        "visitors",
        "sessions",
        "purchases",
        "cvr_session_to_purchase",
        "cvr_view_to_cart",
        "cvr_cart_to_purchase",
    ]
    for metric, (raw, text) in shown.items():
        assert raw == funnel[metric] == data["headline"][metric]["value"], metric
        if metric.startswith("cvr_"):
            assert text == visible_rate(funnel[metric]), metric
        else:
            assert visible_count(text) == int(funnel[metric]), metric
    # golden, by hand (tests/test_kpi_golden.py): D = 2015-09-15, and the day before
    assert {m: v["value"] for m, v in data["headline"].items()} == {
        "visitors": "6",
        "sessions": "7",
        "purchases": "2",
        "cvr_session_to_purchase": "0.2857",
        "cvr_view_to_cart": "0.4000",
        "cvr_cart_to_purchase": "0.3333",
    }
    assert {m: v["previous"] for m, v in data["headline"].items()} == {
        "visitors": "1",
        "sessions": "1",
        "purchases": "0",
        "cvr_session_to_purchase": "0.0000",
        "cvr_view_to_cart": "0.0000",
        "cvr_cart_to_purchase": "",  # 2015-09-14 had no cart: no rate
    }
    # 7 days 09-09 .. 09-15, summed numerators over summed denominators: sessions 6 x 1 + 7 = 13
    # with 2 buying; with a view 6 + 5 = 11, 2 of them with a cart; with a cart 3, 1 with a purchase
    assert {m: v["trailing_7d"] for m, v in data["headline"].items()} == {
        "visitors": "12",
        "sessions": "13",
        "purchases": "2",
        "cvr_session_to_purchase": f"{2 / 13:.4f}",
        "cvr_view_to_cart": f"{2 / 11:.4f}",
        "cvr_cart_to_purchase": f"{1 / 3:.4f}",
    }
    assert all(v["trailing_days"] == 7 for v in data["headline"].values())
    for metric, values in data["headline"].items():
        assert f'data-trailing="{values["trailing_7d"]}"' in page, metric
    assert '<span class="up" data-change="sessions">+6 (+600.0%)</span>' in page
    # the funnel steps: the CSV's counts, in the table under the chart
    steps = dict(re.findall(r'<td data-step="(\w+)"><a class="num" [^>]*data-value="(\d+)">', page))
    assert steps == {k: funnel[k] for k in steps} and len(steps) == 6
    assert (steps["sessions"], steps["sessions_with_view"], steps["sessions_with_cart"]) == ("7", "5", "3")
    # the badge: certified, each gate as the summary states it
    summary = (out / "rr_pipeline_summary_2015-09-15.txt").read_text()
    gate_lines = [line.split() for line in summary.splitlines() if line.startswith("  gate_")]
    assert [(g["gate"], g["status"], g["expected"], g["ran"], g["passed"]) for g in data["gates"]] == [
        (g[0], g[1], int(g[2]), int(g[5]), int(g[8])) for g in gate_lines
    ]
    expected = sum(int(g[2]) for g in gate_lines)
    assert f"tests: {expected} expected / {expected} ran / {expected} passed" in page
    assert "CERTIFIED: all 5 quality gates passed" in page
    assert f"raw load {result.certification.raw_load_id} (loaded " in page


def test_trend_categories_and_crm_are_the_published_and_golden_values(exported):
    out, _ = exported
    page = (out / "rr_report_2015-09-15.html").read_text(encoding="utf-8")
    data = page_data(page)
    trend = data["trend"]
    assert len(trend) == 56 and trend[-1]["date"] == "2015-09-15" and trend[0]["date"] == "2015-07-22"
    # only certified (published) days carry values; the golden data start on 09-08
    assert [p["date"] for p in trend if p["cvr_session_to_purchase"] is not None][0] == "2015-09-08"
    [funnel] = csv_dicts(out / "rr_funnel_daily_2015-09-15.csv")
    for metric in ("cvr_session_to_purchase", "cvr_view_to_cart", "cvr_cart_to_purchase"):
        assert trend[-1][metric] == funnel[metric], metric
        assert trend[-1][f"{metric}_7d"] == data["headline"][metric]["trailing_7d"], metric
    # 09-08 alone: 1 session, bought
    assert trend[-8]["cvr_session_to_purchase_7d"] == "1.0000"
    # the first and the last day of the golden data are partial, and marked
    assert [p["date"] for p in trend if p["partial"]] == ["2015-09-08", "2015-09-15"]
    assert '<span data-partial="2015-09-08">2015-09-08</span>' in page
    assert "2015-09-15 is a partial day of the data" in page

    # the category funnel of D (tests/test_kpi_golden.py): root 1 first (5 sessions), then unknown
    rows = {r["root_category_id"]: r for r in data["categories"]}
    assert [r["root_category_id"] for r in data["categories"]] == [1, -1] and data["category_count"] == 2
    assert rows[1] == {
        "root_category_id": 1,
        "sessions": "5",
        "visitors": "4",
        "sessions_with_view": "3",
        "sessions_with_cart": "2",
        "sessions_with_purchase": "2",
        "purchases": "2",
        "cvr_session_to_purchase": "0.4000",
        "cvr_view_to_cart": "0.3333",
        "cvr_cart_to_purchase": "0.5000",
    }
    assert (rows[-1]["sessions"], rows[-1]["cvr_view_to_cart"], rows[-1]["cvr_cart_to_purchase"]) == (
        "2",
        "0.5000",
        "0.0000",
    )
    table = page[
        page.index('<table id="category-table">') : page.index("</table>", page.index("category-table"))
    ]
    visible = re.findall(r'data-value="([^"]*)">([^<]*)</a>', table)
    assert visible[:7] == [
        ("5", "5"),
        ("4", "4"),
        ("3", "3"),
        ("2", "2"),
        ("2", "2"),
        ("2", "2"),
        ("0.4000", "40.00%"),
    ]
    assert (
        "unknown category" in table and 'style="width: 100.0%"' in table and 'style="width: 40.0%"' in table
    )

    # CRM: sizes against the CRM CSV (rows per segment, segment_size_before_cap), golden 2, 1, 1
    crm = csv_dicts(out / "rr_crm_targets_2015-09-15.csv")
    sizes = {s["segment"]: (s["before"], s["after"]) for s in data["crm_segments"]}
    for segment, (before, after) in sizes.items():
        rows_of = [r for r in crm if r["segment_name"] == segment]
        assert after == len(rows_of), segment
        assert {int(r["segment_size_before_cap"]) for r in rows_of} <= {before}, segment
        assert f'<td data-before="{before}">{before:,}</td><td data-after="{after}">{after:,}</td>' in page
    assert sizes == {
        "cart_abandoner_today": (2, 2),
        "high_intent_viewer_7d_no_cart": (1, 1),
        "repeat_buyer": (1, 1),
    }
    sample = page[page.index('<table id="crm-sample">') :]
    assert "2 purchases up to 2015-09-15" in sample  # the CSV's evidence_text of visitor 1


def test_every_number_links_to_its_one_definition_from_the_dbt_docs(golden, exported):
    out, result = exported
    page = (out / "rr_report_2015-09-15.html").read_text(encoding="utf-8")
    # the texts recorded for the definitions the date was certified under (today's files say the
    # same: nothing changed since)
    with connect(golden[0], create=False) as wh:
        catalogue = catalogue_from_definitions(definition_texts(wh, result.certification.definitions_sha256))
    today = load_catalogue(ROOT / "dbt_retailrocket")
    links = re.findall(r'<a class="num" href="#def-(\w+)" title="([^"]*)" data-doc="(\w+)"', page)
    assert len(links) == 6 + 6 + 2 * 9  # headline, funnel steps, 2 categories x 9 columns
    for target, title, doc in links:
        assert target == doc
        assert f'<dt id="def-{doc}">' in page, doc
        assert unescape(title) == doc_text(catalogue.docs[doc]) == doc_text(today.docs[doc]), doc
    # the headline numbers carry the docs block their column names in the models' YAML
    assert 'href="#def-kpi_cvr_view_to_cart"' in page
    assert "Over several days, sum the numerators and the denominators" in unescape(page)
    assert "strictly greater than 30 minutes" in page  # rr_session_rule, from _staging__docs.md
    # the page names the definitions version and sha256 it shows the texts of
    lock = read_lock()
    version = f'data-definitions-version="{lock["definitions_version"]}"'
    assert version in page and lock["definitions_sha256"] in page
    assert page_data(page)["definitions_sha256"] == lock["definitions_sha256"]
    assert 'id="trend-other-definitions"' not in page  # every day of the trend: the same version


def test_the_first_date_shows_the_day_before_as_not_certified(golden, tmp_path):
    settings, _ = golden
    export_reports(settings, FIRST, tmp_path)
    page = (tmp_path / "rr_report_2015-09-08.html").read_text(encoding="utf-8")
    assert page.count('data-previous="not certified"') == 6
    assert "no raw events on 2015-09-07" in page  # the reason, on hover
    data = page_data(page)
    assert all(v["previous"] is None and v["trailing_days"] == 1 for v in data["headline"].values())
    assert "(1 of 7 days certified)" in page


def test_same_data_same_bytes(golden, exported, tmp_path):
    settings, _ = golden
    out, _ = exported
    export_reports(settings, D, tmp_path)
    first = (out / "rr_report_2015-09-15.html").read_bytes()
    assert (tmp_path / "rr_report_2015-09-15.html").read_bytes() == first
    assert len(first) < MAX_BYTES
    assert b"<svg" in first and b"http://" not in first.replace(b"http://www.w3.org/", b"")
    assert b"https://" not in first and b"<img" not in first and b"src=" not in first


def test_an_uncertified_date_writes_no_page_and_keeps_the_old_one(golden, tmp_path):
    settings, target_path = golden
    # a date without data: nothing is written, and nothing already in the folder is touched
    old = tmp_path / "rr_report_2015-09-20.html"
    old.write_text("an old page\n")
    with pytest.raises(GateRefusal):
        export_reports(settings, dt.date(2015, 9, 20), tmp_path)
    assert old.read_text() == "an old page\n"
    old.unlink()
    # a certified date that loses its certification: `dbt run` of a KPI model without its tests
    export_reports(settings, D, tmp_path)
    assert (tmp_path / "rr_report_2015-09-15.html").exists()
    try:
        run_dbt(
            settings,
            "run",
            "--select",
            "mart_rr_funnel_daily",
            vars={"target_date": D.isoformat()},
            target_path=target_path,
        )
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
        with pytest.raises(GateRefusal, match="mart_rr_funnel_daily was rebuilt"):
            export_reports(settings, D, tmp_path)
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # make check: STALE
    finally:
        run_dbt(settings, "build", vars={"target_date": D.isoformat()}, target_path=target_path)
    export_reports(settings, D, tmp_path)
    assert (tmp_path / "rr_report_2015-09-15.html").exists()


def test_a_failure_while_drawing_leaves_nothing_half_written(golden, tmp_path, monkeypatch):
    settings, _ = golden
    export_reports(settings, D, tmp_path)  # an earlier, good export of the date
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def failing(*args, **kwargs):
        raise RuntimeError("the chart could not be drawn")

    monkeypatch.setattr(report_module, "render_html", failing)
    with pytest.raises(RuntimeError, match="could not be drawn"):
        export_reports(settings, D, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_page_renders_in_chromium_offline_without_errors(exported, tmp_path):
    out, _ = exported
    shot = tmp_path / "rr_report.png"
    seen = render(out / "rr_report_2015-09-15.html", screenshot=shot)
    assert seen.console_errors == [] and seen.page_errors == []
    assert [u for u in seen.requests if not u.startswith("file://")] == []
    assert set(seen.marks) == {
        "chart-funnel",
        "chart-trend",
        "chart-cohort-first-purchase",
        "chart-cohort-first-visit",
    }
    assert all(n > 0 for n in seen.marks.values()), seen.marks
    assert seen.pdf_bytes > 10_000  # printing works
    assert shot.stat().st_size > 10_000
    assert "RetailRocket daily KPIs" in seen.text and "28.57%" in seen.text


def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(monkeypatch):
    import tests.browser_support as browser_support

    monkeypatch.setattr(browser_support, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setattr(browser_support.shutil, "which", lambda name: None)
    monkeypatch.setattr(browser_support, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true: the browser test must run in CI"):
        browser_support.require_browser()
    monkeypatch.setattr(browser_support, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="make setup-browser"):
        browser_support.require_browser()
