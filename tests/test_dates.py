"""One date rule, wherever a run date enters: Python (exports, the DAG, the Make targets, the
compose helper) and dbt's ``--vars`` give the same verdict on the same input; Make variables
reach commands only through the environment, so no value can run a shell command.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from seeds_loader import rules
from tests.dbt_support import DBT, DBT_PROJECT_DIR, ROOT, run_dbt
from tests.golden_data import write_golden_files

# (value, valid?) -- strings as a user types them, and what YAML/JSON can hand to dbt
DATE_INPUTS = [
    ("2015-09-15", True),
    ("2016-02-29", True),  # a leap day
    ("2000-02-29", True),
    ("0001-01-01", True),
    ("2015-02-29", False),
    ("1900-02-29", False),
    ("2015-13-01", False),
    ("2015-00-10", False),
    ("2015-09-31", False),
    ("2015-09-00", False),
    ("0000-01-01", False),
    ("2015-9-15", False),
    ("15-09-2015", False),
    ("20150915", False),
    ("2015/09/15", False),
    ("2015-09-15 ", False),
    (" 2015-09-15", False),
    ("2015-09-15\n", False),
    ("2015-09-15T00:00", False),
    ("２０１５-09-15", False),  # full-width digits match \d, never [0-9]
    ("", False),
    ("none", False),
    ("None", False),
    ("null", False),
    ("2015-09-15'; drop table raw.raw_rr_events; --", False),
    ("$(touch pwned)", False),
    (None, False),
    (20150915, False),
    (True, False),
]


def python_verdict(value) -> bool:
    try:
        rules.parse_date(value, "target_date")
    except rules.DateError:
        return False
    return True


def test_python_rule_on_every_input():
    assert [python_verdict(v) for v, _ in DATE_INPUTS] == [ok for _, ok in DATE_INPUTS]
    assert rules.parse_date("2016-02-29") == dt.date(2016, 2, 29)
    assert rules.parse_date(dt.date(2015, 9, 15)) == dt.date(2015, 9, 15)
    with pytest.raises(
        rules.DateError, match=r"^DATE must be a calendar date written YYYY-MM-DD; got ' 2015-09-15'$"
    ):
        rules.parse_date(" 2015-09-15", "DATE")
    with pytest.raises(rules.DateError, match=r"^target_date is not a real calendar date: '2015-02-29'$"):
        rules.parse_date("2015-02-29")
    with pytest.raises(rules.DateError):
        rules.parse_date(dt.datetime(2015, 9, 15, 1, 2))  # a datetime is not a date


def test_dbt_gives_the_same_verdicts_as_python(tmp_path):
    """One dbt call evaluates every input with the macro that validates --vars target_date."""
    values = [v for v, _ in DATE_INPUTS]
    proc = subprocess.run(
        [
            str(DBT),
            "run-operation",
            "rr_check_dates",
            "--args",
            json.dumps({"values": values}),
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env={**os.environ, "RR_DUCKDB_PATH": str(tmp_path / "unused.duckdb"), "RR_TARGET": "duckdb"},
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RR_DATE_VERDICTS ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdicts = json.loads(lines[-1].removeprefix("RR_DATE_VERDICTS "))
    assert len(verdicts) == len(values)
    for (value, valid), problem in zip(DATE_INPUTS, verdicts, strict=True):
        assert (problem is None) is valid, (value, problem)
        if not valid:  # the same words as the Python rule, bar the quoting of odd characters
            try:
                rules.parse_date(value, "target_date")
            except rules.DateError as exc:
                assert problem.split(";")[0].split(":")[0] == str(exc).split(";")[0].split(":")[0], (
                    value,
                    problem,
                )


@pytest.mark.parametrize("value", ["", "none", "null", " 2015-09-15", "2015-09-15 "])
def test_dbt_refuses_a_blank_or_padded_target_date_before_any_sql(value, new_warehouse, tmp_path):
    """Only the absence of target_date means "every date": an empty or padded value is an error."""
    settings = new_warehouse("duckdb")
    from seeds_loader.load import load

    load(settings, write_golden_files(tmp_path / "raw"), progress=False)
    run = run_dbt(
        settings, "build", vars={"target_date": value}, target_path=tmp_path / "target", check=False
    )
    assert not run.ok
    assert f"var target_date must be a calendar date written YYYY-MM-DD; got '{value}'" in run.output
    from seeds_loader.warehouse import connect

    with connect(settings, create=False) as wh:  # nothing was built
        assert not wh.table_exists("staging", "stg_rr_events")


# ---------------------------------------------------------------------------------------------
# Make variables: only through the environment, validated in Python
# ---------------------------------------------------------------------------------------------
HOSTILE = [
    "2015-09-17; touch {canary}",
    '2015-09-17" && touch {canary} && echo "',
    "2015-09-17' && touch {canary} && echo '",
    "`touch {canary}`",
    "$$(touch {canary})",
    "2015-09-17 | touch {canary}",
]
TARGETS = [
    ("build", "DATE"),
    ("report", "DATE"),
    ("run-dag", "DATE"),
    ("backfill", "START"),
    ("backfill", "END"),
    ("report", "START"),
    ("run-linux", "END"),
    ("build", "LOOKBACK"),
    ("generate", "SCALE"),
    ("generate", "SEED"),
]


@pytest.mark.parametrize(("target", "variable"), TARGETS, ids=[f"{t}-{v}" for t, v in TARGETS])
def test_no_make_variable_can_run_a_command(target, variable, tmp_path):
    for template in HOSTILE:
        canary = tmp_path / f"pwned-{target}-{variable}"
        value = template.format(canary=canary)
        args = [f"{variable}={value}"]
        if variable == "START":
            args.append("END=2015-09-17")
        if variable == "END":
            args.append("START=2015-09-15")
        if variable == "LOOKBACK":
            args.append("DATE=2015-09-17")
        proc = subprocess.run(
            ["make", "--no-print-directory", target, *args],
            cwd=ROOT,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith(("RR_", "MAKE"))},
                "RR_DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
                "RR_DATA_DIR": str(tmp_path / "raw"),
                "RR_REPORTS_DIR": str(tmp_path / "reports"),
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode != 0, (target, value, proc.stdout[-2000:])
        assert not canary.exists(), (target, value)
        errors = [
            line for line in proc.stderr.splitlines() if line.startswith(("error:", "usage:", "python -m"))
        ]
        assert errors, (target, value, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert not list(tmp_path.glob("pwned-*"))


def test_make_build_validates_the_date_in_python(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RR_")}
    proc = subprocess.run(
        ["make", "--no-print-directory", "build", "DATE=2015-02-30"],
        cwd=ROOT,
        env={**env, "RR_DUCKDB_PATH": str(tmp_path / "wh.duckdb")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "error: DATE is not a real calendar date: '2015-02-30'" in proc.stderr.splitlines()
    assert not (tmp_path / "wh.duckdb").exists()


# ---------------------------------------------------------------------------------------------
# a run's dates: one date or a range, the same rules for dag_run.conf, --vars and Make variables
# ---------------------------------------------------------------------------------------------
# (conf, the message's start, or None when valid) -- dag_run.conf and dbt --vars alike
RANGES = [
    ({"start_date": "2015-09-15", "end_date": "2015-09-17"}, None),
    ({"start_date": "2015-09-15", "end_date": "2015-09-15"}, None),
    ({"start_date": "2015-09-15"}, "start_date and end_date go together"),
    ({"end_date": "2015-09-15"}, "start_date and end_date go together"),
    ({"start_date": "2015-09-17", "end_date": "2015-09-15"}, "end_date (2015-09-15) is before start_date"),
    ({"start_date": "2015-02-30", "end_date": "2015-03-02"}, "start_date is not a real calendar date"),
    ({"start_date": "2015-09-15", "end_date": " 2015-09-17"}, "end_date must be a calendar date"),
    (
        {"target_date": "2015-09-15", "start_date": "2015-09-14", "end_date": "2015-09-15"},
        "target_date cannot be",
    ),
]


@pytest.mark.parametrize(("conf", "problem"), RANGES, ids=[json.dumps(c) for c, _ in RANGES])
def test_python_range_rule(conf, problem):
    if problem is None:
        got = rules.parse_run_conf(conf)
        assert (got.start.isoformat(), got.end.isoformat()) == (conf["start_date"], conf["end_date"])
        assert rules.parse_run_conf(got.conf()) == got  # the conf it writes reads back
        assert len(got.dates()) == (got.end - got.start).days + 1
    else:
        with pytest.raises(rules.DateError) as info:
            rules.parse_run_conf(conf)
        assert str(info.value).startswith(problem)


def test_dbt_refuses_a_bad_range_before_any_sql(new_warehouse, tmp_path):
    """dbt's --vars apply the same rules (macro rr_date_range), and lookback_days cannot widen a
    range; nothing is built when they refuse."""
    settings = new_warehouse("duckdb")
    from seeds_loader.load import load
    from seeds_loader.warehouse import connect

    load(settings, write_golden_files(tmp_path / "raw"), progress=False)
    dbt_words = {  # the Python rule's words, said of dbt vars
        "start_date and end_date go together": "vars start_date and end_date go together",
        "end_date (2015-09-15) is before start_date": "var end_date (2015-09-15) is before start_date (2015-09-17)",
        "start_date is not a real calendar date": "var start_date is not a real calendar date: '2015-02-30'",
        "end_date must be a calendar date": "var end_date must be a calendar date written YYYY-MM-DD; got ' 2015-09-17'",
        "target_date cannot be": "var target_date cannot be combined with start_date/end_date",
    }
    cases = [(conf, dbt_words[problem]) for conf, problem in RANGES if problem is not None]
    cases.append(
        (
            {"start_date": "2015-09-14", "end_date": "2015-09-15", "lookback_days": 3},
            "var lookback_days cannot be combined with start_date/end_date",
        )
    )
    for conf, problem in cases:
        run = run_dbt(settings, "build", vars=conf, target_path=tmp_path / "target", check=False)
        assert not run.ok, conf
        assert problem in run.output, (conf, run.output[-2000:])
        with connect(settings, create=False) as wh:  # nothing was built
            assert not wh.table_exists("staging", "stg_rr_events"), conf


ENV_RANGES = [
    ({"START": "2015-09-15", "END": "2015-09-17"}, None),
    ({"DATE": "2015-09-15"}, None),
    ({}, None),
    ({"START": "2015-09-15"}, "START and END go together"),
    ({"END": "2015-09-15"}, "START and END go together"),
    ({"START": "2015-09-17", "END": "2015-09-15"}, "END (2015-09-15) is before START (2015-09-17)"),
    ({"DATE": "2015-09-15", "START": "2015-09-14", "END": "2015-09-15"}, "DATE cannot be combined"),
    ({"START": "2015-09-15", "END": "2015-9-17"}, "END must be a calendar date"),
]


@pytest.mark.parametrize(("environ", "problem"), ENV_RANGES, ids=[json.dumps(e) for e, _ in ENV_RANGES])
def test_make_variables_give_one_date_or_a_range(environ, problem):
    from exports.pipeline import InputError, env_dates

    if problem is None:
        got = env_dates(environ)
        if not environ:
            assert got is None
        else:
            first = environ.get("START") or environ["DATE"]
            last = environ.get("END") or environ["DATE"]
            assert (got.start.isoformat(), got.end.isoformat()) == (first, last)
    else:
        with pytest.raises(InputError) as info:
            env_dates(environ)
        assert str(info.value).startswith(problem)


def test_the_offset_and_the_gates_have_one_definition():
    """Python reads the Asia/Seoul offset and the gate list from dbt_project.yml; no product file
    spells the offset itself (tests keep their own hand-written copy, on purpose)."""
    assert rules.kst_offset_ms() == 9 * 3_600_000
    assert rules.gates() == ("gate_domain", "gate_integrity", "gate_nulls", "gate_rowcount", "gate_kpi_range")
    assert rules.kst_date(1442545187788) == dt.date(2015, 9, 18)  # 11:59:47 KST, the last event
    assert rules.kst_day_bounds_ms(dt.date(2015, 9, 18)) == (1442502000000, 1442588400000)
    product = (
        [p for p in (ROOT / "seeds_loader").glob("*.py") if p.name != "rules.py"]
        + list((ROOT / "exports").glob("*.py"))
        + [ROOT / "airflow" / "dags" / "rr_funnel_daily.py"]
    )
    spelled = []
    for path in product:
        text = path.read_text()
        for needle in ("32400000", "32_400_000", "9 * 3600", "9 * HOUR", "hours=9", "+09:00"):
            if needle in text:
                spelled.append((path.name, needle))
    macros = "\n".join(p.read_text() for p in (ROOT / "dbt_retailrocket" / "macros").rglob("*.sql"))
    for needle in ("32400000", "9 * 3600000"):
        if needle in macros:
            spelled.append(("macros", needle))
    assert spelled == []
    # the gate list is not repeated in Python or in a macro
    for path in [*product, *(ROOT / "dbt_retailrocket" / "macros").rglob("*.sql")]:
        text = path.read_text()
        assert not all(g in text for g in rules.gates()), path


def test_python_rule_needs_only_the_standard_library():
    """The compose helper validates DATE with the system's python3, before `make setup`."""
    proc = subprocess.run(
        [
            sys.executable,
            "-S",  # no site-packages: no PyYAML, no project install
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "from seeds_loader.rules import parse_date; print(parse_date('2015-09-17'))",
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2015-09-17"


def test_no_recipe_pastes_a_user_variable():
    """Statically: the Makefiles never expand a user's variable into a recipe (the test above
    tries the values; this one guards the targets it does not run)."""
    assert not (ROOT / "exports" / "run_dates.py").exists()  # the one date rule is seeds_loader/rules.py
    for makefile in (ROOT / "Makefile", ROOT / "airflow" / "compose" / "compose.mk"):
        text = makefile.read_text()
        for variable in ("DATE", "START", "END", "LOOKBACK", "SCALE", "SEED", "TARGETS", "BENCH_SCALE", "Q"):
            assert f"$({variable})" not in text and f"${{{variable}}}" not in text, (makefile.name, variable)
