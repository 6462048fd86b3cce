"""Locked definitions (docs block rr_definitions): a number is certified only under the definitions
the committed lock pins, and a report says which.

An adversarial analyst's attempts of issue 24, each on a clone of a certified golden warehouse:
1. the session rule changed (the macro rr_session_gap_ms edited: 30 -> 60 minutes);
2. a KPI's SQL changed (mart_rr_cohort_weekly filtered differently);
3. a definition var given at run time (--vars crm_high_intent_min_views: 3);
4. the gate set shrunk by a var (--vars quality_gates, with --exclude of a gate's tests).
Each ends with the date refused, the refusal naming what differs, and the earlier report left as
it was. A legitimate change certifies once it is locked, under a new version; reverting it gives
the first fingerprint, and version, back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exports import definitions
from exports.definitions import current_definitions, differences, new_lock, read_lock, write_lock
from tests.attack_support import (
    DATES,
    D,
    Golden,
    build_golden,
    certification_of,
    dbt_in,
    export_cli,
    files,
    make_check,
    project_copy,
)
from tests.dbt_support import DBT_PROJECT_DIR, query, run_dbt

pytestmark = pytest.mark.slow

GAP_30 = "    1800000\n{%- endmacro %}"

# an attack whose mechanism is the project's Jinja, the same on every warehouse, runs on DuckDB
# only; the session-rule and run-then-test attacks run on PostgreSQL too
ONE_WAREHOUSE = pytest.mark.parametrize("target", ["duckdb"])


@pytest.fixture(scope="module")
def goldens(new_warehouse, tmp_path_factory) -> dict[str, Golden]:
    return {
        target: build_golden(new_warehouse, tmp_path_factory.mktemp(f"defs_{target}"), target)
        for target in ("duckdb", "postgres")
    }


def refused(wh: Golden, tmp_path: Path) -> str:
    """The export of D is refused: exit 1, one line, nothing written; the earlier report of D is
    left as it was. Returns the reason."""
    before = files(wh.reports)
    cli = export_cli(wh.settings, wh.reports)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    [line] = cli.stderr.splitlines()
    assert line.startswith(f"REFUSED: no report for {D}: "), line
    assert files(wh.reports) == before
    return line.removeprefix(f"REFUSED: no report for {D}: ")


def test_the_committed_lock_is_current():
    """A definition changes only on purpose: a change without `make lock-definitions` fails here,
    naming what differs."""
    lock = read_lock()
    current = current_definitions()
    assert differences(current, lock) == []
    assert definitions.version_problems(lock) == []
    assert definitions.sha256_of(current["listing"]) == lock["definitions_sha256"]
    # every entry has a version and a reason per version, the gates come from the lock
    assert all(
        e["version"] >= 1 and e["history"] and all(h["reason"] for h in e["history"])
        for e in lock["entries"].values()
    )
    assert lock["rules"]["quality_gates"] == [
        "gate_domain",
        "gate_integrity",
        "gate_nulls",
        "gate_rowcount",
        "gate_kpi_range",
    ]
    assert lock["rules"]["session_gap"] == "30 min"


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_every_warehouse_computes_the_lock_s_fingerprint(target, goldens):
    """The definitions leave the warehouse and the run window out: the golden build (every date)
    and a daily build of D ran under the lock's version on both warehouses."""
    wh = goldens[target]
    lock = read_lock()
    found = query(
        wh.settings, "select distinct definitions_sha256, definitions_version from qa.rr_invocations"
    )
    assert found == [(lock["definitions_sha256"], lock["definitions_version"])]
    assert certification_of(wh.settings) == (True, None, lock["definitions_version"])
    # the key of the project's files is recorded as making them: later invocations on the same
    # files read it instead of computing the definitions (rr_definitions_key)
    keyed = query(
        wh.settings, "select distinct definitions_sha256 from qa.rr_definition_texts where kind = 'files'"
    )
    assert keyed == [(lock["definitions_sha256"],)]


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_changed_session_rule_certifies_nothing_until_locked(target, attacked, tmp_path):
    """Attack 1: the session gap edited to 60 minutes. The run certifies nothing and says so in
    words; once locked it certifies under v2 (summary and page say 60 minutes); reverting it gives
    the first fingerprint and version back."""
    wh = attacked(target)
    lock = read_lock()
    project = project_copy(tmp_path)
    helpers = project / "macros" / "rr_sql_helpers.sql"
    text = helpers.read_text()
    assert text.count(GAP_30) == 1
    helpers.write_text(text.replace(GAP_30, "    3600000\n{%- endmacro %}"))
    run = dbt_in(project, wh.settings, "build", "--exclude", "test_type:unit", target_path=tmp_path / "t",
                 vars={"target_date": D.isoformat()})  # fmt: skip
    assert run.returncode == 0, run.output[-3000:]
    why = f"definitions differ from the lock (definitions v{lock['definitions_version']}): session gap 30 min → 60 min (macro rr_session_gap_ms)"
    assert f"WARNING: {why}; this run certifies nothing" in run.output
    assert refused(wh, tmp_path) == why
    assert certification_of(wh.settings) == (False, why, None)
    # analysts reading schema kpi do not see the dates the run rebuilt
    assert [
        r[0] for r in query(wh.settings, "select kpi_date from kpi.mart_rr_funnel_daily order by 1")
    ] == DATES[:-2]
    check = make_check(wh.settings, wh.reports)
    assert check.returncode == 1 and why in check.stdout, check.stdout

    # locked on purpose (the lock of the copy): a new version, a full rebuild certifies under it
    current = current_definitions(project)
    changed = differences(current, lock)
    assert "session gap 30 min → 60 min" in changed and "macro rr_session_gap_ms: SQL changed" in changed
    v2 = new_lock(current, lock, "sessions end after 60 minutes", definitions.installed_versions())
    assert v2["definitions_version"] == lock["definitions_version"] + 1
    assert v2["entries"]["macro rr_session_gap_ms"]["version"] == 2
    assert v2["entries"]["var crm_segment_cap"] == lock["entries"]["var crm_segment_cap"]
    write_lock(v2, project / "models" / "qa" / "_qa__definitions_lock.yml")
    # (its unit tests still pin 30 minutes: a real change updates them in the same commit)
    run = dbt_in(project, wh.settings, "build", "--exclude", "test_type:unit", target_path=tmp_path / "t")
    assert run.returncode == 0 and f"{len(DATES)} of {len(DATES)} dates certified" in run.output, run.output[
        -3000:
    ]
    assert certification_of(wh.settings) == (True, None, v2["definitions_version"])
    # V4's views at 11:00 and 11:31 are one session under the 60-minute rule: 7 -> 6 sessions
    assert query(wh.settings, "select sessions from kpi.mart_rr_funnel_daily where kpi_date = %s", (D,)) == [
        (6,)
    ]

    # reverted: the first fingerprint, and the first version number, come back
    helpers.write_text(text)
    reverted = current_definitions(project)
    assert definitions.sha256_of(reverted["listing"]) == lock["definitions_sha256"]
    v3 = new_lock(reverted, v2, "back to 30 minutes", definitions.installed_versions())
    assert (v3["definitions_version"], v3["definitions_sha256"]) == (
        lock["definitions_version"],
        lock["definitions_sha256"],
    )
    assert v3["entries"]["macro rr_session_gap_ms"]["version"] == 1


