"""The Airflow DAG rr_funnel_daily: integrity, target-date resolution, and real runs.

1. Integrity: the DAG file imports through a DagBag and ``airflow dags list-import-errors`` with
   no error; schedule, retries, tags, docs; one Cosmos task per dbt node of the manifest, in
   the order resolve_target_date -> load_raw_if_changed -> plan_window -> dbt -> export_reports;
   the run date, its window and the run id reach every dbt task; a failed gate fails its task at
   once while any other failure of a test task is retried; no secret is stored with the DAG;
   parsing needs no database.
2. Target-date resolution, calling the task's own callable with a fake Airflow context.
3. End to end (slow): ``airflow dags test`` as ``make run-dag`` runs it, on the hand-made golden
   data set (tests/golden_data.py), on DuckDB (two good runs, a corrupted data set, a malformed
   conf) and on PostgreSQL (one good run), checking exit codes, task states, the reports against
   the marts, the gate log and the raw-load log.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pendulum
import pytest

from exports.report import REPORT_LAYOUTS, format_value, report_names, stable_summary_lines
from seeds_loader.rules import gates
from seeds_loader.settings import Settings
from seeds_loader.warehouse import connect
from tests.airflow_support import (
    DAG_ID,
    DAGS_FOLDER,
    MANIFEST,
    ROOT,
    AirflowHome,
    DagTestRun,
    airflow_env,
    environment,
    import_dag_module,
    json_output,
    subprocess_env,
    warehouse_env,
)
from tests.golden_data import kst_ms, write_golden_files

D = dt.date(2015, 9, 15)  # the last date of the golden data set
DBT_DIR = ROOT / "dbt_retailrocket"
PUBLISHED = "models/kpi/published/"  # the views of schema kpi
QA = "models/qa/"  # the certification's views: built by one task, the certification view's
QA_HISTORY = "models/qa/history/"  # the run history's tables: created by the hooks, no task
QA_TASK = "dbt.rr_date_certification_model_build"
PLAIN_TASKS = {
    "resolve_target_date",
    "load_raw_if_changed",
    "check_raw_freshness",
    "plan_window",
    "export_reports",
}
SENTINEL_PASSWORD = "Not-For-The-Dag-7f3a9c"  # RR_PG_PASSWORD while the DAG is parsed
DBT_ENV_KEYS = {"RR_TARGET", "RR_DUCKDB_PATH", "RR_DATA_DIR", "RR_PROJECT_ROOT"}
VARS_TEMPLATE_CONTEXT_RUN_ID = "scheduled__2015-09-16T00:00:00+00:00"


# -----------------------------------------------------------------------------------------------
# importing the DAG in this process
# -----------------------------------------------------------------------------------------------
def parse_env(home: Path, scratch: Path, target: str) -> dict[str, str]:
    """Settings under which the DAG file is parsed here: a warehouse that does not exist (a
    closed PostgreSQL port), a password that must never reach the DAG, tmp folders."""
    return {
        **airflow_env(home),
        "RR_TARGET": target,
        "RR_DUCKDB_PATH": str(scratch / "never_created.duckdb"),
        "RR_PG_HOST": "127.0.0.1",
        "RR_PG_PORT": "1",  # nothing listens there: any connection attempt would fail
        "RR_PG_USER": "rr_dag_parse",
        "RR_PG_PASSWORD": SENTINEL_PASSWORD,
        "RR_PG_DATABASE": "rr_never_created",
        "RR_DATA_DIR": str(scratch / "raw"),
        "RR_PROJECT_ROOT": str(ROOT),
        "RR_REPORTS_DIR": str(scratch / "reports"),
    }


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    if not MANIFEST.is_file():
        pytest.fail(f"{MANIFEST} is missing: run `make setup` (it runs `dbt parse`)", pytrace=False)
    return json.loads(MANIFEST.read_text())


@pytest.fixture(scope="module")
def parse_dirs(tmp_path_factory) -> tuple[Path, Path]:
    return tmp_path_factory.mktemp("airflow_parse_home"), tmp_path_factory.mktemp("dag_parse_scratch")


@pytest.fixture(scope="module")
def duckdb_module(parse_dirs) -> ModuleType:
    return import_dag_module(parse_env(*parse_dirs, "duckdb"))


@pytest.fixture(scope="module")
def postgres_module(parse_dirs) -> ModuleType:
    return import_dag_module(parse_env(*parse_dirs, "postgres"))


@pytest.fixture(scope="module")
def dag(duckdb_module):
    return duckdb_module.dag


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> AirflowHome:
    """One migrated AIRFLOW_HOME for the session (``airflow db migrate``, about 3 s)."""
    home = AirflowHome(tmp_path_factory.mktemp("airflow_home"))
    home.migrate()
    return home


# -----------------------------------------------------------------------------------------------
# what the manifest says the DAG must hold
# -----------------------------------------------------------------------------------------------
@dataclass
class ExpectedTasks:
    model_builds: dict[str, str] = field(default_factory=dict)  # unique_id -> task id
    # a test of several nodes: test name -> (its parents, the build task that runs it)
    multi_parent_tests: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # unique_id -> `_source` task id
    published_in: dict[str, str] = field(default_factory=dict)  # kpi view unique_id -> its table's task
    qa_views: set[str] = field(default_factory=set)  # qa views built by QA_TASK
    history: set[str] = field(default_factory=set)  # history tables: no task
    source_tests_in: dict[str, str] = field(default_factory=dict)  # source unique_id -> reader's task
    tested_builds: set[str] = field(default_factory=set)  # build tasks that run tests

    @property
    def all_dbt(self) -> set[str]:
        return {*self.model_builds.values(), *self.sources.values()}

    @property
    def test_tasks(self) -> set[str]:
        """The tasks that run tests: every model's build."""
        return set(self.model_builds.values())


def _ancestors(manifest: dict[str, Any], uid: str) -> set[str]:
    found: set[str] = set()
    for parent in (manifest["nodes"].get(uid) or {}).get("depends_on", {}).get("nodes", []):
        found |= {parent, *_ancestors(manifest, parent)}
    return found


def expected_tasks(manifest: dict[str, Any]) -> ExpectedTasks:
    """Cosmos' rendering (TestBehavior.BUILD, sources with tests or freshness) of every node of the
    manifest, where the DAG runs each source's tests (in its reader's build), and where each test
    of several nodes runs: in the build of the model among them that reads all the others."""
    exp = ExpectedTasks()
    nodes = manifest["nodes"]
    for uid, node in nodes.items():
        path = node["original_file_path"]
        if node["resource_type"] != "model" or path.startswith(PUBLISHED):
            continue
        if path.startswith(QA_HISTORY):
            exp.history.add(uid)
        elif path.startswith(QA):
            exp.model_builds[uid] = QA_TASK
            exp.qa_views.add(uid)
        else:
            exp.model_builds[uid] = f"dbt.{node['name']}_model_build"
    for uid, node in nodes.items():  # a view of schema kpi: built by the task of the table it reads
        if node["resource_type"] == "model" and node["original_file_path"].startswith(PUBLISHED):
            (table,) = [
                p for p in node["depends_on"]["nodes"] if p in exp.model_builds and p not in exp.qa_views
            ]
            exp.model_builds[uid] = exp.model_builds[table]
            exp.published_in[uid] = exp.model_builds[table]
    source_task = {
        uid: f"dbt.{s['source_name']}_{s['name']}_source" for uid, s in manifest["sources"].items()
    }
    for node in nodes.values():
        if node["resource_type"] != "test":
            continue
        parents = tuple(dict.fromkeys(node["depends_on"]["nodes"]))
        if len(parents) > 1:
            last = [
                p for p in parents if p in exp.model_builds and set(parents) - {p} <= _ancestors(manifest, p)
            ]
            assert len(last) == 1, (node["name"], parents)
            exp.multi_parent_tests[node["name"]] = (parents, exp.model_builds[last[0]])
            exp.tested_builds.add(exp.model_builds[last[0]])
        elif parents[0] in exp.model_builds:
            exp.tested_builds.add(exp.model_builds[parents[0]])
        elif parents[0] in manifest["sources"]:
            exp.sources[parents[0]] = source_task[parents[0]]
            # the first reader: the one no other reader is upstream of (the others run after it)
            every = {
                u
                for u, n in nodes.items()
                if n["resource_type"] == "model" and parents[0] in n["depends_on"]["nodes"]
            }
            readers = [u for u in every if not (every - {u}) & _ancestors(manifest, u)]
            assert len(readers) == 1, (parents[0], readers)
            exp.source_tests_in[parents[0]] = exp.model_builds[readers[0]]
            exp.tested_builds.add(exp.model_builds[readers[0]])
    for uid, source in manifest["sources"].items():
        freshness = source.get("freshness") or {}
        if any((freshness.get(k) or {}).get("count") for k in ("warn_after", "error_after")):
            exp.sources[uid] = source_task[uid]
    return exp


