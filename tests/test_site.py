"""The project site (make site) and the architecture diagram (make diagram).

- The committed SVG shows exactly what the code defines now: every model, source, lineage edge,
  report and DAG task (node and edge ids are dot's <title> elements; no Graphviz needed here).
- The metrics page is generated from the manifest and carries every metric's and every KPI
  column's definition (one definition, no hand copy).
- ``mkdocs build --strict`` builds every page, with the dbt docs page; every internal link
  resolves and no page loads anything from the network.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MANIFEST = ROOT / "dbt_retailrocket" / "target" / "manifest.json"
SVG = ROOT / "docs" / "assets" / "pipeline_architecture.svg"
PAGES = ["index", "architecture", "metrics", "quality", "runbook", "performance", "differences"]


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"site_{name}", ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def test_the_committed_diagram_matches_the_manifest_and_the_dag(manifest):
    diagram = _module("gen_diagram").content_model(MANIFEST)
    svg_titles = {html.unescape(t) for t in re.findall(r"<title>(.*?)</title>", SVG.read_text())}
    svg_titles.discard("pipeline_architecture")  # the graph's own title
    fix = "the diagram is out of date: run make diagram and commit docs/assets/pipeline_architecture.svg"
    assert svg_titles == diagram.titles(), (
        f"{fix}\nmissing from the SVG: {sorted(diagram.titles() - svg_titles)}"
        f"\nno longer in the code: {sorted(svg_titles - diagram.titles())}"
    )
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert models and models <= svg_titles
    assert diagram.dag_tasks == [
        "resolve_target_date",
        "load_raw_if_changed",
        "check_raw_freshness",
        "plan_window",
        "dbt",
        "export_reports",
    ]
    assert {f"task.{t}" for t in diagram.dag_tasks} <= svg_titles


def test_the_dag_chain_reader_follows_the_dag_file(tmp_path):
    gen = _module("gen_diagram")
    text = gen.DAG_FILE.read_text()
    chain = "target_date >> loaded >> covered >> window >> dbt_models >> export_reports(target_date)"
    assert chain in text
    changed = tmp_path / "dag.py"
    changed.write_text(text.replace(chain, "target_date >> loaded >> window >> dbt_models"))
    assert gen.dag_task_chain(changed) == ["resolve_target_date", "load_raw_if_changed", "plan_window", "dbt"]


def test_the_metrics_page_carries_every_definition(manifest):
    page = _module("hooks").metrics_page(manifest)
    metrics = [m for m in manifest["metrics"].values() if m["package_name"] == "retailrocket"]
    assert len(metrics) >= 12
    for metric in metrics:
        assert f"### `{metric['name']}`" in page
        assert metric["description"].strip() and metric["description"].strip() in page, metric["name"]
    kpi_models = [
        n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["fqn"][1:-1] == ["kpi"]
    ]
    assert len(kpi_models) == 5
    flat = " ".join(page.split())
    for model in kpi_models:
        for column in model["columns"].values():
            assert column["description"], f"{model['name']}.{column['name']} has no definition"
            assert " ".join(column["description"].split()) in flat, f"{model['name']}.{column['name']}"
    # the docs blocks are the source: the session conversion rate's block, word for word
    block = manifest["docs"]["doc.retailrocket.kpi_cvr_session_to_purchase"]["block_contents"]
    assert " ".join(block.split()) in flat


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("site")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RR_", "DBT_"))}
    env.update(
        RR_TARGET="duckdb",
        RR_DUCKDB_PATH=str(work / "empty.duckdb"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        NO_MKDOCS_2_WARNING="1",
    )
    dbt = [str(BIN / "dbt"), "docs", "generate", "--static", "--empty-catalog", "--quiet"]
    dbt += ["--target-path", str(work / "dbt"), "--log-path", str(work / "logs"), "--profiles-dir", "."]
    proc = subprocess.run(dbt, cwd=ROOT / "dbt_retailrocket", env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    env["RR_SITE_DBT_DOCS"] = str(work / "dbt" / "static_index.html")
    started = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(work / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    print(f"mkdocs build --strict: {time.perf_counter() - started:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work / "site"


def test_the_site_builds_strictly_with_every_page(built_site, manifest):
    for page in PAGES:
        assert (built_site / f"{page}.html").is_file(), page
    assert (built_site / "assets" / "pipeline_architecture.svg").is_file()
    assert "<svg" in (built_site / "dbt-docs" / "index.html").read_text()[:200000] or (
        "dbt" in (built_site / "dbt-docs" / "index.html").read_text()[:5000]
    )
    metrics_html = (built_site / "metrics.html").read_text()
    for metric in manifest["metrics"].values():
        assert f'id="{metric["name"]}"' in metrics_html, metric["name"]
    assert "pipeline_architecture.svg" in (built_site / "architecture.html").read_text()


def test_internal_links_resolve_and_nothing_loads_from_the_network(built_site):
    asset = re.compile(r"<(script|img|link|iframe|source)\b[^>]*?\b(src|href)=\"([^\"]+)\"", re.I)
    anchor = re.compile(r"<a\b[^>]*?\bhref=\"([^\"]+)\"", re.I)
    for page in (f"{p}.html" for p in PAGES):  # (404.html links from the site root)
        text = (built_site / page).read_text()
        for tag, _, url in asset.findall(text):
            assert not re.match(r"(https?:)?//", url), f"{page}: <{tag}> loads {url} from the network"
        for url in anchor.findall(text):
            parts = urlsplit(html.unescape(url))
            if parts.scheme or parts.netloc or not parts.path:
                continue  # external links are fine (they load nothing), same-page anchors too
            target = (built_site / page).parent / unquote(parts.path)
            assert target.exists(), f"{page}: broken link {url}"
    css = " ".join(p.read_text() for p in (built_site / "assets" / "stylesheets").glob("*.css"))
    assert "fonts.googleapis" not in css and "fonts.gstatic" not in css