@ONE_WAREHOUSE
def test_a_changed_kpi_model_certifies_nothing(target, attacked, tmp_path):
    """Attack 2: mart_rr_cohort_weekly filtered differently; a full build."""
    wh = attacked(target)
    project = project_copy(tmp_path)
    model = project / "models" / "kpi" / "mart_rr_cohort_weekly.sql"
    text = model.read_text()
    assert text.rstrip().endswith("select * from final")
    model.write_text(text.rstrip() + "\nwhere cohort_size > 1\n")
    run = dbt_in(project, wh.settings, "build", target_path=tmp_path / "t")
    assert run.returncode == 0, run.output[-3000:]
    reason = refused(wh, tmp_path)
    assert (
        reason.startswith("definitions differ from the lock")
        and "model mart_rr_cohort_weekly: SQL changed" in reason
    ), reason
    assert query(wh.settings, "select count(*) from qa.rr_date_certification where is_certified") == [(0,)]


@ONE_WAREHOUSE
def test_a_definition_var_at_run_time_certifies_nothing(target, attacked, tmp_path):
    """Attack 3: --vars crm_high_intent_min_views: 3 (the CRM list changes, nothing else)."""
    wh = attacked(target)
    run = run_dbt(wh.settings, "build", target_path=wh.target_path,
                  vars={"target_date": D.isoformat(), "crm_high_intent_min_views": 3})  # fmt: skip
    assert run.ok
    lock = read_lock()
    assert refused(wh, tmp_path) == (
        f"definitions differ from the lock (definitions v{lock['definitions_version']}): "
        "var crm_high_intent_min_views 20 → 3 (--vars)"
    )
    # the same run without the var certifies again
    run_dbt(wh.settings, "build", target_path=wh.target_path, vars={"target_date": D.isoformat()})
    assert certification_of(wh.settings) == (True, None, lock["definitions_version"])