def expected_gate_tests(manifest: dict[str, Any]) -> dict[str, int]:
    """gate -> number of tests in the manifest carrying its tag (the complete set)."""
    counts = dict.fromkeys(gates(), 0)
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            for gate in gates():
                if gate in node["tags"]:
                    counts[gate] += 1
    return counts


def model_parents(manifest: dict[str, Any], uid: str) -> list[str]:
    return list(dict.fromkeys(manifest["nodes"][uid]["depends_on"]["nodes"]))


# -----------------------------------------------------------------------------------------------
# 1. integrity
# -----------------------------------------------------------------------------------------------
def test_dagbag_imports_every_dag_file_without_errors(parse_dirs, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    with environment(parse_env(*parse_dirs, "duckdb")):
        bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    assert bag.dag_ids == [DAG_ID]  # no example DAGs, nothing else
    assert sorted(Path(f).name for f in bag.file_last_changed) == sorted(
        p.name for p in DAGS_FOLDER.glob("*.py")
    )
    # the same check does catch a broken file
    broken = tmp_path / "dags"
    broken.mkdir()
    # (safe mode: Airflow only parses files that mention both "airflow" and "dag")
    (broken / "broken_dag.py").write_text("from airflow.sdk import DAG\nimport no_such_module_rr\n")
    with environment(parse_env(*parse_dirs, "duckdb")):
        bad = DagBag(dag_folder=str(broken))
    assert list(bad.import_errors) == [str(broken / "broken_dag.py")]
    assert "no_such_module_rr" in next(iter(bad.import_errors.values()))


def test_airflow_cli_lists_no_import_errors(airflow_home, tmp_path):
    parse = parse_env(airflow_home.path, tmp_path, "duckdb")
    proc = airflow_home.cli("dags", "list-import-errors", "-l", "-o", "json", extra_env=parse)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json_output(proc.stdout) == []
    # control: the same command on a folder holding a broken DAG file reports it and fails
    broken = tmp_path / "dags"
    broken.mkdir()
    (broken / "broken_dag.py").write_text("from airflow.sdk import DAG\nimport no_such_module_rr\n")
    proc = airflow_home.cli(
        "dags",
        "list-import-errors",
        "-l",
        "-o",
        "json",
        extra_env={**parse, "AIRFLOW__CORE__DAGS_FOLDER": str(broken)},
    )
    assert proc.returncode != 0
    errors = json_output(proc.stdout)
    assert [e["filepath"] for e in errors] == [str(broken / "broken_dag.py")]
    assert "no_such_module_rr" in errors[0]["error"]


def test_schedule_and_run_settings(dag):
    from airflow.timetables.trigger import CronTriggerTimetable

    assert dag.dag_id == DAG_ID
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.serialize() == {
        "expression": "0 9 * * *",
        "timezone": "Asia/Seoul",
        "interval": 0.0,
        "run_immediately": False,
    }
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.default_args["retries"] >= 1
    assert dag.default_args["retry_delay"] > dt.timedelta(0)
    assert {"retailrocket", "kpi"} <= set(dag.tags)
    assert dag.doc_md and "rr_funnel_daily" in dag.doc_md and "target_date" in dag.doc_md


@pytest.fixture(scope="module")
def spark_module(parse_dirs) -> ModuleType:
    env = {**parse_env(*parse_dirs, "spark"), "RR_SPARK_METHOD": "thrift", "RR_SPARK_PORT": "1"}
    env["RR_SPARK_DIR"] = str(parse_dirs[1] / "spark")
    return import_dag_module(env)


def test_max_active_tasks_depends_on_the_warehouse(duckdb_module, postgres_module, spark_module):
    assert duckdb_module.SETTINGS.target == "duckdb"
    assert postgres_module.SETTINGS.target == "postgres"
    assert spark_module.SETTINGS.target == "spark"
    # one writer at a time on the embedded DuckDB file; PostgreSQL and a Spark Thrift Server run
    # dbt tasks side by side (on Spark each append to the run history is a partition of its own)
    assert duckdb_module.dag.max_active_tasks == 1
    assert spark_module.dag.max_active_tasks > 1
    assert postgres_module.dag.max_active_tasks > 1
    assert "duckdb" in duckdb_module.dag.tags and "postgres" in postgres_module.dag.tags
    assert "spark" in spark_module.dag.tags
    # the same tasks on every warehouse, and Cosmos runs dbt on the Spark target of profiles.yml
    assert spark_module.dag.task_ids == duckdb_module.dag.task_ids
    build = spark_module.dag.get_task("dbt.stg_rr_events_model_build")
    assert build.profile_config.target_name == "spark"
    assert build.env["RR_TARGET"] == "spark"


def test_a_local_spark_session_runs_one_task_at_a_time(parse_dirs):
    """RR_SPARK_METHOD=session: each task starts its own Spark on one Derby metastore, which
    admits one process."""
    env = {**parse_env(*parse_dirs, "spark"), "RR_SPARK_METHOD": "session"}
    env["RR_SPARK_DIR"] = str(parse_dirs[1] / "spark")
    assert import_dag_module(env).dag.max_active_tasks == 1


def test_one_cosmos_task_per_dbt_node(dag, manifest):
    """TestBehavior.BUILD: one `dbt build` task per model (the model and its tests, with buildable
    indirect selection), the sources' freshness tasks, and no task of its own for any test; each
    source's tests run in the build task of the model that reads it (Cosmos renders no test task
    for a source under BUILD)."""
    from cosmos.operators.local import DbtBuildLocalOperator, DbtSourceLocalOperator

    exp = expected_tasks(manifest)
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(exp.model_builds) + len(exp.history) == len(models) >= 16
    # the project has each kind
    assert (
        exp.multi_parent_tests and exp.source_tests_in and exp.published_in and exp.qa_views and exp.history
    )
    assert set(dag.task_ids) == exp.all_dbt | PLAIN_TASKS
    assert len(exp.all_dbt) == (
        len(models)
        - len(exp.history)
        - len(exp.published_in)
        - (len(exp.qa_views) - 1)
        + len(set(exp.sources.values()))
    )
    for uid, task_id in exp.model_builds.items():
        task = dag.get_task(task_id)
        assert type(task) is DbtBuildLocalOperator, task_id
        node = manifest["nodes"][uid]
        selected = task.select if isinstance(task.select, list) else [task.select]
        fqn = "fqn:" + ".".join(node["fqn"])
        if uid in exp.published_in:  # after the table it publishes, in the same `dbt build`
            assert fqn in selected[1:], task_id
            assert QA_TASK in task.upstream_task_ids, task_id  # which reads qa.rr_date_certification
        elif uid in exp.qa_views and task_id == QA_TASK and not fqn.endswith(".rr_date_certification"):
            assert fqn in selected[1:], task_id
        else:
            assert selected[0] == fqn, task_id
        assert task.indirect_selection == "buildable", task_id
        assert not task.exclude, task_id
        assert "--no-write-json" in task.dbt_cmd_global_flags, task_id
        assert task.emit_datasets is False, task_id
    for task_id in exp.sources.values():
        task = dag.get_task(task_id)
        assert type(task) is DbtSourceLocalOperator, task_id
        assert "--no-write-json" not in task.dbt_cmd_global_flags  # its sources.json is shown in the UI
    for uid, task_id in exp.source_tests_in.items():
        source = manifest["sources"][uid]
        assert f"source:{source['source_name']}.{source['name']}" in dag.get_task(task_id).select, task_id


def _dbt_ls_tests(selectors: list[str], indirect_selection: str, target_path: Path) -> set[str]:
    """The tests dbt itself selects for `dbt build --select <selectors> --indirect-selection <mode>`
    (dbt ls on the project's manifest: an implementation independent of the DAG's own check)."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        [
            "ls",
            "--select",
            *selectors,
            "--indirect-selection",
            indirect_selection,
            "--resource-type",
            "test",
            "--output",
            "json",
            "--output-keys",
            "unique_id",
            "--quiet",
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--target",
            "duckdb",
            "--target-path",
            str(target_path),
        ]
    )
    assert result.success, result.exception
    return {json.loads(line)["unique_id"] for line in result.result}


def test_every_test_runs_once_in_the_build_of_the_model_that_reads_all_its_parents(
    dag, duckdb_module, manifest, tmp_path
):
    """Each test of the project runs in exactly one task: dbt's own selection (dbt ls with each
    build task's --select and --indirect-selection) puts a test of one model in that model's build,
    and a test of several in the build of the one that reads all the others, never in the build
    of an earlier parent (which would check it against the others' rows of the previous run). The
    DAG's own account (TESTS_RUN_IN, checked at parse time) agrees."""
    from cosmos.operators.local import DbtBuildLocalOperator

    exp = expected_tasks(manifest)
    runs_in: dict[str, list[str]] = {}
    for task in dag.tasks:
        if isinstance(task, DbtBuildLocalOperator):
            selectors = task.select if isinstance(task.select, list) else [task.select]
            for uid in _dbt_ls_tests(selectors, task.indirect_selection, tmp_path):
                runs_in.setdefault(uid, []).append(task.task_id)
    tests = {uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "test"}
    assert set(runs_in) == tests
    assert {uid: tasks for uid, tasks in runs_in.items() if len(tasks) != 1} == {}
    assert runs_in == duckdb_module.TESTS_RUN_IN
    for name, (parents, task_id) in exp.multi_parent_tests.items():
        uid = next(
            u for u, n in manifest["nodes"].items() if n["resource_type"] == "test" and n["name"] == name
        )
        assert runs_in[uid] == [task_id], name
        # ... after the build of every other model it reads
        upstream = dag.get_task(task_id).get_flat_relative_ids(upstream=True)
        for parent in parents:
            other = exp.model_builds.get(parent)
            if other and other != task_id:
                assert other in upstream, (name, other)
    # the eager default would also have run the tests of several models in an earlier parent's build
    eager = _dbt_ls_tests([dag.get_task("dbt.fact_rr_events_model_build").select], "eager", tmp_path)
    assert {manifest["nodes"][u]["name"] for u in eager} >= {
        "gate_rowcount__sessions_add_up_to_events",
        "gate_rowcount__fact_rr_events_match_staging",
    }


def test_a_test_no_build_would_run_fails_the_dag_at_parse_time(duckdb_module):
    """A test of two models neither of which reads the other would run in no build task: the DAG
    refuses to load, naming it, rather than leave its gate unable to certify any date."""
    from types import SimpleNamespace

    from cosmos.operators.local import DbtBuildLocalOperator

    def node(kind: str, name: str, *parents: str) -> SimpleNamespace:
        fqn = ["p", name] if kind == "model" else None
        return SimpleNamespace(
            resource_type=SimpleNamespace(value=kind), fqn=fqn, depends_on=list(parents), resource_name=name
        )

    nodes = {
        "model.p.a": node("model", "a"),
        "model.p.b": node("model", "b"),
        "test.p.a_and_b": node("test", "a_and_b", "model.p.a", "model.p.b"),
        "test.p.a_only": node("test", "a_only", "model.p.a"),
    }
    builds = [
        DbtBuildLocalOperator(task_id=f"b_{m}", select=f"fqn:p.{m}", project_dir="/tmp", profile_config=None)
        for m in "ab"
    ]
    with pytest.raises(
        ValueError, match=r"test\.p\.a_and_b reads model\.p\.a, model\.p\.b: no model among them"
    ):
        duckdb_module._tests_of_each_build(builds, nodes)
    nodes["model.p.b"].depends_on = ["model.p.a"]  # b reads a: the test runs in b's build
    assert duckdb_module._tests_of_each_build(builds, nodes) == {
        "test.p.a_and_b": ["b_b"],
        "test.p.a_only": ["b_a"],
    }


def test_task_order(dag, manifest):
    exp = expected_tasks(manifest)
    resolve, load, fresh, plan, export = (
        dag.get_task(t)
        for t in (
            "resolve_target_date",
            "load_raw_if_changed",
            "check_raw_freshness",
            "plan_window",
            "export_reports",
        )
    )
    assert resolve.upstream_task_ids == set()
    assert load.upstream_task_ids == {"resolve_target_date"}
    assert fresh.upstream_task_ids == {"resolve_target_date", "load_raw_if_changed"}
    assert plan.upstream_task_ids == {"resolve_target_date", "check_raw_freshness"}
    assert fresh.retries == 0  # a date the raw data do not cover stays uncovered on a retry
    assert export.get_flat_relative_ids(upstream=False) == set()
    before_export = export.get_flat_relative_ids(upstream=True)
    for task_id in exp.all_dbt:
        upstream = dag.get_task(task_id).get_flat_relative_ids(upstream=True)
        assert {
            "resolve_target_date",
            "load_raw_if_changed",
            "check_raw_freshness",
            "plan_window",
        } <= upstream, task_id
        assert task_id in before_export, task_id
    # a model runs only after its parent models passed their gates (their build tasks ran their
    # tests); a source's tests run inside its reader's build, before the model
    for uid, build_id in exp.model_builds.items():
        upstream = dag.get_task(build_id).get_flat_relative_ids(upstream=True)
        for parent in model_parents(manifest, uid):
            gate = exp.model_builds.get(parent) or exp.sources.get(parent)
            if gate and gate != build_id:  # a kpi view is built in its table's task
                assert gate in upstream, f"{build_id} does not wait for {gate}"


def _dbt_tasks(dag) -> list[Any]:
    from cosmos.operators.base import AbstractDbtBase

    tasks = [t for t in dag.tasks if isinstance(t, AbstractDbtBase)]
    assert len(tasks) == len(dag.tasks) - len(PLAIN_TASKS)
    return tasks


def test_dbt_tasks_render_the_run_date_and_run_id(dag):
    class FakeTaskInstance:
        def __init__(self) -> None:
            self.pulls: list[tuple[Any, str]] = []

        def xcom_pull(self, task_ids=None, key="return_value", **kwargs):
            self.pulls.append((task_ids, key))
            if key != "return_value":
                return "wrong"
            if task_ids == "resolve_target_date":
                return "2015-09-15"
            if task_ids == "plan_window":
                return {"lookback_days": 6, "window_note": "rebuilt from 2015-09-09: why"}
            return "wrong"

    env = dag.get_template_env()
    for task in _dbt_tasks(dag):
        assert "vars" in task.template_fields, task.task_id
        ti = FakeTaskInstance()
        context = {"ti": ti, "task_instance": ti, "run_id": VARS_TEMPLATE_CONTEXT_RUN_ID}
        rendered = task.render_template(task.vars, context, env)
        assert rendered == {
            "target_date": "2015-09-15",
            "lookback_days": "6",
            "window_note": "rebuilt from 2015-09-09: why",
            "pipeline_run_id": VARS_TEMPLATE_CONTEXT_RUN_ID,
        }, task.task_id
        assert sorted(set(ti.pulls)) == [
            ("plan_window", "return_value"),
            ("resolve_target_date", "return_value"),
        ]


def test_no_secret_is_stored_with_the_dag(duckdb_module, postgres_module):
    from airflow.serialization.serialized_objects import DagSerialization

    for module in (duckdb_module, postgres_module):
        dag = module.dag
        for task in _dbt_tasks(dag):
            assert set(task.env) == DBT_ENV_KEYS, task.task_id
            assert SENTINEL_PASSWORD not in json.dumps(task.env), task.task_id
            assert task.append_env is True  # the worker's own RR_PG_* reach dbt at run time
        assert task.env["RR_TARGET"] == module.SETTINGS.target
        serialized = json.dumps(DagSerialization.to_dict(dag), default=str)
        assert SENTINEL_PASSWORD not in serialized
        assert "RR_PG_PASSWORD" not in serialized
        assert SENTINEL_PASSWORD not in (dag.doc_md or "")


def test_gate_tasks_fail_at_once_while_other_failures_retry(dag, manifest):
    from airflow.sdk.exceptions import AirflowFailException
    from airflow.serialization.serialized_objects import DagSerialization
    from cosmos.exceptions import CosmosDbtRunError

    exp = expected_tasks(manifest)
    restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))  # what the scheduler sees
    for d in (dag, restored):
        assert d.get_task("resolve_target_date").retries == 0
        for task_id in [
            *exp.model_builds.values(),
            *exp.test_tasks,
            "load_raw_if_changed",
            "plan_window",
            "export_reports",
        ]:
            task = d.get_task(task_id)
            assert task.retries >= 1 and task.retry_delay > dt.timedelta(0), task_id

    # what a test task does with dbt's result: a failed test is a gate saying no (never retried),
    # anything else (an error: the warehouse busy, the raw data changed during the run) is retried
    @dataclass
    class Node:
        name: str

    @dataclass
    class Result:
        status: str
        node: Node
        message: str = ""

    @dataclass
    class Outcome:
        results: list

    @dataclass
    class RunnerResult:
        success: bool
        result: Any
        exception: Any = None

    for task_id in exp.test_tasks:
        handle = dag.get_task(task_id).handle_exception
        handle(RunnerResult(True, Outcome([Result("pass", Node("t1"))])))  # passes: nothing raised
        with pytest.raises(AirflowFailException, match="quality gate failed: t2"):
            handle(RunnerResult(False, Outcome([Result("pass", Node("t1")), Result("fail", Node("t2"))])))
        with pytest.raises(CosmosDbtRunError) as error:
            handle(RunnerResult(False, Outcome([Result("error", Node("t3"), "Could not set lock on file")])))
        assert not isinstance(error.value, AirflowFailException)
        with pytest.raises(CosmosDbtRunError):
            handle(RunnerResult(False, None, exception=RuntimeError("warehouse busy")))


