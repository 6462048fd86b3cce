"""Rows bound to their checks, free text that cannot forge a line, report files that cannot be
edited unnoticed: attacks 5 to 7 of issue 24, each on a clone of a certified golden warehouse
whose reports of D (2015-09-15) were exported.

5. rows edited after their checks: a kpi_build row (the export refuses, naming the table); a
   fact row the export no longer reads (the CRM evidence: the same bytes as before);
6. free text with a line break in window_note, pipeline_run_id or the Airflow run id (refused
   where it enters; an old history row that carries one is escaped where it is written);
7. edited report files (make check names each one).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from exports.report import stable_summary_lines
from seeds_loader.warehouse import connect
from tests.attack_support import D, Golden, build_golden, export_cli, files, make_check
from tests.dbt_support import query, run_dbt

pytestmark = pytest.mark.slow

FORGED = "x\ncvr_session_to_purchase=0.8888"


@pytest.fixture(scope="module")
def goldens(new_warehouse, tmp_path_factory) -> dict[str, Golden]:
    built = {}
    for target in ("duckdb", "postgres"):
        golden = build_golden(new_warehouse, tmp_path_factory.mktemp(f"tamper_{target}"), target)
        # an older date's reports too, for the folder-wide check
        cli = export_cli(golden.settings, golden.reports, D - dt.timedelta(days=1))
        assert cli.returncode == 0, cli.stderr
        built[target] = golden
    return built


def execute(wh: Golden, sql: str, params: tuple = ()) -> None:
    with connect(wh.settings) as conn:
        conn.execute(sql, params)


def refusal(wh: Golden) -> str:
    before = files(wh.reports)
    cli = export_cli(wh.settings, wh.reports)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    [line] = cli.stderr.splitlines()
    assert files(wh.reports) == before  # nothing written, the earlier report left as it was
    return line


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_kpi_row_edited_after_its_checks_is_refused(target, attacked):
    """Attack 5: `update kpi_build.mart_rr_funnel_daily set sessions = sessions + 1`: the date is
    still certified (no build happened), but its rows are not those its gates checked."""
    wh = attacked(target)
    execute(wh, "update kpi_build.mart_rr_funnel_daily set sessions = sessions + 1 where kpi_date = %s", (D,))
    assert query(
        wh.settings, "select is_certified from qa.rr_date_certification where kpi_date = %s", (D,)
    ) == [(True,)]
    line = refusal(wh)
    assert line.startswith(
        f"REFUSED: no report for {D}: kpi_build.mart_rr_funnel_daily rows of {D} differ from the rows "
        "its gates checked (1 rows read, 1 built and checked; fingerprint "
    ), line
    check = make_check(wh.settings, wh.reports)
    assert check.returncode == 1
    assert f"DIFFERS  kpi_build.mart_rr_funnel_daily rows of {D} differ" in check.stdout, check.stdout


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_rows_deleted_or_added_after_their_checks_are_refused(target, attacked):
    """The CRM rows of D all deleted (an empty list would look like a quiet day), and a row of an
    earlier date the trend chart reads deleted (it would look like a gap)."""
    wh = attacked(target)
    execute(wh, "delete from kpi_build.mart_rr_crm_targets_daily where kpi_date = %s", (D,))
    line = refusal(wh)
    assert (
        f"kpi_build.mart_rr_crm_targets_daily rows of {D} differ from the rows its gates checked (0 rows read, 4 built"
        in line
    )
    wh = attacked(target)
    earlier = D - dt.timedelta(days=3)
    execute(wh, "delete from kpi_build.mart_rr_funnel_daily where kpi_date = %s", (earlier,))
    line = refusal(wh)
    assert (
        f"kpi_build.mart_rr_funnel_daily rows of {earlier} differ from the rows its gates checked (0 rows read, 1 built"
        in line
    )


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_fact_row_edited_after_its_checks_changes_no_report(target, attacked, tmp_path):
    """Attack 5, the fact the export used to read live: the CRM evidence is now a column of
    mart_rr_crm_targets_daily (checked there), so editing mart.fact_rr_visitor_daily after the
    checks changes no byte of the report (the summary: but the lines that name the run)."""
    wh = attacked(target)
    execute(
        wh,
        "update mart.fact_rr_visitor_daily set last_carted_at_kst = last_carted_at_kst + interval '1 hour' "
        "where activity_date = %s",
        (D,),
    )
    execute(wh, "delete from mart.fact_rr_events where event_date = %s and visitor_id = 3", (D,))
    out = tmp_path / "again"
    cli = export_cli(wh.settings, out)
    assert cli.returncode == 0, cli.stderr
    before, after = files(wh.reports), files(out)
    for name in (
        f"rr_funnel_daily_{D}.csv",
        f"rr_cohort_weekly_{D}.csv",
        f"rr_crm_targets_{D}.csv",
        f"rr_report_{D}.html",
    ):
        assert after[name] == before[name], name
    summary = f"rr_pipeline_summary_{D}.txt"
    assert stable_summary_lines(after[summary].decode(), "warehouse") == stable_summary_lines(
        before[summary].decode(), "warehouse"
    )


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_free_text_with_a_line_break_is_refused_where_it_enters(target, attacked, tmp_path):
    """Attack 6: window_note or pipeline_run_id with a newline: dbt refuses the run before it
    records or builds anything; the Airflow run id of the export likewise."""
    wh = attacked(target)
    count = "select count(*) from qa.rr_invocations"
    [(invocations,)] = query(wh.settings, count)
    for name in ("window_note", "pipeline_run_id"):
        run = run_dbt(wh.settings, "build", target_path=wh.target_path, check=False,
                      vars={"target_date": D.isoformat(), name: FORGED})  # fmt: skip
        assert not run.ok
        assert f"var {name} must be one line of at most " in run.output
        assert "got a line break (\\n) at character 2" in run.output
    assert query(wh.settings, count) == [(invocations,)]  # nothing recorded, nothing built
    cli = export_cli(wh.settings, tmp_path / "out", D, "--airflow-run-id", FORGED)
    assert cli.returncode == 2 and not (tmp_path / "out").exists()
    assert cli.stderr.startswith("error: the Airflow run id must be one line"), cli.stderr


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_forged_line_in_an_old_history_row_stays_on_one_line(target, attacked, tmp_path):
    """A history row written before the free-text rule (simulated in place) cannot forge a
    key=value line either: every text from outside the export is escaped where it is written."""
    wh = attacked(target)
    [(invocation,)] = query(
        wh.settings, "select checked_by_invocation_id from qa.rr_date_certification where kpi_date = %s", (D,)
    )
    execute(
        wh,
        "update qa.rr_invocations set window_note = %s, pipeline_run_id = %s where invocation_id = %s",
        (FORGED, FORGED, invocation),
    )
    execute(
        wh,
        "update qa.rr_date_verdicts set pipeline_run_id = %s where invocation_id = %s",
        (FORGED, invocation),
    )
    out = tmp_path / "out"
    cli = export_cli(wh.settings, out)
    assert cli.returncode == 0, cli.stderr
    summary = (out / f"rr_pipeline_summary_{D}.txt").read_text()
    assert [line for line in summary.splitlines() if line.startswith("cvr_session_to_purchase=")] == [
        "cvr_session_to_purchase=0.2857"
    ]
    assert "run_id=x\\ncvr_session_to_purchase=0.8888" in summary.splitlines()
    assert re.search(r"checked window\s+every date \(x\\ncvr_session_to_purchase=0\.8888\)", summary), summary
    page = (out / f"rr_report_{D}.html").read_text()
    data = json.loads(page.split('id="rr-report-data">')[1].split("</script>")[0])
    assert data["funnel"]["cvr_session_to_purchase"] == "0.2857"


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_make_check_names_every_edited_report_file(target, attacked):
    """Attack 7: an edited HTML page, an edited summary and an edited older CSV each make `make
    check` exit 1, naming the file; so does a CSV edited together with its manifest line."""
    wh = attacked(target)
    check = make_check(wh.settings, wh.reports)
    assert check.returncode == 0, check.stdout + check.stderr
    older = D - dt.timedelta(days=1)
    page = wh.reports / f"rr_report_{D}.html"
    page.write_text(page.read_text().replace("28.57%", "38.57%"))
    summary = wh.reports / f"rr_pipeline_summary_{D}.txt"
    summary.write_text(summary.read_text().replace("sessions=7", "sessions=8"))
    csv = wh.reports / f"rr_funnel_daily_{older}.csv"
    text = csv.read_text().splitlines()
    text[1] = text[1].replace(",", ",1", 1)
    csv.write_text("\n".join(text) + "\n")
    check = make_check(wh.settings, wh.reports)
    assert check.returncode == 1
    differs = [line.strip() for line in check.stdout.splitlines() if line.strip().startswith("DIFFERS")]
    for name in (page.name, summary.name, csv.name):
        assert any(f"DIFFERS  {name} differs from its manifest" in line for line in differs), (name, differs)
    # the manifest edited to match the edited CSV: the certified rows still tell
    import hashlib

    manifest = wh.reports / f"rr_report_files_{older}.sha256"
    lines = manifest.read_text().splitlines()
    digest = hashlib.sha256(csv.read_bytes()).hexdigest()
    manifest.write_text(
        "\n".join(f"{digest}  {csv.name}" if line.endswith(f"  {csv.name}") else line for line in lines)
        + "\n"
    )
    check = make_check(wh.settings, wh.reports)
    assert check.returncode == 1
    assert f"DIFFERS  {csv.name} differs from the certified rows of {older} now" in check.stdout, check.stdout


def view_text(wh: Golden, schema: str, name: str) -> str:
    """The SELECT of a view as the warehouse keeps it."""
    if wh.settings.target == "postgres":
        [(text,)] = query(wh.settings, "select pg_get_viewdef(%s::regclass)", (f"{schema}.{name}",))
        return text.strip().rstrip(";")
    [(text,)] = query(
        wh.settings,
        "select sql from duckdb_views() where schema_name = %s and view_name = %s",
        (schema, name),
    )
    return re.split(r"\bAS\b", text, maxsplit=1, flags=re.IGNORECASE)[1].strip().rstrip(";")


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_published_view_edited_in_place_is_created_again_by_the_next_build(target, attacked, tmp_path):
    """The views of schema kpi are re-created only when they would change (materialization
    rr_view). One edited in place (hiding D) and one replaced by a table (publishing every
    built row, certified or not) are not taken for unchanged: the next build creates both again; the untouched ones are
    left as they are."""
    wh = attacked(target)
    published = ("build", "-s", "path:models/kpi/published")
    # (a clone's PostgreSQL database has another name: its views' SQL names it; built once first)
    run_dbt(wh.settings, *published, target_path=wh.target_path, vars={"target_date": str(D)})
    funnel = query(wh.settings, "select * from kpi.mart_rr_funnel_daily order by kpi_date")
    crm = query(wh.settings, "select count(*) from kpi.mart_rr_crm_targets_daily")
    hidden = view_text(wh, "kpi", "mart_rr_funnel_daily")
    execute(
        wh,
        "create or replace view kpi.mart_rr_funnel_daily as "
        f"select * from ({hidden}) as edited where edited.kpi_date <> '{D}'",
    )
    execute(wh, "drop view kpi.mart_rr_crm_targets_daily")
    execute(
        wh, "create table kpi.mart_rr_crm_targets_daily as select * from kpi_build.mart_rr_crm_targets_daily"
    )
    assert len(query(wh.settings, "select * from kpi.mart_rr_funnel_daily")) == len(funnel) - 1

    run = run_dbt(wh.settings, *published, target_path=wh.target_path, vars={"target_date": str(D)})
    messages = {
        r["unique_id"].split(".")[-1]: r["message"]
        for r in run.results
        if r["unique_id"].startswith("model.")
    }
    assert messages["certified_mart_rr_funnel_daily"] != "OK: unchanged", messages
    assert messages["certified_mart_rr_crm_targets_daily"] != "OK: unchanged", messages
    assert messages["certified_mart_rr_cohort_weekly"] == "OK: unchanged", messages
    assert query(wh.settings, "select * from kpi.mart_rr_funnel_daily order by kpi_date") == funnel
    assert query(wh.settings, "select count(*) from kpi.mart_rr_crm_targets_daily") == crm
    [(kind,)] = query(
        wh.settings,
        "select table_type from information_schema.tables where table_schema = 'kpi' "
        "and table_name = 'mart_rr_crm_targets_daily'",
    )
    assert kind == "VIEW"
    again = run_dbt(wh.settings, *published, target_path=wh.target_path, vars={"target_date": str(D)})
    assert {r["message"] for r in again.results if r["unique_id"].startswith("model.")} == {"OK: unchanged"}