@ONE_WAREHOUSE
def test_a_gate_list_given_at_run_time_shrinks_nothing(target, attacked, tmp_path):
    """Attack 4: --vars quality_gates without gate_kpi_range and --exclude of its tests, on a KPI
    broken in place; then quality_gates [gate_nulls] beside a failing test of another gate. The
    gates come from the lock: every test of the five still counts, and the run certifies nothing."""
    wh = attacked(target)
    four = ["gate_domain", "gate_integrity", "gate_nulls", "gate_rowcount"]
    run = run_dbt(wh.settings, "build", "--exclude", "tag:gate_kpi_range", target_path=wh.target_path, check=False,
                  vars={"target_date": D.isoformat(), "quality_gates": four})  # fmt: skip
    assert run.ok, run.output[-3000:]
    reason = refused(wh, tmp_path)
    assert reason.startswith("definitions differ from the lock") and reason.endswith(
        '"gate_kpi_range"] → ["gate_domain", "gate_integrity", "gate_nulls", "gate_rowcount"] (var quality_gates, --vars)'
    ), reason
    # the catalog of that run expected the tests of all five gates (the lock's list)
    [(catalog_id,)] = query(
        wh.settings,
        "select catalog_id from qa.rr_invocations where phase = 'start' order by recorded_at desc limit 1",
    )
    gates = query(
        wh.settings,
        "select distinct gate from qa.rr_catalog where catalog_id = %s and gate is not null order by 1",
        (catalog_id,),
    )
    assert [g for (g,) in gates] == sorted([*four, "gate_kpi_range"])
    # a failing test of a gate the var leaves out still fails its gate
    with_nulls_only = {"target_date": D.isoformat(), "quality_gates": ["gate_nulls"]}
    from seeds_loader.warehouse import connect

    with connect(wh.settings) as conn:
        conn.execute("update raw.raw_rr_events set event = 'purchase' where event = 'view' and visitorid = 4")
    run = run_dbt(wh.settings, "build", target_path=wh.target_path, vars=with_nulls_only, check=False)
    assert not run.ok
    [(gates_failed,)] = query(
        wh.settings,
        "select count(*) from qa.rr_date_verdict_gates where kpi_date = %s and tests_failed > 0 and invocation_id = "
        "(select invocation_id from qa.rr_invocations where phase = 'start' order by recorded_at desc limit 1)",
        (D,),
    )
    assert gates_failed >= 1
    assert certification_of(wh.settings)[0] is False


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_run_then_a_test_under_the_lock_certifies(target, attacked, tmp_path):
    """The legitimate split: `dbt run` then `dbt test`, both under the lock, certify D."""
    wh = attacked(target)
    window = {"target_date": D.isoformat()}
    run_dbt(wh.settings, "run", target_path=wh.target_path, vars=window)
    assert certification_of(wh.settings)[0] is False  # rebuilt, not yet checked
    run_dbt(wh.settings, "test", target_path=wh.target_path, vars=window)
    assert certification_of(wh.settings) == (True, None, read_lock()["definitions_version"])
    out = tmp_path / "out"
    cli = export_cli(wh.settings, out)
    assert cli.returncode == 0, cli.stderr


def test_a_stale_lock_is_named_by_the_check(tmp_path):
    """`python -m exports.definitions check` on a project whose definitions differ from its lock:
    exit 1, naming each difference."""
    import subprocess
    import sys

    project = project_copy(tmp_path)
    yml = project / "dbt_project.yml"
    yml.write_text(yml.read_text().replace("crm_segment_cap: 5000", "crm_segment_cap: 4000"))
    current = current_definitions(project)
    assert differences(current, read_lock(project / "models" / "qa" / "_qa__definitions_lock.yml")) == [
        "var crm_segment_cap 5000 → 4000"
    ]
    # and the repository's own check (the command the Makefile's target runs) passes
    done = subprocess.run(
        [sys.executable, "-m", "exports.definitions", "check"],
        capture_output=True,
        text=True,
        cwd=DBT_PROJECT_DIR.parent,
    )
    assert done.returncode == 0, done.stderr
    assert json.dumps(read_lock()["definitions_version"]) in done.stdout


def test_a_lock_without_a_reason_is_refused(tmp_path, monkeypatch):
    """make lock-definitions needs one line of reason when something changed."""
    lock = read_lock()
    current = current_definitions()
    changed = json.loads(json.dumps(current))
    changed["entries"]["var crm_segment_cap"]["md5"] = "0" * 32
    assert differences(changed, lock) == ["var crm_segment_cap 5000 → 5000"]
    monkeypatch.setattr(definitions, "current_definitions", lambda *a, **k: changed)
    monkeypatch.setattr(definitions, "write_lock", lambda *a, **k: pytest.fail("written without a reason"))
    assert definitions.main(["lock", "--reason", "  "]) == 2
    assert definitions.main(["lock", "--reason", "x" * 201]) == 2
