"""Nothing lost on upgrade: a warehouse whose run history was written by the previous version of
the project (hook-made tables and views, before the history became dbt models and before the
definitions lock) carries every history row into the new structure, and its dates, checked
before definitions were locked, are rebuilt and certified under the lock by the next run.

The previous version is the project's own history (git archive of the commit before this
structure): CI runs on a clone of the repository, which has it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from exports.certification import plan_window
from exports.definitions import read_lock
from seeds_loader.load import load
from seeds_loader.warehouse import connect
from tests.attack_support import DATES, D, dbt_in
from tests.conftest import IN_CI
from tests.dbt_support import DBT_PROJECT_DIR, ROOT, query, run_dbt
from tests.golden_data import write_golden_files

pytestmark = pytest.mark.slow

# the last commit whose run history was written by hooks (macros/certification)
PREVIOUS = "b88c422f004f44a1c8bc047ae3b458a70482c8fe"
OLD_TABLES = (
    "rr_invocations",
    "rr_catalog",
    "rr_model_builds",
    "rr_node_results",
    "rr_node_failing_dates",
    "rr_date_verdicts",
    "rr_date_verdict_gates",
    "rr_date_verdict_tests",
)


def previous_project(folder: Path) -> Path:
    """The dbt project of the previous version, with the dbt packages installed now (the same)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS, "dbt_retailrocket"], capture_output=True
    )
    if archive.returncode != 0:
        message = f"commit {PREVIOUS} is not in this clone: {archive.stderr.decode().strip()}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    project = folder / "dbt_retailrocket"
    shutil.copytree(DBT_PROJECT_DIR / "dbt_packages", project / "dbt_packages")
    return project


def history_rows(settings, table: str, columns: list[str]) -> set[tuple]:
    with connect(settings, create=False) as wh:
        return set(wh.query(f"select {', '.join(columns)} from qa.{table}"))


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_an_earlier_version_s_history_carries_over(target, new_warehouse, tmp_path):
    raw = write_golden_files(tmp_path / "raw")
    settings = new_warehouse(target, data_dir=raw)
    load(settings, raw, progress=False)
    old = previous_project(tmp_path / "old")
    for window in (None, {"target_date": D.isoformat()}):  # a full build, then a daily one
        run = dbt_in(old, settings, "build", target_path=tmp_path / "old_target", vars=window)
        assert run.returncode == 0, run.output[-3000:]
    assert query(settings, "select count(*) from qa.rr_date_certification where is_certified") == [
        (len(DATES),)
    ]
    with connect(settings, create=False) as wh:
        columns = {table: wh.columns("qa", table) for table in OLD_TABLES}
    before = {table: (cols, history_rows(settings, table, cols)) for table, cols in columns.items()}
    assert all(rows for t, (_, rows) in before.items() if t != "rr_node_failing_dates")

    # the new version's first run: a daily build as `make build DATE=D` plans it
    with connect(settings, create=False) as wh:
        window = plan_window(wh, D)
    assert window.start == DATES[0] and "checked before definitions were locked" in window.note
    run = run_dbt(settings, "build", vars=window.dbt_vars(), target_path=tmp_path / "new_target")
    assert f"{len(DATES)} of {len(DATES)} dates certified" in run.output, run.output[-3000:]

    for table, (columns, rows) in before.items():
        assert rows <= history_rows(settings, table, columns), table  # every row of the old history
    lock = read_lock()
    assert query(settings, "select distinct definitions_version from qa.rr_date_certification") == [
        (lock["definitions_version"],)
    ]
    # the old rows keep their values; the columns the contracts added are empty there
    [(old_invocations,)] = query(
        settings, "select count(*) from qa.rr_invocations where definitions_sha256 is null"
    )
    assert old_invocations == len(before["rr_invocations"][1])
    # the views the hooks used to create are models now, the old gate history view among them
    assert query(settings, "select count(*) from qa.quality_check_runs where invocation_id in "
                 "(select invocation_id from qa.rr_invocations where definitions_sha256 is null)") != [(0,)]  # fmt: skip
