"""Draw docs/assets/pipeline_architecture.svg from the code, so the picture cannot drift.

Every box comes from the project itself: the raw files and their tables from the loader
(seeds_loader/raw_files.py), the sources, models, lineage and report exposures from the dbt
manifest (``make manifest``), the gates from ``dbt_project.yml`` (var ``quality_gates``), and the
Airflow tasks and their order from the DAG file (read with ``ast``: no Airflow import). Graphviz
``dot`` lays it out (Debian package ``graphviz``).

    python docs/gen_diagram.py [--manifest PATH] [--out PATH]

``content_model()`` is what tests/test_site.py compares with the committed SVG (the node and
edge ids dot writes as ``<title>`` elements), without needing Graphviz.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seeds_loader.raw_files import FILES  # noqa: E402
from seeds_loader.rules import gates  # noqa: E402

MANIFEST = ROOT / "dbt_retailrocket" / "target" / "manifest.json"
DAG_FILE = ROOT / "airflow" / "dags" / "rr_funnel_daily.py"
OUT = ROOT / "docs" / "assets" / "pipeline_architecture.svg"

# model folders (fqn) -> the cluster they are drawn in, left to right
LAYERS = {
    ("staging",): ("staging", "staging  (schema staging)"),
    ("marts",): ("marts", "marts  (schema mart)"),
    ("kpi",): ("kpi_build", "kpi  (schema kpi_build: built and audited)"),
    ("kpi", "published"): ("kpi", "published  (schema kpi: certified dates only)"),
    ("qa",): ("qa", "quality  (schema qa)"),
    ("qa", "history"): ("qa", "quality  (schema qa)"),
}


@dataclass
class Diagram:
    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (cluster, label)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, style)
    clusters: dict[str, str] = field(default_factory=dict)  # cluster -> label
    dag_tasks: list[str] = field(default_factory=list)

    def node(self, node_id: str, cluster: str, label: str | None = None) -> None:
        self.nodes[node_id] = (cluster, label or node_id)

    def edge(self, a: str, b: str, style: str = "data") -> None:
        if (a, b, style) not in self.edges:
            self.edges.append((a, b, style))

    def titles(self) -> set[str]:
        """The <title> texts dot writes: node ids, edges as 'a->b', clusters as 'cluster_<name>'."""
        return (
            set(self.nodes)
            | {f"{a}->{b}" for a, b, _ in self.edges}
            | {f"cluster_{name}" for name in self.clusters}
        )


def dag_task_chain(dag_file: Path = DAG_FILE) -> list[str]:
    """The DAG's task ids in the order of its ``a >> b >> ...`` chain (task functions are named
    after their task ids; a DbtTaskGroup by its group_id)."""
    tree = ast.parse(dag_file.read_text(encoding="utf-8"))
    task_functions = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(
            (isinstance(d, ast.Name) and d.id == "task")
            or (isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "task")
            for d in node.decorator_list
        )
    }
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                if value.func.id in task_functions:
                    names[node.targets[0].id] = value.func.id
                elif value.func.id == "DbtTaskGroup":
                    group = next(k.value for k in value.keywords if k.arg == "group_id")
                    names[node.targets[0].id] = group.value

    def flatten(expr: ast.expr) -> list[str]:
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.RShift):
            return flatten(expr.left) + flatten(expr.right)
        if isinstance(expr, ast.Name):
            return [names[expr.id]]
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in task_functions:
            return [expr.func.id]
        raise ValueError(f"{dag_file}: cannot read the task chain at line {expr.lineno}")

    chains = [
        flatten(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.BinOp)
    ]
    if len(chains) != 1:
        raise ValueError(f"{dag_file}: expected one `a >> b >> ...` chain, found {len(chains)}")
    return chains[0]


def content_model(manifest_path: Path = MANIFEST, dag_file: Path = DAG_FILE) -> Diagram:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    d = Diagram()
    d.clusters["files"] = "raw files  (RR_DATA_DIR)"
    d.clusters["warehouse"] = (
        "warehouse (RR_TARGET): DuckDB, one file data/warehouse/retailrocket.duckdb (default)"
        "  |  PostgreSQL, database RR_PG_DATABASE  |  Spark, Thrift Server or local session"
        " (RR_SPARK_*): the same schemas in all three"
    )
    d.clusters["raw"] = "raw  (schema raw)"
    for cluster, label in LAYERS.values():
        d.clusters[cluster] = label
    d.clusters["reports"] = "exports  (logs/reports/)"
    d.clusters["airflow"] = "Airflow DAG rr_funnel_daily  (Cosmos renders the dbt group from the manifest)"

    d.node("loader", "", "loader\\npython -m seeds_loader load\\n(only changed files)")
    for name in FILES:
        d.node(name, "files")
        d.edge(name, "loader")

    sources = {uid: n for uid, n in manifest["sources"].items() if n["package_name"] == "retailrocket"}
    for node in sources.values():
        cluster = "raw" if node["schema"] == "raw" else "qa"
        d.node(f"{node['schema']}.{node['name']}", cluster)
    for raw_file in FILES.values():
        d.edge("loader", f"raw.{raw_file.table}")
    d.edge("loader", "raw.raw_rr_load_log")

    models = {
        uid: n
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == "model" and n["package_name"] == "retailrocket"
    }
    for node in sorted(models.values(), key=lambda n: n["name"]):
        d.node(node["name"], LAYERS[tuple(node["fqn"][1:-1])][0])

    def node_id(uid: str) -> str | None:
        if uid in models:
            return models[uid]["name"]
        if uid in sources:
            return f"{sources[uid]['schema']}.{sources[uid]['name']}"
        return None

    for uid, node in sorted(models.items(), key=lambda item: item[1]["name"]):
        for parent in node["depends_on"]["nodes"]:
            if node_id(parent) is not None:
                d.edge(node_id(parent), node_id(uid))

    gate_label = "quality gates (dbt tests)\\n" + "\\n".join(gates())
    d.node("gates", "qa", gate_label)
    d.node(
        "certification",
        "qa",
        "certification (run hooks)\\nper date: every test of every gate\\nran and passed, under the locked definitions",
    )
    layer_of = {name: cluster for name, (cluster, _) in d.nodes.items()}
    for cluster in ("staging", "marts", "kpi_build"):
        first = min(n for n, c in layer_of.items() if c == cluster)
        d.edge(first, "gates", "check")
    for table in ("rr_invocations", "rr_node_results"):
        d.edge("gates", table, "check")
    for table in ("rr_node_results", "rr_model_builds", "rr_row_fingerprints"):
        d.edge(table, "certification", "check")
    d.edge("certification", "rr_date_verdicts", "check")

    for exposure in sorted(manifest["exposures"].values(), key=lambda e: e["name"]):
        d.node(exposure["name"], "reports", exposure.get("label") or exposure["name"])
        for parent in exposure["depends_on"]["nodes"]:
            if node_id(parent) is not None:
                d.edge(node_id(parent), exposure["name"])

    d.dag_tasks = dag_task_chain(dag_file)
    for task_id in d.dag_tasks:
        d.node(f"task.{task_id}", "airflow", task_id)
    for a, b in zip(d.dag_tasks, d.dag_tasks[1:], strict=False):
        d.edge(f"task.{a}", f"task.{b}", "task")
    # what each task runs (dotted); the dbt group runs the warehouse's models, the export the reports
    first = {c: n for n, (c, _) in reversed(list(d.nodes.items()))}
    acts = {
        "load_raw_if_changed": "loader",
        "check_raw_freshness": "raw.raw_rr_events",
        "plan_window": "rr_date_certification",
        "dbt": first["staging"],
        "export_reports": first["reports"],
    }
    for task_id, target in acts.items():
        if task_id in d.dag_tasks:
            d.edge(f"task.{task_id}", target, "acts")
    return d


def to_dot(d: Diagram) -> str:
    def q(text: str) -> str:
        return '"' + text.replace('"', '\\"') + '"'

    lines = [
        "digraph pipeline_architecture {",
        '  graph [rankdir=LR, fontname="Helvetica", fontsize=12, nodesep=0.15, ranksep=0.45,',
        '         compound=true, newrank=true, label="retailrocket-kpi: generated by docs/gen_diagram.py '
        'from the dbt manifest, the loader and the DAG file", labelloc=b, fontcolor="#555555"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];',
        '  edge [color="#607080", arrowsize=0.6];',
    ]
    fills = {
        "files": "#f3efe6",
        "raw": "#e8eef7",
        "staging": "#e6f2ea",
        "marts": "#e6f2ea",
        "kpi_build": "#fdf3dc",
        "kpi": "#fdf3dc",
        "qa": "#f6e6e6",
        "reports": "#f0e8f6",
        "airflow": "#eef4f8",
    }

    def cluster(name: str, indent: str) -> list[str]:
        out = [
            f"{indent}subgraph cluster_{name} {{",
            f'{indent}  label={q(d.clusters[name])}; style="rounded,filled"; fillcolor="{fills.get(name, "#fafafa")}";'
            ' color="#9aa5b1";',
        ]
        for n, (c, label) in d.nodes.items():
            if c == name:
                special = ', shape=component, fillcolor="#fffbe6"' if n in ("gates", "certification") else ""
                out.append(f"{indent}  {q(n)} [label={q(label)}{special}];")
        return out

    for name in ("files", "reports", "airflow"):
        lines += cluster(name, "  ") + ["  }"]
    lines += cluster("warehouse", "  ")
    for name in ("raw", "staging", "marts", "kpi_build", "kpi", "qa"):
        lines += cluster(name, "    ") + ["    }"]
    lines.append("  }")
    for n, (c, label) in d.nodes.items():
        if c == "":
            lines.append(f'  {q(n)} [label={q(label)}, shape=component, fillcolor="#fffbe6"];')
    styles = {
        "data": "",
        "check": ' [color="#b04040", style=dashed]',
        "task": ' [color="#2f6f9f", penwidth=1.4]',
        "acts": "",
    }
    layer_of = {n: c for n, (c, _) in d.nodes.items()}
    for a, b, style in d.edges:
        attrs = styles[style]
        if style == "check" and b == "gates":
            attrs = f' [color="#b04040", style=dashed, ltail=cluster_{layer_of[a]}]'
        if style == "acts":
            head = {"staging": ", lhead=cluster_warehouse", "reports": ", lhead=cluster_reports"}
            # (an edge to the loader, outside every cluster, keeps its rank constraint: without it
            # dot loses the edge once the qa cluster holds the history's models)
            free = ", constraint=false" if layer_of[b] else ""
            attrs = f' [style=dotted, color="#2f6f9f"{free}{head.get(layer_of[b], "")}]'
        lines.append(f"  {q(a)} -> {q(b)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_source: str) -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise SystemExit("error: Graphviz `dot` is missing: apt-get install graphviz (Debian/Ubuntu)")
    proc = subprocess.run([dot, "-Tsvg"], input=dot_source, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"error: dot failed: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not args.manifest.is_file():
        print(f"error: no dbt manifest at {args.manifest}: run make manifest first", file=sys.stderr)
        return 2
    svg = render(to_dot(content_model(args.manifest)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(svg, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