PARSE_SCRIPT = r"""
import json, socket, sys, time
attempts = []
def refuse(self, address, *args):
    attempts.append(repr(address))
    raise OSError("network access while parsing the DAG")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
parsed = time.perf_counter()
dag = bag.dags.get("rr_funnel_daily")
print("RESULT " + json.dumps({
    "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "dag_ids": sorted(bag.dag_ids),
    "tasks": len(dag.tasks) if dag else 0,
    "tags": sorted(dag.tags) if dag else [],
    "max_active_tasks": dag.max_active_tasks if dag else None,
    "network_attempts": attempts,
    "airflow_import_seconds": imported - started,
    "parse_seconds": parsed - imported,
}))
"""


def test_parsing_needs_no_database(tmp_path, manifest, record_property):
    """PostgreSQL on a closed port, Airflow's own metadata database unreachable, Python sockets
    refused: the DAG still parses, fully."""
    env = subprocess_env(
        parse_env(tmp_path / "home", tmp_path, "postgres"),
        {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/no_such_dir/airflow.db"},
    )
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, str(DAGS_FOLDER)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["import_errors"] == {}
    assert result["dag_ids"] == [DAG_ID]
    assert result["tasks"] == len(expected_tasks(manifest).all_dbt) + len(PLAIN_TASKS)
    assert "postgres" in result["tags"] and result["max_active_tasks"] > 1
    assert result["network_attempts"] == []
    assert not (tmp_path / "no_such_dir").exists()
    record_property("dag_parse_seconds", round(result["parse_seconds"], 3))
    print(
        f"DAG parse without any database: {result['parse_seconds']:.2f} s "
        f"(airflow import {result['airflow_import_seconds']:.2f} s)"
    )


# -----------------------------------------------------------------------------------------------
# 2. target-date resolution
# -----------------------------------------------------------------------------------------------
@dataclass
class FakeDagRun:
    conf: dict[str, Any] | None
    run_after: dt.datetime
    run_type: str = "scheduled"


class FakeTi:
    """The task instance of a fake context: XComs pushed by one task, pulled by the next."""

    def __init__(self, running: int = 1) -> None:
        self.pushed: dict[tuple[str, str], Any] = {}
        self.running = running  # runs of the DAG in state running, this one included

    def get_dr_count(self, dag_id: str, states: list[str] | None = None, **kwargs: Any) -> int:
        assert dag_id == DAG_ID and states == ["running"] and not kwargs
        return self.running

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[("resolve_target_date", key)] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.pushed.get((task_ids, key))


def fake_context(module: ModuleType, monkeypatch, conf: dict[str, Any] | None, **context: Any) -> dict:
    run_after = context.pop("run_after", pendulum.datetime(2026, 1, 1, tz="UTC"))
    run_type = context.pop("run_type", "scheduled")
    ti = context.pop("ti", None) or FakeTi()
    fake = {"dag_run": FakeDagRun(conf, run_after, run_type), "run_id": "manual__test", "ti": ti, **context}
    monkeypatch.setattr(module, "get_current_context", lambda: fake)
    return fake


def resolve(module: ModuleType, monkeypatch, conf: dict[str, Any] | None, **context: Any) -> str:
    """Call the task's own Python callable with a fake Airflow context."""
    fake_context(module, monkeypatch, conf, **context)
    return module.resolve_target_date.function()


def test_a_ranged_conf_runs_its_last_date_and_passes_its_first(duckdb_module, monkeypatch):
    """conf {start_date, end_date}: the run works as of end_date (every dbt task's target_date),
    its first date goes to the later tasks as XCom start_date, and no report already in the
    folder is touched (a refused date's reports stay; make check names the stale ones)."""
    reports = Path(duckdb_module.REPORTS_DIR)
    reports.mkdir(parents=True, exist_ok=True)
    inside = [reports / n for d in (15, 16, 17) for n in report_names(dt.date(2015, 9, d)).values()]
    outside = [reports / n for d in (14, 18) for n in report_names(dt.date(2015, 9, d)).values()]
    for path in inside + outside:
        path.write_text("earlier\n")
    fake = fake_context(duckdb_module, monkeypatch, {"start_date": "2015-09-15", "end_date": "2015-09-17"})
    assert duckdb_module.resolve_target_date.function() == "2015-09-17"
    assert fake["ti"].pushed[("resolve_target_date", "start_date")] == "2015-09-15"
    assert [p.read_text() for p in inside + outside] == ["earlier\n"] * len(inside + outside)
    # the later tasks read the same dates back
    fake["ti"].pushed[("resolve_target_date", "return_value")] = "2015-09-17"
    got = duckdb_module._run_dates("2015-09-17")
    assert (got.start, got.end) == (dt.date(2015, 9, 15), dt.date(2015, 9, 17))
    # a one-date run pushes its own date as start_date
    fake = fake_context(duckdb_module, monkeypatch, {"target_date": "2015-09-18"})
    assert duckdb_module.resolve_target_date.function() == "2015-09-18"
    assert fake["ti"].pushed[("resolve_target_date", "start_date")] == "2015-09-18"


BAD_RANGES = [
    ({"start_date": "2015-09-15"}, "start_date and end_date go together"),
    ({"end_date": "2015-09-15"}, "start_date and end_date go together"),
    ({"start_date": "2015-09-17", "end_date": "2015-09-15"}, r"end_date \(2015-09-15\) is before start_date"),
    ({"start_date": "2015-09-15", "end_date": "2015-09-31"}, "end_date is not a real calendar date"),
    ({"start_date": None, "end_date": "2015-09-15"}, "start_date must be a calendar date"),
    ({"target_date": "2015-09-15", "end_date": "2015-09-16"}, "target_date cannot be combined"),
]


@pytest.mark.parametrize(("conf", "why"), BAD_RANGES, ids=[str(c) for c, _ in BAD_RANGES])
def test_a_bad_range_fails_without_retry(duckdb_module, monkeypatch, conf, why):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="invalid dag_run.conf: " + why):
        resolve(duckdb_module, monkeypatch, conf)


