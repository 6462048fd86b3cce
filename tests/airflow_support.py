"""Running the rr_funnel_daily DAG the way users do, and reading back what Airflow recorded.

Everything Airflow runs here is a subprocess of the venv's ``airflow`` (exactly what
``make run-dag`` types) with its own ``AIRFLOW_HOME`` under pytest's tmp folder, its own Cosmos
cache, no example DAGs, no telemetry, and the warehouse settings of the test in its environment.
In-process imports of the DAG file (for the integrity and unit tests) go through
:func:`import_dag_module`, which sets the same environment while the module reads it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from seeds_loader.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = ROOT / "airflow" / "dags"
DAG_FILE = DAGS_FOLDER / "rr_funnel_daily.py"
DAG_ID = "rr_funnel_daily"
MANIFEST = ROOT / "dbt_retailrocket" / "target" / "manifest.json"
AIRFLOW = Path(sys.executable).parent / "airflow"

# variables of the calling shell that must not leak into a test's Airflow or warehouse
_ISOLATED_PREFIXES = ("RR_", "AIRFLOW_", "DBT_")


def airflow_env(home: Path) -> dict[str, str]:
    """The Airflow part of a test environment (no warehouse settings yet)."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }


def warehouse_env(settings: Settings, reports_dir: Path) -> dict[str, str]:
    """The RR_* settings a worker of the DAG sees: the test's warehouse, raw files and reports folder."""
    return {**settings.dbt_env(), "RR_REPORTS_DIR": str(reports_dir)}


def subprocess_env(*parts: Mapping[str, str]) -> dict[str, str]:
    """The current environment without any RR_*/AIRFLOW_*/DBT_* variable, plus ``parts``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ISOLATED_PREFIXES)}
    for part in parts:
        env.update(part)
    return env


def json_output(stdout: str) -> Any:
    """The JSON document an ``airflow ... -o json`` command printed among its log lines."""
    for line in reversed(stdout.splitlines()):
        text = line.strip()
        if text.startswith(("[", "{")):
            with contextlib.suppress(json.JSONDecodeError):
                return json.loads(text)
        if text == "No data found":
            return []
    raise AssertionError(f"no JSON document in the output of airflow:\n{stdout[-3000:]}")


@dataclass
class DagTestRun:
    """One ``airflow dags test`` and what the metadata database recorded about it."""

    returncode: int
    output: str
    run_id: str
    run_state: str
    states: dict[str, str]  # task_id -> state
    seconds: float
    log_file: Path

    def tasks_in(self, *states: str) -> set[str]:
        return {task for task, state in self.states.items() if state in states}

    def tail(self, chars: int = 4000) -> str:
        return f"(full log: {self.log_file})\n{self.output[-chars:]}"


class AirflowHome:
    """One migrated AIRFLOW_HOME (SQLite metadata database) and the CLI calls the tests make."""

    def __init__(self, path: Path):
        self.path = path
        self.env = airflow_env(path)

    def cli(
        self, *args: str, extra_env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AIRFLOW), *args],
            env=subprocess_env(self.env, extra_env or {}),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def migrate(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        proc = self.cli("db", "migrate")
        assert proc.returncode == 0, (
            f"airflow db migrate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )

    def runs(self) -> dict[str, str]:
        """run_id -> state of every recorded run of the DAG."""
        proc = self.cli("dags", "list-runs", DAG_ID, "-o", "json")
        if proc.returncode != 0 and "does not exist in 'dag' table" in proc.stdout + proc.stderr:
            return {}  # never run (nor serialized) in this AIRFLOW_HOME yet
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return {r["run_id"]: r["state"] for r in json_output(proc.stdout)}

    def task_states(self, run_id: str) -> dict[str, str]:
        proc = self.cli("tasks", "states-for-dag-run", DAG_ID, run_id, "-o", "json")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return {r["task_id"]: r["state"] for r in json_output(proc.stdout)}

    def dags_test(
        self, extra_env: Mapping[str, str], conf: Mapping[str, Any], log_file: Path, timeout: float = 900
    ) -> DagTestRun:
        """``airflow dags test rr_funnel_daily --conf '<conf>'``, as ``make run-dag`` runs it.

        The run is found as the one run id the metadata database did not hold before; a run
        still going after ``timeout`` seconds is killed (its whole process group) and fails the test.
        """
        before = self.runs()
        log_file.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with open(log_file, "w") as log:
            proc = subprocess.Popen(
                [str(AIRFLOW), "dags", "test", DAG_ID, "--conf", json.dumps(dict(conf))],
                env=subprocess_env(self.env, extra_env),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                pytest.fail(
                    f"airflow dags test still running after {timeout:.0f} s (killed); log: {log_file}\n"
                    + log_file.read_text(errors="replace")[-4000:]
                )
        seconds = time.perf_counter() - started
        output = log_file.read_text(errors="replace")
        after = self.runs()
        new = sorted(set(after) - set(before))
        assert len(new) == 1, f"expected one new DAG run, found {new}; log: {log_file}\n{output[-3000:]}"
        run_id = new[0]
        return DagTestRun(
            returncode=returncode,
            output=output,
            run_id=run_id,
            run_state=after[run_id],
            states=self.task_states(run_id),
            seconds=seconds,
            log_file=log_file,
        )


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set exactly these RR_*/AIRFLOW*/DBT_* variables (removing the others) for the block."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(_ISOLATED_PREFIXES):
                mp.delenv(key)
        for key, value in values.items():
            mp.setenv(key, value)
        yield


def import_dag_module(env: Mapping[str, str]) -> ModuleType:
    """Import the DAG file under a fresh module name with exactly ``env`` as its RR_*/AIRFLOW* settings.

    The module reads its settings at import time, so each call gives an independent DAG object.
    """
    name = f"rr_funnel_daily_under_test_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with environment(env):
        spec.loader.exec_module(module)
    return module
