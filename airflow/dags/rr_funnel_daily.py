"""rr_funnel_daily: the daily RetailRocket KPI run (raw load -> dbt models and gates -> reports).

Parsing this file reads only environment variables (the RR_* warehouse settings), the dbt
manifest and the project's rules (dbt_project.yml vars, for the gate list in the docs): no
database, no network, no secrets.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.trigger import CronTriggerTimetable
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import (
    ExecutionMode,
    InvocationMode,
    LoadMode,
    SourceRenderingBehavior,
    TestBehavior,
    TestIndirectSelection,
)
from cosmos.operators.local import DbtBuildLocalOperator, DbtTestLocalOperator

from seeds_loader.rules import DateError, RunDates, gates, parse_run_conf, previous_kst_day
from seeds_loader.settings import load_settings

log = logging.getLogger(__name__)

DAG_ID = "rr_funnel_daily"
SETTINGS = load_settings()
DBT_PROJECT_DIR = SETTINGS.root / "dbt_retailrocket"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
REPORTS_DIR = Path(os.environ.get("RR_REPORTS_DIR") or SETTINGS.root / "logs" / "reports")
# One task at a time where the warehouse takes one writer: a DuckDB file admits one process, and
# so does a local Spark's Derby metastore (RR_SPARK_METHOD=session: each task starts its own
# Spark). A Spark Thrift Server takes parallel tasks: each append to the run history writes a
# partition of its own (macro rr_append) and the history's views are built by one task
# (_qa_views_in_one_task).
ONE_WRITER = SETTINGS.target == "duckdb" or (
    SETTINGS.target == "spark" and SETTINGS.spark_method == "session"
)
if SETTINGS.target == "spark" and SETTINGS.spark_method == "session":
    log.warning(
        "RR_SPARK_METHOD=session: every task starts its own Spark (15-25 s each, measured); use a "
        "Spark Thrift Server (RR_SPARK_METHOD=thrift, make spark-up) for Airflow"
    )

if MANIFEST_PATH.is_file():
    LOAD_METHOD = LoadMode.DBT_MANIFEST
else:  # pragma: no cover - `make setup` always builds the manifest
    log.warning(
        "dbt manifest %s is missing (run `make setup`, which runs `dbt parse`): falling back to "
        "LoadMode.DBT_LS, which runs dbt at parse time and needs a migrated Airflow database",
        MANIFEST_PATH,
    )
    LOAD_METHOD = LoadMode.DBT_LS

# The date every dbt task works as of (the run's last date; one date for a daily run), resolved
# and validated by the first task, which also pushes the first date of a ranged run (XCom
# start_date); and the window the certification needs, planned once the raw data is loaded.
TARGET_DATE = "{{ ti.xcom_pull(task_ids='resolve_target_date') }}"
LOOKBACK_DAYS = "{{ ti.xcom_pull(task_ids='plan_window')['lookback_days'] }}"
WINDOW_NOTE = "{{ ti.xcom_pull(task_ids='plan_window')['window_note'] }}"

# Non-secret settings with absolute paths, shown with each dbt task: Cosmos runs dbt in a
# temporary copy of the project, so relative paths must not reach profiles.yml. The rest (the
# RR_PG_* server, user and password) never go into a template field, which Airflow would store
# with the task: `_warehouse_settings_into_environment` reads them at run time from the same
# settings layer as the loader and the export (the environment, then .env), so dbt always builds
# and tests the warehouse the other tasks use.
DBT_ENV = {
    key: value
    for key, value in SETTINGS.dbt_env().items()
    if key in ("RR_TARGET", "RR_DUCKDB_PATH", "RR_DATA_DIR", "RR_PROJECT_ROOT")
}


def _warehouse_settings_into_environment(context) -> None:
    """pre_execute of every dbt task: the task process's environment gets every RR_* setting, so
    profiles.yml (env_var) sees the same warehouse as load_settings() (Cosmos' dbt runner reads the
    process environment: append_env)."""
    os.environ.update(load_settings().dbt_env())


# The views of schema kpi: the certified rows of each kpi_build table (write-audit-publish's
# publish step; docs block rr_certification).
PUBLISHED_VIEWS = "path:models/kpi/published"
# The run history and the certification: its tables are created by the hooks of every dbt run
# (no task: a build of one costs dbt's start-up and changes nothing), its views built by one task
# (_qa_views_in_one_task) before any view of schema kpi that reads them.
QA_MODELS = "path:models/qa"
QA_HISTORY = "path:models/qa/history"
# the task of the certification view builds the other views of qa too: they are not rendered
QA_TASK_VIEW = "rr_date_certification"
QA_VIEWS_EXCLUDED = sorted(
    f"fqn:retailrocket.qa.{path.stem}"
    for path in (DBT_PROJECT_DIR / "models" / "qa").glob("*.sql")
    if path.stem != QA_TASK_VIEW
)

GATES_TEXT = ", ".join(f"`{gate}`" for gate in gates())

DOC_MD = f"""
### rr_funnel_daily