@pytest.mark.parametrize("run_type", ["backfill", "manual", "scheduled"])
def test_a_run_never_overlaps_another(duckdb_module, monkeypatch, run_type):
    """`airflow backfill create` starts up to 10 runs at once unless --max-active-runs 1: a run
    that finds another one running fails before it touches a report or the warehouse."""
    from airflow.sdk.exceptions import AirflowFailException

    reports = Path(duckdb_module.REPORTS_DIR)
    reports.mkdir(parents=True, exist_ok=True)
    kept = reports / report_names(dt.date(2015, 9, 18))["funnel"]
    kept.write_text("earlier\n")
    logical = pendulum.datetime(2015, 9, 19, 0, tz="UTC")
    with pytest.raises(AirflowFailException, match="1 other run.* --max-active-runs 1"):
        resolve(duckdb_module, monkeypatch, {}, logical_date=logical, run_type=run_type, ti=FakeTi(running=2))
    assert kept.read_text() == "earlier\n"


@pytest.mark.parametrize(
    "conf", [{"target_date": "2015-09-18"}, {"start_date": "2015-09-01", "end_date": "2015-09-18"}]
)
def test_a_backfill_run_takes_its_date_from_its_logical_date_only(duckdb_module, monkeypatch, conf):
    """`airflow backfill create` makes one run per logical date, each reporting the day before it:
    a date in the backfill's conf would make every run report the same dates."""
    from airflow.sdk.exceptions import AirflowFailException

    logical = pendulum.datetime(2015, 9, 19, 0, tz="UTC")  # 09:00 KST
    assert resolve(duckdb_module, monkeypatch, {}, logical_date=logical, run_type="backfill") == "2015-09-18"
    with pytest.raises(AirflowFailException, match="a run of `airflow backfill create` reports"):
        resolve(duckdb_module, monkeypatch, conf, logical_date=logical, run_type="backfill")


