"""Metrics by name (``make metrics``, MetricFlow over the semantic layer) on both warehouses.

On the golden data set (tests/golden_data.py, built and certified by ``dbt build``), a daily and
a weekly query of count metrics and of ratio metrics must equal the sums from the published KPI
table: counts summed over the days of each period, ratios as the sum of the numerators over the
sum of the denominators (never an average of daily rates).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from exports.metrics import MetricsError, main, mf_args, run_mf
from seeds_loader.load import load
from tests.dbt_support import query, run_dbt
from tests.golden_data import write_golden_files

COUNTS = ("sessions", "sessions_with_purchase", "views", "purchases")
RATIOS = {  # metric: (numerator column, denominator column), as in _kpi__semantic.yml
    "cvr_session_to_purchase": ("sessions_with_purchase", "sessions"),
    "cvr_view_to_cart": ("sessions_with_view_and_cart", "sessions_with_view"),
    "cvr_cart_to_purchase": ("sessions_with_cart_and_purchase", "sessions_with_cart"),
}
COLUMNS = sorted({*COUNTS, *(c for pair in RATIOS.values() for c in pair)})


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def warehouse(request, new_warehouse, tmp_path_factory):
    settings = new_warehouse(request.param)
    data_dir = write_golden_files(tmp_path_factory.mktemp("golden") / "raw")
    load(settings, data_dir, progress=False)
    run_dbt(settings, "build", target_path=tmp_path_factory.mktemp("dbt_target"))
    return settings, tmp_path_factory.mktemp("metricflow")


def expected(settings, grain: str) -> dict[dt.date, dict[str, float | None]]:
    """The metrics per day or per Monday week, summed from the published KPI table."""
    published = query(settings, f"select kpi_date, {', '.join(COLUMNS)} from kpi.mart_rr_funnel_daily")
    built = query(settings, "select count(*) from kpi_build.mart_rr_funnel_daily")[0][0]
    assert len(published) == built >= 8, "every golden date must be certified (published)"
    sums: dict[dt.date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    for kpi_date, *values in published:
        period = kpi_date - dt.timedelta(days=kpi_date.weekday()) if grain == "week" else kpi_date
        for column, value in zip(COLUMNS, values, strict=True):
            sums[period][column] += value
    result = {}
    for period, total in sums.items():
        row: dict[str, float | None] = {m: total[m] for m in COUNTS}
        for metric, (num, den) in RATIOS.items():
            row[metric] = total[num] / total[den] if total[den] else None
        result[period] = row
    return result


def mf_query(settings, workdir: Path, metrics: list[str], grain: str, out: Path) -> dict[dt.date, dict]:
    args = ["query", "--metrics", ",".join(metrics), "--group-by", f"metric_time__{grain}"]
    started = time.perf_counter()
    proc = run_mf(settings, [*args, "--csv", str(out), "--quiet"], workdir, capture_output=True, text=True)
    print(f"mf {' '.join(args)} on {settings.target}: {time.perf_counter() - started:.1f} s")
    assert proc.returncode == 0 and out.is_file(), (
        f"mf {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    )
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        dt.date.fromisoformat(row[f"metric_time__{grain}"][:10]): {
            m: (float(row[m]) if row[m] not in ("", "None", "nan") else None) for m in metrics
        }
        for row in rows
    }


@pytest.mark.slow
@pytest.mark.parametrize("grain", ["day", "week"])
def test_metric_queries_equal_the_kpi_table_sums(warehouse, grain, tmp_path):
    settings, workdir = warehouse
    metrics = [*COUNTS, *RATIOS]
    got = mf_query(settings, workdir, metrics, grain, tmp_path / f"{grain}.csv")
    want = expected(settings, grain)
    assert sorted(got) == sorted(want), f"{grain}: periods differ"
    if grain == "week":
        assert len(want) == 2, want
    for period in sorted(want):
        for metric in metrics:
            a, b = got[period][metric], want[period][metric]
            if b is None:
                assert a is None, f"{grain} {period} {metric}: {a}, expected null (no denominator)"
            else:
                assert a == pytest.approx(b, rel=1e-9), f"{grain} {period} {metric}: {a} != {b}"


@pytest.mark.slow
def test_a_ratio_over_a_week_is_not_the_mean_of_daily_rates(warehouse):
    """The golden week of 2015-09-14 has 1 session (no purchase) on the 14th and 7 (two with a
    purchase) on the 15th: the sum ratio is 2/8, the mean of the daily rates would be 1/7."""
    settings, _ = warehouse
    week = expected(settings, "week")[dt.date(2015, 9, 14)]
    assert week["cvr_session_to_purchase"] == pytest.approx(2 / 8)


def test_q_is_split_like_a_shell_line_never_run_by_one():
    assert mf_args("") == ["list", "metrics"]
    assert mf_args("--metrics sessions --where \"{{ TimeDimension('metric_time') }} > '2015-09-10'\"") == [
        "query",
        "--metrics",
        "sessions",
        "--where",
        "{{ TimeDimension('metric_time') }} > '2015-09-10'",
    ]
    assert mf_args("--metrics sessions; touch /tmp/x") == [
        "query",
        "--metrics",
        "sessions;",
        "touch",
        "/tmp/x",
    ]
    with pytest.raises(MetricsError, match="not a valid argument list"):
        mf_args("--metrics 'sessions")


def test_a_missing_duckdb_warehouse_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RR_TARGET", "duckdb")
    monkeypatch.setenv("RR_DUCKDB_PATH", str(tmp_path / "none.duckdb"))
    assert main({"Q": "--metrics sessions"}) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[-1] == f"error: no warehouse at {tmp_path / 'none.duckdb'}: run make demo (or make build) first"
    )
    assert not (tmp_path / "none.duckdb").exists()


@pytest.mark.slow
def test_make_metrics_reaches_mf(warehouse, tmp_path):
    """The Make target passes Q through the environment to mf (here: the DuckDB warehouse only)."""
    settings, _ = warehouse
    if settings.target != "duckdb":
        pytest.skip("the Make path is the same on both warehouses; once is enough")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RR_", "DBT_"))}
    env.update(settings.dbt_env())
    env["Q"] = "--metrics sessions --group-by metric_time__week --order metric_time__week"
    proc = subprocess.run(
        ["make", "metrics"], cwd=settings.root, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [line.split() for line in proc.stdout.splitlines() if line.startswith("2015-09-")]
    assert lines == [["2015-09-07T00:00:00", "6"], ["2015-09-14T00:00:00", "8"]], proc.stdout