The daily KPI run of **retailrocket-kpi** on the `{SETTINGS.target}` warehouse.

1. `resolve_target_date`: the date D the run reports on. `dag_run.conf["target_date"]`
   (a strict `YYYY-MM-DD` real date; anything else fails the run before any dbt task), or a range
   `{{"start_date": S, "end_date": E}}` (a backfill in one run: the window S .. E is built and
   checked once and the reports of every certified date are written), or the Asia/Seoul day
   before the run's logical date: the 09:00 KST run of 2015-09-19 reports on 2015-09-18 (runs of
   `airflow backfill create` too, which take no dates in their conf). A manual run without a date
   reports on the last complete day the raw data cover.
2. `load_raw_if_changed`: the four raw files in `RR_DATA_DIR` must be present; each table is
   reloaded only when its files' sha256 differ from the last load in `raw.raw_rr_load_log`; the
   log names the Asia/Seoul dates a re-delivery changed.
3. `check_raw_freshness`: the raw events must cover every date of the run (events after the
   end of D exist); a date they do not reach fails here, with the date the data end on. The first and last days of the
   data are partial: a warning. `dbt source freshness` (the dbt group's source task) warns when
   the last delivery is over 2 days old.
4. `plan_window`: the dates to rebuild and check, D - 1 .. D (S - 1 .. E for a range), widened
   back to the first date that is not certified under the locked definitions (a re-delivery that
   changed an older date, an earlier failed run, a new definitions version).
5. `dbt`: one task per model, `dbt build` of the model (incremental by date over that window)
   and its tests, after the tests of the raw source it reads; a test of several models runs in
   the build of the one that reads the others, and each view of schema `kpi` in the build of the
   table it publishes. The views of schema `qa` (the certification) are built by one task first;
   the run history's tables are the hooks' (they create what is missing). The tests are the
   quality gates ({GATES_TEXT}); a run whose definitions differ from the lock certifies nothing.
   A failing gate fails its task at once (a retry cannot change the data) and nothing downstream
   runs; any other failure (the warehouse busy, the raw data changed during the run) is retried.
6. `export_reports`: writes the funnel, cohort and CRM CSVs, the HTML page and the pipeline summary of D to
   `{REPORTS_DIR}` only if D is certified (every test of every gate checked its numbers, on the
   raw data now loaded, under the locked definitions) and its rows are those the gates checked,
   with a manifest of their sha256. A range writes the reports of each certified date, then fails
   naming the dates it refused (if any): each date's reports stand on that date's own
   certification. A refused date's reports already in the folder are left as they are
   (`make check` says whether they still hold).

Unpausing starts a run for the last 09:00 KST that has passed (catchup is off), reporting on the
day before it: on a historical data set it stops in `check_raw_freshness`.

Backfill one date: trigger with conf `{{"target_date": "2015-09-18"}}` (or `make run-dag DATE=2015-09-18`);
a range: conf `{{"start_date": "2015-05-03", "end_date": "2015-09-18"}}` (or
`make backfill START=2015-05-03 END=2015-09-18`).
"""


@task(retries=0)
def resolve_target_date() -> str:
    """The run's Asia/Seoul (last) date as YYYY-MM-DD; a ranged run also pushes XCom ``start_date``
    (its first date). Fails the run, without retries, on an invalid conf (``parse_run_conf``)."""
    context = get_current_context()
    dag_run = context["dag_run"]
    try:
        asked = parse_run_conf(dag_run.conf)
    except DateError as exc:
        raise AirflowFailException(f"invalid dag_run.conf: {exc}") from None
    run_type = str(dag_run.run_type).lower()
    if asked is not None and run_type.endswith("backfill"):
        # `airflow backfill create --dag-run-conf`: every run of the backfill would report the
        # same dates instead of the day before its own logical date
        raise AirflowFailException(
            "invalid dag_run.conf: a run of `airflow backfill create` reports the Asia/Seoul day "
            "before its logical date; give no target_date/start_date/end_date in its conf"
        )
    # Runs of this DAG rebuild the same tables and must never overlap. The DAG's max_active_runs
    # holds back scheduled and manual runs, not the runs of `airflow backfill create`, which have
    # their own limit (10 unless --max-active-runs 1): a run that finds another one running stops
    # here, before it touches the warehouse.
    running = context["ti"].get_dr_count(dag_id=DAG_ID, states=["running"])
    if running > 1:
        raise AirflowFailException(
            f"{running - 1} other run(s) of {DAG_ID} are running: its runs rebuild the same tables and "
            "must run one at a time (airflow backfill create ... --max-active-runs 1, or one ranged run: "
            "conf start_date/end_date)"
        )
    if asked is not None:
        log.info("dates %s from dag_run.conf", asked.describe())
    elif run_type.endswith("manual"):
        # A manual run without a date (`make run-dag`): the date a run started now reports on,
        # i.e. yesterday in Asia/Seoul, or the last complete day when the raw data end earlier.
        from seeds_loader.status import read_raw_status
        from seeds_loader.warehouse import connect

        instant = dag_run.run_after
        with connect(load_settings()) as wh:
            status = read_raw_status(wh)
        d = previous_kst_day(instant) if status is None else status.default_report_date(instant)
        asked = RunDates(d, d)
        log.info("target date %s: a manual run without a date in its conf, started %s", d, instant)
    else:
        instant = context.get("logical_date") or dag_run.run_after
        d = previous_kst_day(instant)
        asked = RunDates(d, d)
        log.info("target date %s: the Asia/Seoul day before the logical date %s", d, instant)
    context["ti"].xcom_push(key="start_date", value=asked.start.isoformat())
    return asked.end.isoformat()


def _run_dates(target_date: str) -> RunDates:
    """The run's dates: XCom ``start_date`` of resolve_target_date .. ``target_date``."""
    ti = get_current_context()["ti"]
    start = ti.xcom_pull(task_ids="resolve_target_date", key="start_date") or target_date
    return RunDates(dt.date.fromisoformat(start), dt.date.fromisoformat(target_date))


@task
def load_raw_if_changed() -> dict[str, str]:
    """The raw load of whatever changed since the last load (the four files must be present)."""
    from seeds_loader.load import FILE_NAMES, load

    settings = load_settings()
    missing = [name for name in FILE_NAMES if not (settings.data_dir / name).is_file()]
    if missing:
        raise AirflowFailException(f"raw files missing in {settings.data_dir}: {', '.join(missing)}")
    report = load(settings, only_changed=True, progress=False)
    outcome = {
        name: ("unchanged" if f.skipped else f"loaded {f.rows} rows") for name, f in report.files.items()
    }
    for name, what in outcome.items():
        log.info("%s: %s", name, what)
    if report.changes is not None:
        log.info("load %s changed these Asia/Seoul dates: %s", report.load_id, report.changes.describe())
        outcome["changed_dates"] = report.changes.describe()
    return outcome


@task(retries=0)
def check_raw_freshness(target_date: str) -> str:
    """The raw data must cover every date of the run (the rule: ``RawStatus.coverage`` in
    seeds_loader/status.py), and the age of the last delivery is logged (from the load log).

    A date the raw events do not reach fails here, before any dbt task (a retry cannot change
    it); the first and the last day of the data are partial: a warning, as the volume band gives,
    and the summary says so. `dbt source freshness` itself runs as the dbt group's source task
    (``dbt.retailrocket_raw_raw_rr_events.source``): it warns when the last delivery is over 2
    days old.
    """
    from seeds_loader.status import read_raw_status
    from seeds_loader.warehouse import connect

    settings = load_settings()
    with connect(settings) as wh:
        status = read_raw_status(wh)
        delivered = wh.query(
            "select max(loaded_at) from raw.raw_rr_load_log where table_name = 'raw_rr_events'"
        )[0][0]
    if status is None:
        raise AirflowFailException(f"no raw events in {settings.describe()}: the load found nothing to load")
    log.info("last delivery of events.csv loaded at %s UTC", delivered)
    coverages = [status.coverage(d) for d in _run_dates(target_date).dates()]
    for coverage in coverages:
        if not coverage.usable:
            raise AirflowFailException(coverage.message)
    for coverage in coverages:
        if coverage.state == "partial":
            log.warning("raw coverage: %s", coverage.message)
        elif len(coverages) == 1:
            log.info("raw coverage: %s", coverage.message)
    states = {c.state for c in coverages}
    return "partial" if "partial" in states else "complete"


@task
def plan_window(target_date: str) -> dict[str, object]:
    """The window of the dbt tasks: S - 1 .. D (S = D for a daily run), from the first uncertified
    date when earlier."""
    from exports.certification import plan_window as plan
    from seeds_loader.warehouse import connect

    dates = _run_dates(target_date)
    with connect(load_settings()) as wh:
        window = plan(wh, dates.end, (dates.end - dates.start).days + 1)
    if window.note:
        log.info("window widened: %s", window.note)
    log.info("dbt window: %s .. %s", window.start or "the first date", target_date)
    return {"lookback_days": window.lookback_days, "window_note": window.note or ""}


@task
def export_reports(target_date: str) -> list[str]:
    """The reports of each date of the run (CSVs, HTML page, summary), only from data that passed
    every gate; a date that is not certified is refused (its reports are not written) and fails
    the task, naming it, after the certified dates' reports are written."""
    from exports.report import export_dates

    context = get_current_context()
    written, refused = export_dates(
        load_settings(),
        _run_dates(target_date).dates(),
        REPORTS_DIR,
        airflow_run_id=context["run_id"],
    )
    paths = [str(p) for result in written for p in result.paths]
    for path in paths:
        log.info("wrote %s", path)
    if refused:  # not certified: a retry cannot change that
        raise AirflowFailException("; ".join(str(exc) for exc in refused))
    return paths


def _gate_failure_fails_at_once(dbt_task: DbtTestLocalOperator | DbtBuildLocalOperator):
    """Cosmos' result handler of a test or build task, except that a failed test (a gate saying
    no) raises AirflowFailException, which Airflow does not retry."""
    handle = dbt_task.handle_exception_dbt_runner

    def handle_result(result) -> None:
        outcome = getattr(result, "result", None)
        failed = [
            r
            for r in getattr(outcome, "results", None) or []
            if str(getattr(r, "status", "")) == "fail" and getattr(r.node, "resource_type", "test") == "test"
        ]
        if not result.success and failed:
            names = ", ".join(r.node.name for r in failed)
            raise AirflowFailException(f"quality gate failed: {names}")
        handle(result)

    return handle_result


def _source_tests_run_in_their_readers(dbt_tasks, nodes) -> dict[str, list[str]]:
    """Under TestBehavior.BUILD Cosmos renders a raw source as its freshness task only, so the
    source's own tests (gate_domain on the raw data, e.g. timestamps in seconds) would never run
    and no date could be certified. They go into the build of each model that reads the source
    and reads no other model that does (those run after it, and are skipped when it fails):
    `dbt build --select <model> source:<source>` runs them first and stops the model when one
    fails. ``nodes`` is the graph Cosmos parsed (``DbtTaskGroup.dbt_graph.filtered_nodes``).
    Returns {model task id: [the sources added]}."""
    reads: dict[str, set[str]] = {}  # model -> the tested sources it reads
    for uid, node in nodes.items():
        if node.resource_type.value == "model" and node.fqn:
            reads[uid] = {
                p
                for p in node.depends_on
                if p in nodes and nodes[p].resource_type.value == "source" and nodes[p].has_test
            }

    def upstream_reads(uid: str, seen: set[str]) -> set[str]:
        found: set[str] = set()
        for parent in nodes[uid].depends_on if uid in nodes else []:
            if parent in reads and parent not in seen:
                seen.add(parent)
                found |= reads[parent] | upstream_reads(parent, seen)
        return found

    readers: dict[str, list[str]] = {}
    for uid, sources in reads.items():
        first = sorted(sources - upstream_reads(uid, set()))
        if first:
            readers["fqn:" + ".".join(nodes[uid].fqn)] = [f"source:{nodes[s].resource_name}" for s in first]
    added: dict[str, list[str]] = {}
    for dbt_task in dbt_tasks:
        if isinstance(dbt_task, DbtBuildLocalOperator) and dbt_task.select in readers:
            added[dbt_task.task_id] = readers[dbt_task.select]
            dbt_task.select = [dbt_task.select, *added[dbt_task.task_id]]
    return added


def _selectors(dbt_task) -> list[str]:
    """A Cosmos task's --select as a list (Cosmos gives one selector as a string)."""
    return dbt_task.select if isinstance(dbt_task.select, list) else [dbt_task.select]


def _published_views_in_their_builds(dbt_tasks, nodes) -> dict[str, list[str]]:
    """Each view of schema kpi (models/kpi/published) is built by the task that builds the table
    it publishes, after that table and its tests: `dbt build --select <table> <view>`. A view
    costs dbt's start-up and no data, so it gets no task of its own (Cosmos renders none:
    RenderConfig exclude), and the exclude Cosmos forwards to every build command is taken back
    from them. ``nodes`` is every node Cosmos parsed (``DbtTaskGroup.dbt_graph.nodes``).
    Returns {task id: [the views added]}."""
    views: dict[str, list[str]] = {}
    for node in nodes.values():
        if node.resource_type.value != "model" or not str(node.original_file_path).startswith(
            PUBLISHED_VIEWS.removeprefix("path:")
        ):
            continue
        tables = [
            p
            for p in node.depends_on
            if p in nodes
            and nodes[p].resource_type.value == "model"
            and not str(nodes[p].original_file_path).startswith(QA_MODELS.removeprefix("path:"))
        ]
        if len(tables) != 1:
            raise ValueError(f"published view {node.unique_id} must read one kpi_build table, reads {tables}")
        views.setdefault("fqn:" + ".".join(nodes[tables[0]].fqn), []).append("fqn:" + ".".join(node.fqn))
    added: dict[str, list[str]] = {}
    for dbt_task in dbt_tasks:
        exclude = dbt_task.exclude if isinstance(dbt_task.exclude, list) else (dbt_task.exclude or "").split()
        if PUBLISHED_VIEWS in exclude:
            dbt_task.exclude = [e for e in exclude if e != PUBLISHED_VIEWS] or None
        if isinstance(dbt_task, DbtBuildLocalOperator):
            selectors = _selectors(dbt_task)
            if selectors[0] in views:
                added[dbt_task.task_id] = views.pop(selectors[0])
                dbt_task.select = [*selectors, *added[dbt_task.task_id]]
    if views:
        raise ValueError(f"published views without a build task of their table: {views}")
    return added


def _qa_views_in_one_task(dbt_models: DbtTaskGroup) -> str:
    """The views of schema qa (the certification, the gate history, the row fingerprints, the
    lock) are built by one task, the one Cosmos rendered for the first of them, and every task
    that builds a view of schema kpi (which reads qa.rr_date_certification) runs after it. The
    others get no task of their own (RenderConfig exclude). Returns that task's id."""
    nodes = dbt_models.dbt_graph.nodes
    views = sorted(
        "fqn:" + ".".join(node.fqn)
        for node in nodes.values()
        if node.resource_type.value == "model"
        and str(node.original_file_path).startswith(QA_MODELS.removeprefix("path:"))
        and not str(node.original_file_path).startswith(QA_HISTORY.removeprefix("path:"))
    )
    tasks = list(dbt_models.iter_tasks())
    own = f"fqn:retailrocket.qa.{QA_TASK_VIEW}"
    qa_task = next(t for t in tasks if isinstance(t, DbtBuildLocalOperator) and _selectors(t)[0] == own)
    qa_task.select = [own, *(v for v in views if v != own)]
    published = "fqn:" + ".".join(("retailrocket", *PUBLISHED_VIEWS.removeprefix("path:models/").split("/")))
    for dbt_task in tasks:
        # Cosmos forwards the render excludes to every command: this task builds those views, and
        # no --select reaches the history tables
        exclude = dbt_task.exclude if isinstance(dbt_task.exclude, list) else (dbt_task.exclude or "").split()
        dbt_task.exclude = [e for e in exclude if e not in (QA_HISTORY, *QA_VIEWS_EXCLUDED)] or None
        reads_certification = any(s.startswith(published + ".") for s in _selectors(dbt_task))
        if dbt_task is not qa_task and isinstance(dbt_task, DbtBuildLocalOperator) and reads_certification:
            dbt_task.set_upstream(qa_task)
    return qa_task.task_id


def _tests_of_each_build(dbt_tasks, nodes) -> dict[str, list[str]]:
    """Where each dbt test runs. A build task runs `dbt build --select <model> [source:<s> ...]
    --indirect-selection buildable`: dbt then takes a test of a selected node when every node the
    test reads is selected or an ancestor of one. A test of one model runs in that model's build;
    a test of several runs once, in the build of the one that reads all the others, after they
    were rebuilt in this run (under `eager`, it would also run in the first parent's build, against
    the others' rows of the previous run). Returns {test unique_id: [task ids]}.

    Raises at parse time, naming the test, when a test would run in no task: its gate would never
    check a date, and no date could be certified (a test of two models neither of which reads the
    other, for example)."""
    ancestors: dict[str, set[str]] = {}

    def ancestors_of(uid: str) -> set[str]:
        if uid not in ancestors:
            found: set[str] = set()
            for parent in nodes[uid].depends_on if uid in nodes else []:
                found |= {parent, *ancestors_of(parent)}
            ancestors[uid] = found
        return ancestors[uid]

    # each build task: (the nodes it selects, those and their ancestors)
    reach: dict[str, tuple[set[str], set[str]]] = {}
    for dbt_task in dbt_tasks:
        if isinstance(dbt_task, DbtBuildLocalOperator):
            selectors = _selectors(dbt_task)
            selected = {
                uid
                for uid, node in nodes.items()
                if (node.resource_type.value == "model" and "fqn:" + ".".join(node.fqn or []) in selectors)
                or (node.resource_type.value == "source" and f"source:{node.resource_name}" in selectors)
            }
            reach[dbt_task.task_id] = (selected, selected.union(*(ancestors_of(s) for s in selected)))
    runs_in: dict[str, list[str]] = {}
    for uid, node in nodes.items():
        if node.resource_type.value != "test":
            continue
        parents = set(node.depends_on)
        runs_in[uid] = [
            task_id
            for task_id, (selected, readable) in reach.items()
            if parents & selected and parents <= readable
        ]
        if not runs_in[uid]:
            raise ValueError(
                f"dbt test {uid} reads {', '.join(sorted(parents))}: no model among them reads all the "
                "others, so no build task of rr_funnel_daily would run it (its gate could never "
                "certify a date); make one of its models depend on the others, or test them one by one"
            )
    return runs_in


with DAG(
    dag_id=DAG_ID,
    description="RetailRocket KPI funnel: raw load, dbt models and quality gates, reports",
    schedule=CronTriggerTimetable("0 9 * * *", timezone="Asia/Seoul"),
    start_date=pendulum.datetime(2015, 5, 4, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1 if ONE_WRITER else 8,
    is_paused_upon_creation=True,
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=5),
    },
    tags=["retailrocket", "kpi", "dbt", "cosmos", SETTINGS.target],
    doc_md=DOC_MD,
) as dag:
    target_date = resolve_target_date()

    dbt_models = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR,
            manifest_path=MANIFEST_PATH if LOAD_METHOD == LoadMode.DBT_MANIFEST else None,
            project_name="retailrocket",
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name="retailrocket",
            target_name=SETTINGS.target,
            profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
            test_indirect_selection=TestIndirectSelection.BUILDABLE,
        ),
        render_config=RenderConfig(
            load_method=LOAD_METHOD,
            # one task per model: `dbt build` of the model and its tests (half the tasks of
            # AFTER_EACH, and half its time: measured in docs/performance.md)
            test_behavior=TestBehavior.BUILD,
            should_detach_multiple_parents_tests=False,
            # the raw sources carry gate tests (e.g. timestamps in seconds): render them too
            source_rendering_behavior=SourceRenderingBehavior.WITH_TESTS_OR_FRESHNESS,
            env_vars=DBT_ENV,
            # Cosmos' Airflow assets (one per table a task builds): nothing in this project
            # schedules on them, and on Airflow 3 each task spent about 0.5 s on them (measured),
            # logging a warning per table that Airflow 3 no longer accepts their OpenLineage URIs
            emit_datasets=False,
            # the kpi schema's views are built by the task of the table each one publishes
            # (_published_views_in_their_builds), qa's by one task (_qa_views_in_one_task), the
            # run history's tables by the hooks
            exclude=[PUBLISHED_VIEWS, QA_HISTORY, *QA_VIEWS_EXCLUDED],
        ),
        operator_args={
            "vars": {
                "target_date": TARGET_DATE,
                "lookback_days": LOOKBACK_DAYS,
                "window_note": WINDOW_NOTE,
                "pipeline_run_id": "{{ run_id }}",
            },
            "env": DBT_ENV,
            "append_env": True,
            "pre_execute": _warehouse_settings_into_environment,
        },
    )

    # A failing dbt test is a quality gate saying no: retrying it cannot change the answer and only
    # holds the run (and `make run-dag`) for retries x retry_delay, so it fails the task at once.
    # Anything else a test task meets (the warehouse busy, the raw data changed under the run) is
    # retried like a model run.
    for dbt_task in dbt_models.iter_tasks():
        if isinstance(dbt_task, DbtTestLocalOperator | DbtBuildLocalOperator):
            dbt_task.handle_exception_dbt_runner = _gate_failure_fails_at_once(dbt_task)
            # dbt's JSON artifacts (manifest.json, run_results.json) would be written into Cosmos'
            # temporary copy of the project and deleted with it: about 0.5 s of every build task
            # (measured). The run history keeps every result (on-run-end); the source tasks keep
            # writing sources.json, which Cosmos shows as their rendered freshness.
            dbt_task.dbt_cmd_global_flags = [*(dbt_task.dbt_cmd_global_flags or []), "--no-write-json"]
    _source_tests_run_in_their_readers(dbt_models.iter_tasks(), dbt_models.dbt_graph.filtered_nodes)
    _published_views_in_their_builds(dbt_models.iter_tasks(), dbt_models.dbt_graph.nodes)
    QA_TASK = _qa_views_in_one_task(dbt_models)
    TESTS_RUN_IN = _tests_of_each_build(dbt_models.iter_tasks(), dbt_models.dbt_graph.nodes)

    loaded = load_raw_if_changed()
    covered = check_raw_freshness(target_date)
    window = plan_window(target_date)
    target_date >> loaded >> covered >> window >> dbt_models >> export_reports(target_date)