def test_conf_target_date_wins(duckdb_module, monkeypatch):
    got = resolve(
        duckdb_module,
        monkeypatch,
        {"target_date": "2015-09-18"},
        logical_date=pendulum.datetime(2026, 3, 1, 9, tz="Asia/Seoul"),
    )
    assert got == "2015-09-18"


MALFORMED = [
    ("2015-02-30", "not a real calendar date"),
    ("2015-9-18", "YYYY-MM-DD"),
    ("18/09/2015", "YYYY-MM-DD"),
    ("2015-09-18 00:00", "YYYY-MM-DD"),
    ("2015-09-18'; drop table raw.raw_rr_events; --", "YYYY-MM-DD"),
    ("{{ ds }}", "YYYY-MM-DD"),
    (20150918, "YYYY-MM-DD"),
    (None, "YYYY-MM-DD"),
    ("", "YYYY-MM-DD"),
    ("none", "YYYY-MM-DD"),
    ("null", "YYYY-MM-DD"),
    (" 2015-09-18", "YYYY-MM-DD"),
    ("2015-09-18\n", "YYYY-MM-DD"),
    (["2015-09-18"], "YYYY-MM-DD"),
]


@pytest.mark.parametrize(("value", "why"), MALFORMED, ids=[repr(v) for v, _ in MALFORMED])
def test_malformed_conf_fails_without_retry(duckdb_module, monkeypatch, value, why):
    from airflow.sdk.exceptions import AirflowFailException

    reports = Path(duckdb_module.REPORTS_DIR)
    reports.mkdir(parents=True, exist_ok=True)
    kept = reports / "rr_funnel_daily_2015-09-18.csv"
    kept.write_text("an earlier report\n")
    with pytest.raises(AirflowFailException) as info:
        resolve(
            duckdb_module,
            monkeypatch,
            {"target_date": value},
            logical_date=pendulum.datetime(2015, 9, 19, 9, tz="Asia/Seoul"),
        )
    assert type(info.value) is AirflowFailException  # the kind Airflow never retries
    message = str(info.value)
    assert message.startswith("invalid dag_run.conf: target_date")
    assert why in message and repr(value) in message
    assert kept.read_text() == "an earlier report\n"  # no date, nothing withdrawn


@pytest.mark.parametrize(
    "logical_date",
    [
        pendulum.datetime(2015, 9, 19, 9, tz="Asia/Seoul"),  # the 09:00 KST trigger = 00:00 UTC
        pendulum.datetime(2015, 9, 19, 0, 0, tz="UTC"),
        pendulum.datetime(2015, 9, 19, 0, 30, tz="UTC"),  # 09:30 KST
        pendulum.datetime(2015, 9, 18, 23, 30, tz="UTC"),  # 08:30 KST on 09-19
    ],
    ids=str,
)
@pytest.mark.parametrize("conf", [None, {}], ids=["conf_none", "conf_empty"])
def test_scheduled_run_reports_on_the_previous_seoul_day(duckdb_module, monkeypatch, logical_date, conf):
    assert resolve(duckdb_module, monkeypatch, conf, logical_date=logical_date) == "2015-09-18"


@pytest.mark.parametrize(
    "conf", [{"target_data": "2015-09-18"}, {"target_date": "2015-09-18", "lookback": 3}]
)
def test_an_unknown_conf_key_fails_instead_of_being_ignored(duckdb_module, monkeypatch, conf):
    """A misspelt key must not quietly run another date (the scheduled one)."""
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(
        AirflowFailException, match=r"invalid dag_run.conf: unknown key\(s\) (target_data|lookback)"
    ):
        resolve(
            duckdb_module, monkeypatch, conf, logical_date=pendulum.datetime(2015, 9, 19, 9, tz="Asia/Seoul")
        )


