"""MkDocs hook: pages generated from the dbt project at build time (mkdocs.yml `hooks:`).

- ``metrics.md``: every metric of the semantic layer and every column of the KPI tables, with the
  definition the dbt manifest holds (the ``{% docs %}`` blocks of models/*/_*__docs.md, rendered
  by ``dbt parse``). There is no hand copy: one definition, shown by dbt docs and by this site.
- ``dbt-docs/index.html``: the static dbt docs page (``make site`` generates it), when present.

The manifest is ``dbt_retailrocket/target/manifest.json`` (``make manifest``), or RR_SITE_MANIFEST.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "dbt_retailrocket" / "target"

INTRO = """# Metrics

Every KPI's definition, generated at build time from the dbt manifest (the `{% docs %}` blocks
in `dbt_retailrocket/models/*/_*__docs.md`, used by every column and metric that carries them):
this page, the dbt docs page and the tables' column comments show one definition.

**Query them by name** (MetricFlow, installed by `make setup`), on the warehouse of `RR_TARGET`:

```bash
make metrics Q="--metrics cvr_session_to_purchase,sessions --group-by metric_time__week"
make metrics                    # lists the metrics and their dimensions
RR_TARGET=postgres make metrics Q="--metrics sessions --group-by metric_time__day --order metric_time__day"
```

`Q` is any `mf query` argument list (`--where`, `--start-time`, `--order`, `--csv FILE`, ...).
The metrics read schema `kpi`, so only certified dates count. Ratio metrics are the sum of the
numerators over the sum of the denominators of the period, never an average of daily rates.
From `dbt_retailrocket/` with the default settings, `../.venv/bin/mf query ...` works as well.

**The catalogue**: `make docs` writes the dbt docs as one static page
(`dbt_retailrocket/target/static_index.html`; or serve it:
`cd dbt_retailrocket && ../.venv/bin/dbt docs serve --port 8081`); `make site` includes it as
[the dbt docs page](dbt-docs/index.html). Every model and column is described there; the
semantic layer (`models/kpi/_kpi__semantic.yml`) defines the counts as simple metrics and the
three conversion rates as ratio metrics, validated by `dbt parse`.
"""


def manifest_path() -> Path:
    return Path(os.environ.get("RR_SITE_MANIFEST") or TARGET / "manifest.json")


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def metrics_page(manifest: dict) -> str:
    metrics = {m["name"]: m for m in manifest["metrics"].values() if m["package_name"] == "retailrocket"}
    out = [INTRO, "## Metrics of the semantic layer\n"]
    out.append("| metric | label | type | formula |\n|---|---|---|---|")
    for name, m in sorted(metrics.items()):
        params = m["type_params"]
        if m["type"] == "ratio":
            formula = f"sum(`{params['numerator']['name']}`) / sum(`{params['denominator']['name']}`)"
        else:
            formula = f"sum of measure `{params['measure']['name']}`"
        out.append(f"| [`{name}`](#{name}) | {m['label']} | {m['type']} | {formula} |")
    out.append("")
    for name, m in sorted(metrics.items()):
        out.append(f"### `{name}` {{#{name}}}\n\n{m['label']} ({m['type']}).\n\n{m['description'].strip()}\n")
    out.append("## The KPI tables, column by column\n")
    models = sorted(
        (
            n
            for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["fqn"][1:-1] == ["kpi"]
        ),
        key=lambda n: n["name"],
    )
    for model in models:
        out.append(f"### `{model['schema']}.{model['name']}`\n\n{model['description'].strip()}\n")
        out.append("| column | definition |\n|---|---|")
        for column in model["columns"].values():
            out.append(f"| `{column['name']}` | {_one_line(column['description'])} |")
        out.append("")
    return "\n".join(out) + "\n"


def on_files(files: Files, config) -> Files:
    path = manifest_path()
    if not path.is_file():
        raise SystemExit(f"error: no dbt manifest at {path}: run make manifest (make site does) first")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    files.append(File.generated(config, "metrics.md", content=metrics_page(manifest)))
    dbt_docs = Path(os.environ.get("RR_SITE_DBT_DOCS") or TARGET / "site" / "static_index.html")
    if dbt_docs.is_file():
        files.append(File.generated(config, "dbt-docs/index.html", abs_src_path=str(dbt_docs)))
    return files
