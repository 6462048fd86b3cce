"""Static checks of the dbt project: YAML that dbt would silently misread, and the catalogue's promises.

They read the files and the manifest that `make setup` builds with `dbt parse`
(dbt_retailrocket/target/manifest.json); no warehouse is needed.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seeds_loader.load import load
from seeds_loader.warehouse import connect
from tests.dbt_support import DBT_PROJECT_DIR, run_dbt
from tests.golden_data import write_golden_files

GATES = {"gate_domain", "gate_integrity", "gate_nulls", "gate_rowcount", "gate_kpi_range"}
YAML_FILES = sorted(p for p in (DBT_PROJECT_DIR / "models").rglob("*.yml"))


class _DuplicateKeyLoader(yaml.SafeLoader):
    """A loader that fails on a repeated mapping key (PyYAML and dbt keep the last one silently)."""


def _mapping(loader, node, deep=False):
    # a merge key (`<<: *anchor`) is YAML's way to share keys, and a key it brings may be overridden
    keys = [
        loader.construct_object(k, deep=deep) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"
    ]
    repeated = [k for k, n in collections.Counter(map(str, keys)).items() if n > 1]
    if repeated:
        raise yaml.constructor.ConstructorError(None, None, f"repeated key(s) {repeated}", node.start_mark)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_DuplicateKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_no_repeated_yaml_keys(path: Path):
    # a second `data_tests:` under a model silently drops the first list of tests
    yaml.load(path.read_text(), Loader=_DuplicateKeyLoader)


# the keys a column may have; any other is text cut off by a comma in a flow mapping
# (`{name: x, description: When (UTC, the clock).}` is the description "When (UTC" and a key)
COLUMN_KEYS = {
    "name",
    "data_type",
    "constraints",
    "granularity",
    "description",
    "data_tests",
    "tests",
    "quote",
    "meta",
    "config",
}


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_no_column_text_is_cut_by_a_comma(path: Path):
    document = yaml.safe_load(path.read_text()) or {}
    cut = [
        f"{model['name']}.{column['name']}: {sorted(set(column) - COLUMN_KEYS)}"
        for model in document.get("models") or []
        for column in model.get("columns") or []
        if set(column) - COLUMN_KEYS
    ]
    assert cut == []


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("parse")
    dbt = Path(sys.executable).parent / "dbt"
    subprocess.run(
        [str(dbt), "parse", "--quiet", "--target-path", str(target), "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR)],
        check=True, cwd=DBT_PROJECT_DIR, env={**_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"},
    )  # fmt: skip
    return json.loads((target / "manifest.json").read_text())


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_every_data_test_belongs_to_exactly_one_gate(manifest):
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert len(tests) > 50
    for node in tests:
        gates = GATES & set(node["tags"])
        assert len(gates) == 1, f"{node['name']}: gate tags {sorted(gates)}"
        assert node["config"]["severity"].lower() == "error" or node["name"].startswith(
            "rr_daily_volume_within_band"
        ), f"{node['name']} is not severity error"


def test_every_gate_has_tests(manifest):
    tags = collections.Counter(
        t for n in manifest["nodes"].values() if n["resource_type"] == "test" for t in n["tags"] if t in GATES
    )
    assert set(tags) == GATES and min(tags.values()) >= 3, tags


def test_every_model_and_column_is_described(manifest, new_warehouse, tmp_path):
    """Every model and every column it really builds (read back from a warehouse) is documented."""
    settings = new_warehouse("duckdb")
    load(settings, write_golden_files(tmp_path / "raw"), progress=False)
    run_dbt(settings, "run", target_path=tmp_path / "target")
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    published = [n for n in models if n["name"].startswith("certified_")]
    assert len(models) == 37 and len(published) == 5
    with connect(settings, create=False) as wh:
        for node in models:
            assert node["description"].strip(), f"{node['name']} has no description"
            if node in published:
                continue
            built = set(wh.columns(node["schema"], node["alias"]))
            assert built, f"{node['name']} was not built"
            documented = {c for c, v in node["columns"].items() if v["description"].strip()}
            assert built == documented, (
                f"{node['name']}: undocumented {sorted(built - documented)}, "
                f"documented but not built {sorted(documented - built)}"
            )
        # a published view (schema kpi) has exactly the columns of the table it publishes
        # (kpi_build), in the same order, under the same name: its documentation is that table's
        for node in published:
            source = manifest["nodes"][f"model.retailrocket.{node['alias']}"]
            assert (node["schema"], source["schema"]) == ("kpi", "kpi_build")
            assert node["alias"] == source["name"]
            # ... and its rows' fingerprints, which the export checks (_published__models.yml)
            assert wh.columns("kpi", node["alias"]) == [
                *wh.columns("kpi_build", source["alias"]),
                "row_fingerprint",
            ], node["name"]


def test_the_catalogue_shows_what_a_published_number_depends_on(manifest):
    """dbt docs' lineage is the certificate's: every published view reads its kpi_build table and
    the certification view, which reads the run history (models with contracts, never rebuilt)
    and the raw load bookkeeping; the exposures (the reports) read published views only."""
    nodes = manifest["nodes"]
    certification = "model.retailrocket.rr_date_certification"
    published = [
        n for n in nodes.values() if n["resource_type"] == "model" and n["name"].startswith("certified_")
    ]
    for node in published:
        assert sorted(node["depends_on"]["nodes"]) == sorted(
            [f"model.retailrocket.{node['alias']}", certification]
        ), node["name"]
    reads = set(nodes[certification]["depends_on"]["nodes"])
    assert {
        "model.retailrocket.rr_date_verdicts",
        "model.retailrocket.rr_model_builds",
        "model.retailrocket.rr_catalog",
        "model.retailrocket.rr_invocations",
        "source.retailrocket.retailrocket_raw.raw_rr_loads",
    } <= reads
    history = [
        n
        for n in nodes.values()
        if n["resource_type"] == "model" and n["config"]["materialized"] == "rr_history"
    ]
    assert len(history) == 10
    for node in history:
        assert node["config"]["contract"]["enforced"] and node["config"]["full_refresh"] is False, node[
            "name"
        ]
        assert node["depends_on"]["nodes"] == [], node["name"]
    for exposure in manifest["exposures"].values():
        models = [d for d in exposure["depends_on"]["nodes"] if d.startswith("model.")]
        assert models and all(
            nodes[d]["name"].startswith("certified_") or d == certification for d in models
        ), exposure["name"]


def test_every_kpi_column_uses_its_docs_block(manifest):
    docs = {d["name"] for d in manifest["docs"].values()}
    for model in ("mart_rr_funnel_daily", "mart_rr_funnel_category_daily"):
        node = manifest["nodes"][f"model.retailrocket.{model}"]
        for column in (
            "visitors",
            "sessions",
            "cvr_session_to_purchase",
            "cvr_view_to_cart",
            "cvr_cart_to_purchase",
        ):
            assert f"kpi_{column}" in docs
            block = manifest["docs"][f"doc.retailrocket.kpi_{column}"]["block_contents"].strip()
            assert node["columns"][column]["description"].strip() == block, (model, column)


def test_semantic_layer_defines_the_three_rates_as_ratio_metrics(manifest):
    metrics = {m["name"]: m for m in manifest["metrics"].values()}
    expected = {
        "cvr_session_to_purchase": ("sessions_with_purchase", "sessions"),
        "cvr_view_to_cart": ("sessions_with_view_and_cart", "sessions_with_view"),
        "cvr_cart_to_purchase": ("sessions_with_cart_and_purchase", "sessions_with_cart"),
    }
    for name, (numerator, denominator) in expected.items():
        params = metrics[name]["type_params"]
        assert metrics[name]["type"] == "ratio"
        assert (params["numerator"]["name"], params["denominator"]["name"]) == (numerator, denominator)
    exposures = {e["name"] for e in manifest["exposures"].values()}
    assert len(exposures) == 4


def test_docs_generate_writes_the_catalogue(new_warehouse, tmp_path):
    """`make docs`: dbt docs generate --static, on a built warehouse, gives one self-contained page."""
    settings = new_warehouse("duckdb")
    load(settings, write_golden_files(tmp_path / "raw"), progress=False)
    target = tmp_path / "target"
    run_dbt(settings, "build", target_path=target)
    run_dbt(settings, "docs", "generate", "--static", target_path=target)
    page = (target / "static_index.html").read_text()
    catalog = json.loads((target / "catalog.json").read_text())
    assert "model.retailrocket.mart_rr_funnel_daily" in catalog["nodes"]
    assert "cvr_cart_to_purchase" in catalog["nodes"]["model.retailrocket.mart_rr_funnel_daily"]["columns"]
    for text in ("Session conversion rate", "rr_pipeline_summary_report", "strictly greater than 30 minutes"):
        assert text in page, text