def test_a_manual_run_without_a_date_reports_the_last_complete_day_covered(duckdb_module, monkeypatch):
    """`make run-dag` without DATE: yesterday in Seoul when the raw data cover it, else the last
    complete day of the data (the rule of seeds_loader/status.py, read from the warehouse)."""
    import seeds_loader.status as status
    from tests.golden_data import kst_ms

    historical = status.RawStatus(100, kst_ms("2015-09-01", "10:00:00"), kst_ms("2015-09-15", "21:00:00"))
    monkeypatch.setattr(status, "read_raw_status", lambda wh: historical)
    now = pendulum.datetime(2026, 12, 1, 2, 30, tz="UTC")
    assert resolve(duckdb_module, monkeypatch, {}, run_after=now, run_type="manual") == "2015-09-14"
    # a scheduled run at the same time reports on yesterday, whatever the data (check_raw_freshness
    # then says the data do not cover it)
    assert resolve(duckdb_module, monkeypatch, {}, run_after=now, logical_date=now) == "2026-11-30"


def test_dbt_tasks_read_the_warehouse_settings_at_run_time(duckdb_module, postgres_module, monkeypatch):
    """The RR_PG_* settings reach dbt through the settings layer when the task runs (the defect: a
    worker whose settings come from .env gave dbt profiles.yml's defaults), never through the DAG."""
    for module in (duckdb_module, postgres_module):
        for task in _dbt_tasks(module.dag):
            assert task._pre_execute_hook is module._warehouse_settings_into_environment, task.task_id
    # the worker's settings (here: the environment; from .env alike) land in the task's environment
    monkeypatch.setenv("RR_TARGET", "postgres")
    monkeypatch.setenv("RR_PG_HOST", "db.example")
    monkeypatch.setenv("RR_PG_PASSWORD", "from-the-settings-layer")
    monkeypatch.setenv("RR_PG_DATABASE", "rr_elsewhere")
    for key in ("RR_PG_PORT", "RR_PG_USER"):
        monkeypatch.delenv(key, raising=False)
    import os

    saved = dict(os.environ)
    try:
        postgres_module._warehouse_settings_into_environment({})
        seen = dict(os.environ)
    finally:  # the hook writes the process environment (a task's own process): undo it here
        os.environ.clear()
        os.environ.update(saved)
    assert seen["RR_PG_HOST"] == "db.example"
    assert seen["RR_PG_PASSWORD"] == "from-the-settings-layer"
    assert seen["RR_PG_DATABASE"] == "rr_elsewhere"
    assert "RR_PG_PORT" in seen and "RR_PG_USER" in seen  # the defaults, set explicitly


def test_scheduled_run_near_seoul_midnight(duckdb_module, monkeypatch):
    # 2015-09-18 15:30 UTC is 09-19 00:30 KST, 14:30 UTC is 09-18 23:30 KST
    late = pendulum.datetime(2015, 9, 18, 15, 30, tz="UTC")
    early = pendulum.datetime(2015, 9, 18, 14, 30, tz="UTC")
    assert resolve(duckdb_module, monkeypatch, None, logical_date=late) == "2015-09-18"
    assert resolve(duckdb_module, monkeypatch, None, logical_date=early) == "2015-09-17"


@pytest.mark.parametrize("has_key", [True, False], ids=["logical_date_none", "no_logical_date_key"])
def test_run_without_logical_date_uses_run_after(duckdb_module, monkeypatch, has_key):
    context = {"logical_date": None} if has_key else {}
    got = resolve(
        duckdb_module, monkeypatch, {}, run_after=pendulum.datetime(2015, 9, 19, 0, 30, tz="UTC"), **context
    )
    assert got == "2015-09-18"


def test_timetable_next_run_reports_on_the_day_before(dag, duckdb_module, monkeypatch):
    from airflow.timetables.base import DataInterval, TimeRestriction

    kst = pendulum.timezone("Asia/Seoul")
    after = pendulum.datetime(2015, 9, 18, 12, tz=kst)
    first = dag.timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=after, latest=None, catchup=True),
    )
    assert first.run_after == pendulum.datetime(2015, 9, 19, 9, tz=kst)
    assert first.logical_date == pendulum.datetime(2015, 9, 19, 0, tz="UTC")
    # and the run after the 2015-09-18 09:00 run
    following = dag.timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval.exact(pendulum.datetime(2015, 9, 18, 9, tz=kst)),
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    assert following.run_after == pendulum.datetime(2015, 9, 19, 9, tz=kst)
    got = resolve(
        duckdb_module, monkeypatch, None, logical_date=first.logical_date, run_after=first.run_after
    )
    assert got == "2015-09-18"


# -----------------------------------------------------------------------------------------------
# 3. end to end: `airflow dags test`
# -----------------------------------------------------------------------------------------------
MARTS = {  # report key -> (mart, documented row order)
    "funnel": ("kpi.mart_rr_funnel_daily", "kpi_date"),
    "cohort": ("kpi.mart_rr_cohort_weekly", "cohort_type, cohort_week, week_index"),
    "crm": ("kpi.mart_rr_crm_targets_daily", "segment_name, segment_rank"),
}
V4_VIEW_ON_D = f"{kst_ms('2015-09-15', '11:00:00')},4,view,200,"


@dataclass
class Stack:
    """A warehouse, its raw folder and its reports folder, as a worker of the DAG sees them."""

    settings: Settings
    reports_dir: Path
    logs: Path

    @property
    def env(self) -> dict[str, str]:
        return warehouse_env(self.settings, self.reports_dir)

    def reports(self) -> dict[str, bytes]:
        return {
            key: (self.reports_dir / name).read_bytes()
            for key, name in report_names(D).items()
            if (self.reports_dir / name).exists()
        }


@dataclass
class GoodRun:
    run: DagTestRun
    reports: dict[str, bytes]
    marts: dict[str, list[list[str]]]  # report key -> header + formatted rows, read after the run
    qa: list[tuple]  # (pipeline_run_id, target_date, window_end, gate, test name, status, invocation_id)
    load_log: list[tuple[str, str]]  # (file_name, sha256), oldest first


def _qa_rows(settings: Settings) -> list[tuple]:
    with connect(settings, create=False) as wh:
        return wh.query(
            "select pipeline_run_id, target_date, window_end, gate, name, status, invocation_id "
            "from qa.rr_node_results where resource_type = 'test' order by started_at, name"
        )


def _load_log(settings: Settings) -> list[tuple[str, str]]:
    with connect(settings, create=False) as wh:
        return [
            tuple(r) for r in wh.query("select file_name, sha256 from raw.raw_rr_load_log order by loaded_at")
        ]


def _formatted_marts(settings: Settings) -> dict[str, list[list[str]]]:
    out = {}
    with connect(settings, create=False) as wh:
        for key, (mart, order) in MARTS.items():
            columns, rows = wh.query_with_columns(
                f"select * from {mart} where kpi_date = %s order by {order}", (D,)
            )
            out[key] = [columns, *[[format_value(v) for v in row] for row in rows]]
    return out


def _good_run(airflow_home: AirflowHome, stack: Stack, name: str) -> GoodRun:
    # Spark: each of the 26 tasks pays a JVM round trip per statement of its hooks (about 25 s a task)
    timeout = 1800 if stack.settings.target == "spark" else 900
    run = airflow_home.dags_test(
        stack.env, {"target_date": D.isoformat()}, stack.logs / f"{name}.log", timeout=timeout
    )
    print(f"{name}: airflow dags test took {run.seconds:.1f} s (exit {run.returncode})")
    assert run.returncode == 0, run.tail()
    return GoodRun(
        run,
        stack.reports(),
        _formatted_marts(stack.settings),
        _qa_rows(stack.settings),
        _load_log(stack.settings),
    )


