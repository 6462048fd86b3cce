"""Metrics by name: MetricFlow's ``mf`` over the semantic layer, on the configured warehouse.

``make metrics Q="--metrics cvr_session_to_purchase,sessions --group-by metric_time__week"`` runs
``mf query <Q>``; without Q it runs ``mf list metrics``. Q arrives through the environment and is
split like a shell line (``shlex``), never run by a shell.

Why a wrapper and not ``mf`` from ``dbt_retailrocket/``: MetricFlow reads
``<project>/target/semantic_manifest.json``, whose relations carry the database the project was
parsed for (the DuckDB file's name, or RR_PG_DATABASE), so a manifest parsed for another
warehouse queries the wrong one. This module keeps one small dbt project folder per warehouse
(``dbt_project.yml`` linked to the real one, and a ``target/`` that ``dbt parse`` fills with the
current RR_* settings), parses again only when the project's own manifest is newer, and runs
``mf`` there. From ``dbt_retailrocket/`` with the default settings, ``mf query ...`` works as is.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from seeds_loader.settings import Settings, SettingsError, load_settings

BIN = Path(sys.executable).parent


class MetricsError(Exception):
    """A one-line reason why the metric query cannot run."""


def project_dir(settings: Settings) -> Path:
    return settings.root / "dbt_retailrocket"


def warehouse_key(settings: Settings) -> str:
    """A folder name for the warehouse: its kind and a short hash of where it is."""
    where = settings.describe()
    return f"{settings.target}-{hashlib.sha256(where.encode()).hexdigest()[:12]}"


def _env(settings: Settings, shim: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RR_", "DBT_"))}
    env.update(settings.dbt_env())
    env.update(
        {
            "DBT_PROFILES_DIR": str(project_dir(settings)),
            "DBT_PROJECT_DIR": str(shim),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        }
    )
    return env


def prepare(settings: Settings, workdir: Path) -> Path:
    """The MetricFlow project folder of this warehouse, its semantic manifest parsed for it."""
    if settings.target == "duckdb" and not settings.duckdb_path.is_file():
        raise MetricsError(f"no warehouse at {settings.duckdb_path}: run make demo (or make build) first")
    project = project_dir(settings)
    shim = workdir / warehouse_key(settings)
    (shim / "target").mkdir(parents=True, exist_ok=True)
    link = shim / "dbt_project.yml"
    if not link.is_symlink():
        link.symlink_to(project / "dbt_project.yml")
    semantic = shim / "target" / "semantic_manifest.json"
    source_manifest = project / "target" / "manifest.json"
    if not source_manifest.is_file():
        raise MetricsError(f"no dbt manifest at {source_manifest}: run make setup first")
    if semantic.is_file() and semantic.stat().st_mtime >= source_manifest.stat().st_mtime:
        return shim
    command = [str(BIN / "dbt"), "parse", "--quiet", "--project-dir", str(project)]
    command += ["--target-path", str(shim / "target"), "--log-path", str(shim / "logs")]
    proc = subprocess.run(command, env=_env(settings, shim), capture_output=True, text=True, cwd=project)
    if proc.returncode != 0 or not semantic.is_file():
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise MetricsError(f"dbt parse for {settings.describe()} failed: {last[0]}")
    return shim


def run_mf(
    settings: Settings, args: Sequence[str], workdir: Path, **run_kwargs
) -> subprocess.CompletedProcess:
    """``mf <args>`` on the warehouse of ``settings`` (stdout and stderr as ``run_kwargs`` say)."""
    shim = prepare(settings, workdir)
    return subprocess.run([str(BIN / "mf"), *args], env=_env(settings, shim), cwd=shim, **run_kwargs)


def mf_args(query: str) -> list[str]:
    """The mf command line of Q: ``query <Q>``, or ``list metrics`` when Q is empty."""
    try:
        words = shlex.split(query)
    except ValueError as exc:
        raise MetricsError(f"Q is not a valid argument list ({exc}): {query!r}") from None
    return ["query", *words] if words else ["list", "metrics"]


def main(environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        settings = load_settings()
        args = mf_args(environ.get("Q", ""))
        workdir = project_dir(settings) / "target" / "metricflow"
        print(f"mf {shlex.join(args)}  ({settings.describe()})", file=sys.stderr)
        return run_mf(settings, args, workdir).returncode
    except (SettingsError, MetricsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
