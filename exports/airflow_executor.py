"""The Airflow executor of the native Airflow and the compose stack: Airflow's LocalExecutor, with
dbt, the warehouse's dbt adapter and Cosmos imported before it forks its workers.

Why: under the LocalExecutor every task is a process forked from a worker, which is forked from
the scheduler. A Cosmos task then imports dbt and its adapter before dbt starts: about 1.35 s of
every dbt task, measured on this project (a fork of a plain Python process: 1.31-1.39 s; of one
that had imported ``dbt.cli.main`` and ``dbt.adapters.duckdb``: 0.00 s). The DAG runs 19 dbt
tasks (31 before they were cut), one after another on DuckDB: about 26 s of a daily run. Imported once in the
scheduler, the modules are in every task process from the start (copy-on-write pages of the
fork), and each task begins with dbt's own start-up.

Nothing else changes: the workers, the task processes and their isolation are the
LocalExecutor's. Importing runs no dbt command and opens no connection, so a forked task starts
dbt as fresh as before. Only installed libraries are imported, never this project's modules
(their files may change while the scheduler runs; upgrading dbt or Cosmos needs a restart of
Airflow anyway). A module that fails to import is logged and left to the tasks, which
import it themselves (and fail there, visibly, if it really is broken).

Use: ``AIRFLOW__CORE__EXECUTOR=exports.airflow_executor.PreloadingLocalExecutor`` (set by
airflow/ops/native.py and docker-compose.yml).
"""

from __future__ import annotations

import importlib
import logging
import os
import time

from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)

# the dbt adapter module of each RR_TARGET (profiles.yml: the target's `type`)
ADAPTER_MODULES = {
    "duckdb": "dbt.adapters.duckdb",
    "postgres": "dbt.adapters.postgres",
    "spark": "dbt.adapters.spark",
}


def preload_modules(target: str | None = None) -> list[str]:
    """What every dbt task process imports first: dbt's runner (Cosmos' DBT_RUNNER invocation
    mode), the adapter of the warehouse (``RR_TARGET``, default duckdb), Cosmos' local operators
    and OpenLineage's dbt processor, which Cosmos runs after every dbt command.

    Installed libraries only. The scheduler lives for days: a module of this project imported
    here would reach every task as the copy loaded when the scheduler started, so a fix to the
    certification or the exports would not apply until a restart (tests/test_operator_path.py
    checks that none is imported)."""
    target = target or os.environ.get("RR_TARGET") or "duckdb"
    modules = ["dbt.cli.main"]
    if target in ADAPTER_MODULES:
        modules.append(ADAPTER_MODULES[target])
    return [*modules, "cosmos.operators.local", "openlineage.common.provider.dbt.local"]


def preload(modules: list[str]) -> dict[str, str]:
    """Imports ``modules``; returns {module: "ok" | the error}, never raises."""
    outcome: dict[str, str] = {}
    for name in modules:
        try:
            importlib.import_module(name)
            outcome[name] = "ok"
        except Exception as exc:  # a task that needs it imports it again and fails there
            outcome[name] = f"{type(exc).__name__}: {exc}"
    return outcome


class PreloadingLocalExecutor(LocalExecutor):
    """LocalExecutor that imports :func:`preload_modules` in the scheduler before its workers
    are forked (``start``), so that the task processes forked from them have those modules."""

    def start(self) -> None:
        started = time.monotonic()
        outcome = preload(preload_modules())
        failed = {name: error for name, error in outcome.items() if error != "ok"}
        log.info(
            "imported %s for the task processes in %.2f s",
            ", ".join(name for name in outcome if name not in failed),
            time.monotonic() - started,
        )
        for name, error in failed.items():
            log.warning(
                "could not import %s before forking the workers (%s): its tasks import it themselves",
                name,
                error,
            )
        super().start()