def _parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _summary_value(summary: str, label: str) -> str:
    values = [
        line[len(label) :].strip()
        for line in summary.splitlines()
        if re.match(re.escape(label) + r"\s", line)
    ]
    assert len(values) == 1, f"summary line {label!r}: {values}"
    return values[0]


def _summary_gates(summary: str) -> dict[str, tuple[str, int, int, int]]:
    """gate -> (status, tests expected, ran, passed), from the summary's gate lines."""
    found = re.findall(r"(?m)^  (gate_\w+)\s+(\w+)\s+(\d+) expected / (\d+) ran / (\d+) passed", summary)
    return {g: (status, int(e), int(r), int(p)) for g, status, e, r, p in found}


def _stable_summary(summary: str, *also: str) -> list[str]:
    return stable_summary_lines(summary, *also)


def assert_good_run(good: GoodRun, dag, manifest) -> None:
    run = good.run
    assert run.run_state == "success", run.tail()
    assert set(run.states) == set(dag.task_ids)
    assert run.tasks_in("success") == set(dag.task_ids), {
        t: s for t, s in run.states.items() if s != "success"
    }

    # the four files, each CSV holding exactly the mart rows of D (each mart column under the
    # name the report layout gives it; the original project's columns first)
    assert sorted(good.reports) == ["cohort", "crm", "funnel", "html", "summary"]
    for key in MARTS:
        layout = REPORT_LAYOUTS[key]
        renamed = {src: column for column, src in (*layout.original, *layout.extras) if isinstance(src, str)}
        got = _parse_csv(good.reports[key])
        assert got[0][: len(layout.original)] == [column for column, _ in layout.original], key
        # every column but the rows' fingerprint and the inputs the report reads without showing
        shown = [
            i for i, c in enumerate(good.marts[key][0]) if c != "row_fingerprint" and c not in layout.inputs
        ]
        assert set(good.marts[key][0][i] for i in shown) == set(renamed), key
        positions = [got[0].index(renamed[good.marts[key][0][i]]) for i in shown]
        assert [[r[i] for i in positions] for r in got[1:]] == [
            [r[i] for i in shown] for r in good.marts[key][1:]
        ], key
        assert good.reports[key].endswith(b"\n") and b"\r" not in good.reports[key]
    funnel = dict(zip(*_parse_csv(good.reports["funnel"]), strict=True))
    # hand-checked golden figures of 2015-09-15 (tests/test_kpi_golden.py)
    golden = {
        "kpi_date": "2015-09-15",
        "visitors": "6",
        "sessions": "7",
        "views": "29",
        "addtocarts": "4",
        "purchases": "2",
        "cvr_session_to_purchase": "0.2857",
    }
    assert {k: funnel[k] for k in golden} == golden
    assert len(good.marts["cohort"]) == 1 + 6
    crm = _parse_csv(good.reports["crm"])
    keys = [(r[crm[0].index("segment_name")], r[crm[0].index("visitor_id")]) for r in crm[1:]]
    assert keys == [
        ("cart_abandoner_today", "6"),
        ("cart_abandoner_today", "2"),
        ("high_intent_viewer_7d_no_cart", "3"),
        ("repeat_buyer", "1"),
    ]

    summary = good.reports["summary"].decode("utf-8")
    assert _summary_value(summary, "target date") == D.isoformat()
    assert _summary_value(summary, "airflow run id") == run.run_id
    assert _summary_value(summary, "pipeline run id") == run.run_id
    found = _summary_gates(summary)
    assert list(found) == list(gates())
    expected = expected_gate_tests(manifest)
    for gate, (status, n_expected, ran, passed) in found.items():
        assert status in ("PASS", "WARN"), found
        assert n_expected == ran == passed == expected[gate], (gate, found[gate])
    assert _summary_value(summary, "  status") == "CERTIFIED"
    # the original project's key=value lines: the run, and one passed line per gate test counted
    assert f"run_id={run.run_id}" in summary.splitlines()
    checks = summary.split("\n[quality_checks]\n", 1)[1].splitlines()
    assert len(checks) == sum(expected.values())
    assert all(re.fullmatch(r"\w+=PASS \(rows=\d+\)", line) for line in checks), checks
    for key in MARTS:
        digest = hashlib.sha256(good.reports[key]).hexdigest()
        assert f"sha256 {digest}" in summary, key

    # the gate log: every test result of this run carries the Airflow run id and the run's date
    mine = [r for r in good.qa if r[0] == run.run_id]
    assert mine, "no qa.quality_check_runs row carries the Airflow run id"
    assert {r[1] for r in mine} == {D}
    assert {r[2] for r in mine} == {D}
    assert {r[3] for r in mine if r[3]} == set(gates())
    assert {r[5] for r in mine} <= {"pass", "warn"}
    # one dbt invocation per task of the DAG that runs tests (each Cosmos task is one invocation):
    # the builds of models with tests (or their source's tests, or a test of several models)
    exp = expected_tasks(manifest)
    assert len({r[6] for r in mine}) == len(exp.tested_builds)


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory) -> Path:
    return write_golden_files(tmp_path_factory.mktemp("golden") / "raw")


def _stack(new_warehouse, tmp_path_factory, golden_dir: Path, target: str) -> Stack:
    folder = tmp_path_factory.mktemp(f"dag_{target}")
    settings = new_warehouse(target, data_dir=folder / "raw")
    settings.data_dir.mkdir(parents=True)
    for src in golden_dir.iterdir():
        (settings.data_dir / src.name).write_bytes(src.read_bytes())
    return Stack(settings, folder / "reports", folder / "logs")


@pytest.fixture(scope="module")
def duckdb_stack(new_warehouse, tmp_path_factory, golden_dir) -> Stack:
    return _stack(new_warehouse, tmp_path_factory, golden_dir, "duckdb")


@pytest.fixture(scope="module")
def duckdb_first(airflow_home, duckdb_stack) -> GoodRun:
    return _good_run(airflow_home, duckdb_stack, "duckdb_first")


@pytest.fixture(scope="module")
def duckdb_second(airflow_home, duckdb_stack, duckdb_first) -> GoodRun:
    return _good_run(airflow_home, duckdb_stack, "duckdb_second")


@dataclass
class FailedRun:
    run: DagTestRun
    reports_before: dict[str, bytes]
    reports_after: dict[str, bytes]
    qa: list[tuple]
    load_log: list[tuple[str, str]]
    events_sha256: str


@pytest.fixture(scope="module")
def duckdb_corrupted(airflow_home, duckdb_stack, duckdb_second) -> FailedRun:
    """The data of D re-delivered with an unknown event type, after two good runs of D."""
    stack = duckdb_stack
    before = stack.reports()
    events = stack.settings.data_dir / "events.csv"
    lines = events.read_text().splitlines()
    assert lines.count(V4_VIEW_ON_D) == 1
    lines[lines.index(V4_VIEW_ON_D)] = V4_VIEW_ON_D.replace(",view,", ",purchase,")
    events.write_text("\n".join(lines) + "\n")
    run = airflow_home.dags_test(
        stack.env, {"target_date": D.isoformat()}, stack.logs / "duckdb_corrupted.log"
    )
    print(f"duckdb_corrupted: airflow dags test took {run.seconds:.1f} s (exit {run.returncode})")
    return FailedRun(
        run,
        before,
        stack.reports(),
        _qa_rows(stack.settings),
        _load_log(stack.settings),
        hashlib.sha256(events.read_bytes()).hexdigest(),
    )


@pytest.fixture(scope="module")
def postgres_first(airflow_home, new_warehouse, tmp_path_factory, golden_dir) -> GoodRun:
    stack = _stack(new_warehouse, tmp_path_factory, golden_dir, "postgres")
    return _good_run(airflow_home, stack, "postgres_first")


@pytest.mark.slow
def test_duckdb_run_writes_the_marts_of_the_date(duckdb_first, dag, manifest):
    assert_good_run(duckdb_first, dag, manifest)
    # the first load of the warehouse: the four files, once each
    assert sorted(f for f, _ in duckdb_first.load_log) == sorted(
        ["events.csv", "category_tree.csv", "item_properties_part1.csv", "item_properties_part2.csv"]
    )
    assert {r[0] for r in duckdb_first.qa} == {duckdb_first.run.run_id}


@pytest.mark.slow
def test_duckdb_second_run_gives_the_same_reports_and_skips_the_raw_load(
    duckdb_first, duckdb_second, dag, manifest
):
    assert_good_run(duckdb_second, dag, manifest)
    first, second = duckdb_first, duckdb_second
    assert second.run.run_id != first.run.run_id
    for key in MARTS:
        assert second.reports[key] == first.reports[key], key
    s1, s2 = (g.reports["summary"].decode() for g in (first, second))
    # the first run on a new warehouse checked every date; the second one its daily window
    assert _summary_value(s1, "  checked window").startswith(
        "2015-09-08 .. 2015-09-15 (rebuilt from 2015-09-08"
    )
    assert _summary_value(s2, "  checked window") == "2015-09-14 .. 2015-09-15"
    assert _stable_summary(s2, "checked window") == _stable_summary(s1, "checked window")
    assert _summary_value(s2, "airflow run id") == second.run.run_id != _summary_value(s1, "airflow run id")
    # the raw files did not change: nothing reloaded, the load log holds the first load only
    assert second.load_log == first.load_log
    for name in ("events.csv", "category_tree.csv", "item_properties_part1.csv", "item_properties_part2.csv"):
        assert re.search(rf"{re.escape(name)}: unchanged", second.run.output), name
        assert not re.search(rf"{re.escape(name)}: loaded", second.run.output), name
    assert {r[0] for r in second.qa} == {first.run.run_id, second.run.run_id}


@pytest.mark.slow
def test_duckdb_corrupted_data_fails_at_its_gate_and_leaves_no_report(duckdb_corrupted, duckdb_second, dag):
    from cosmos.operators.local import DbtBuildLocalOperator

    failed = duckdb_corrupted
    run = failed.run
    assert run.returncode != 0, run.tail()
    assert run.run_state == "failed"
    # the gate: the accepted-values test of stg_rr_events.event_type, in the model's build task
    gate_task = "dbt.stg_rr_events_model_build"
    assert run.tasks_in("failed") == {gate_task}, run.tail()
    assert isinstance(dag.get_task(gate_task), DbtBuildLocalOperator)
    assert (
        "quality gate failed: dbt_expectations_expect_column_values_to_be_in_set_stg_rr_events_event_type"
        in (run.output)
    )
    blocked = dag.get_task(gate_task).get_flat_relative_ids(upstream=False)
    assert "export_reports" in blocked and "dbt.fact_rr_events_model_build" in blocked
    assert run.tasks_in("upstream_failed") == blocked
    assert run.tasks_in("success") == set(dag.task_ids) - blocked - {gate_task}
    # failed at once: a gate is never retried
    assert "up_for_retry" not in run.output
    mine = [r for r in failed.qa if r[0] == run.run_id]
    assert [(r[3], r[5]) for r in mine if "event_type" in r[4] and "in_set" in r[4]] == [
        ("gate_domain", "fail")
    ]
    assert {r[5] for r in mine if r[5] in ("fail", "error")} == {"fail"}
    # the two good runs had written the reports of D: no new report is written and the earlier one
    # is left intact (`make check` calls it STALE: its date is no longer certified)
    assert sorted(failed.reports_before) == ["cohort", "crm", "funnel", "html", "summary"]
    assert failed.reports_after == failed.reports_before
    # only the changed file was reloaded
    assert failed.load_log == [*duckdb_second.load_log, ("events.csv", failed.events_sha256)]


@pytest.mark.slow
def test_malformed_conf_fails_before_any_dbt_task(
    airflow_home, new_warehouse, tmp_path_factory, golden_dir, dag
):
    stack = _stack(new_warehouse, tmp_path_factory, golden_dir, "duckdb")
    bad = "2015-09-18'; drop table raw.raw_rr_events; --"
    run = airflow_home.dags_test(stack.env, {"target_date": bad}, stack.logs / "malformed_conf.log")
    print(f"malformed_conf: airflow dags test took {run.seconds:.1f} s (exit {run.returncode})")
    assert run.returncode != 0, run.tail()
    assert run.run_state == "failed"
    assert run.tasks_in("failed") == {"resolve_target_date"}
    assert run.tasks_in("upstream_failed") == set(dag.task_ids) - {"resolve_target_date"}
    assert (
        f"invalid dag_run.conf: target_date must be a calendar date written YYYY-MM-DD; got {bad!r}"
        in run.output
    )
    assert "up_for_retry" not in run.output
    # nothing touched the warehouse: the raw load never ran, nor did dbt
    assert not stack.settings.duckdb_path.exists()
    assert not stack.reports_dir.exists()


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_run_writes_the_marts_of_the_date(postgres_first, dag, manifest):
    assert_good_run(postgres_first, dag, manifest)
    assert {r[0] for r in postgres_first.qa} == {postgres_first.run.run_id}
    assert len(postgres_first.load_log) == 4


@pytest.mark.slow
@pytest.mark.postgres
def test_duckdb_and_postgres_write_the_same_reports(duckdb_first, postgres_first):
    for key in MARTS:
        assert postgres_first.reports[key] == duckdb_first.reports[key], key
    s_duck, s_pg = (g.reports["summary"].decode() for g in (duckdb_first, postgres_first))
    assert _summary_value(s_duck, "warehouse").startswith("duckdb:")
    assert _summary_value(s_pg, "warehouse").startswith("postgres://")
    assert _stable_summary(s_pg, "warehouse") == _stable_summary(s_duck, "warehouse")


@pytest.fixture(scope="module")
def spark_first(airflow_home, new_warehouse, tmp_path_factory, golden_dir) -> GoodRun:
    """The same daily run on the session's Spark Thrift Server (tests/conftest.py)."""
    stack = _stack(new_warehouse, tmp_path_factory, golden_dir, "spark")
    return _good_run(airflow_home, stack, "spark_first")


@pytest.mark.slow
@pytest.mark.spark
def test_spark_run_writes_the_same_reports_as_duckdb(spark_first, duckdb_first, dag, manifest):
    """The DAG's task layout (each test in the build that reads all its parents, the kpi views in
    their table's build) runs on Spark too: every task succeeds, every gate test ran once and
    passed, and the reports are byte for byte DuckDB's."""
    assert_good_run(spark_first, dag, manifest)
    assert {r[0] for r in spark_first.qa} == {spark_first.run.run_id}
    for key in MARTS:
        assert spark_first.reports[key] == duckdb_first.reports[key], key
    s_duck, s_spark = (g.reports["summary"].decode() for g in (duckdb_first, spark_first))
    assert _summary_value(s_spark, "warehouse").startswith("spark")
    assert _stable_summary(s_spark, "warehouse") == _stable_summary(s_duck, "warehouse")
