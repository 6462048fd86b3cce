"""The offline fallback dbt packages (dbt_retailrocket/offline_packages/) and their installer.

The fallback must behave like dbt-labs/dbt_utils 1.4.1 and metaplane/dbt_expectations 0.10.9 for
the macros the project uses. A throwaway dbt project (tests/fixtures/offline_packages/check_project)
holds hand-made rows and one named generic test per case; one ``dbt build`` per engine runs them
all and every test's status and failure count is compared with EXPECTED_TESTS, worked out by hand
from the row tables at the top of check_rows.sql and key_inputs.sql. Surrogate keys are compared
with md5 digests computed here in Python.

With ``RR_REAL_DBT_PACKAGES`` pointing at a folder that holds the real ``dbt_utils``,
``dbt_expectations`` and ``dbt_date``, the same project also runs with them and must give the same
statuses, failure counts and keys, and every fallback macro must have the real one's signature
(the differential checks); without it those tests are skipped.

The installer is run as a subprocess against a minimal copy of the project in tmp_path, with an
unreachable hub URL or a fake hub served from this process; never against dbt_retailrocket/.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from seeds_loader.settings import Settings
from seeds_loader.warehouse import connect, ensure_pg_database

REPO = Path(__file__).resolve().parent.parent
DBT_DIR = REPO / "dbt_retailrocket"
OFFLINE_PACKAGES = DBT_DIR / "offline_packages"
INSTALLER = DBT_DIR / "scripts" / "install_packages.py"
CHECK_PROJECT = Path(__file__).resolve().parent / "fixtures" / "offline_packages" / "check_project"
SCHEMA = "rr_offline_check"
REAL_PACKAGES_ENV = "RR_REAL_DBT_PACKAGES"
REAL_PACKAGE_NAMES = ("dbt_utils", "dbt_expectations", "dbt_date")
UNREACHABLE_HUB = "http://127.0.0.1:9/"

# name of the generic test -> (status, failure count); see the row table in check_rows.sql.
EXPECTED_TESTS: dict[str, tuple[str, int]] = {
    # seed_rows has 3 rows
    "seed_row_count_exact": ("pass", 0),
    # dbt_utils.expression_is_true: a >= b is false on id 3 (3 < 5); NULL a or b (ids 4, 5) passes
    "utils_expr_model_fail": ("fail", 1),
    "utils_expr_model_pass": ("pass", 0),
    # amount < 10 is false on ids 3 (10) and 5 (11); NULL amount (id 6) passes
    "utils_expr_store_failures": ("fail", 2),
    # column form: amount >= 0 is false on id 4 (-1) only; where grp <> 'y' drops it
    "utils_expr_column_fail": ("fail", 1),
    "utils_expr_column_where": ("pass", 0),
    # dbt_utils.unique_combination_of_columns: (k1, k2) repeats (2, q) on ids 4, 5 and
    # (NULL, NULL) on ids 6, 7 -> 2 duplicated combinations (NULLs group together)
    "utils_unique_fail": ("fail", 2),
    "utils_unique_pass": ("pass", 0),
    # (grp, "order") repeats (x, 1), (y, 3), (z, 4)
    "utils_unique_quoted_fail": ("fail", 3),
    "utils_unique_quoted_pass": ("pass", 0),
    # grp: x, y, z all repeat; severity warn
    "utils_unique_severity_warn": ("warn", 3),
    # 2 failures: warn_if >1 -> warn; warn_if >2 -> pass, which dbt reports with 0 failures
    "utils_unique_warn_if": ("warn", 2),
    "utils_unique_below_thresholds": ("pass", 0),
    # where k1 is not null drops ids 6, 7 -> only (2, q) repeats
    "utils_unique_where": ("fail", 1),
    "utils_unique_empty_pass": ("pass", 0),
    "utils_unique_surrogate_key_pass": ("pass", 0),
    # dbt_expectations.expect_table_row_count_to_be_between: 8 rows; x 3, y 3, z 2
    "rowcount_pass": ("pass", 0),
    "rowcount_strictly_fail": ("fail", 1),  # 8 < 8 is false
    "rowcount_min_only_fail": ("fail", 1),
    "rowcount_max_only_pass": ("pass", 0),
    "rowcount_group_by_fail": ("fail", 2),  # max 2: x and y
    "rowcount_group_by_strictly_fail": ("fail", 1),  # > 2: z
    # k2 groups p 2, q 3, NULL 2, r 1; strictly < 2 fails p, q and the NULL group
    "rowcount_group_by_null_key": ("fail", 3),
    # (grp, k2): (x,p) 2, (x,q) 1, (y,q) 2, (y,NULL) 1, (z,NULL) 1, (z,r) 1 -> 4 groups below 2
    "rowcount_group_by_two_columns": ("fail", 4),
    # amount not null drops id 6: x 3, y 2, z 2 -> y and z below 3
    "rowcount_row_condition": ("fail", 2),
    "rowcount_where": ("pass", 0),  # where grp = 'x': 3 rows
    "rowcount_empty_fail": ("fail", 1),  # an empty table counts 0 rows
    "rowcount_empty_group_by_pass": ("pass", 0),  # ... but has no group that could fail
    # dbt_expectations.expect_column_pair_values_A_to_be_greater_than_B: a > b is false on ids 2
    # (4, 4), 3 (3, 5), 8 (9, 9); NULL on either side (ids 4, 5) passes
    "pair_fail": ("fail", 3),
    "pair_or_equal_fail": ("fail", 1),  # id 3
    "pair_row_condition": ("fail", 2),  # grp <> 'z': ids 2, 3
    "pair_expression_pass": ("pass", 0),
    "pair_where": ("pass", 0),  # or_equal, where id <> 3
    # dbt_expectations.expect_column_values_to_be_between on amount (0 5 10 -1 11 NULL 7 3)
    "between_fail": ("fail", 2),  # [0, 10]: -1, 11; NULL passes
    "between_strictly_fail": ("fail", 4),  # (0, 10): 0, 10, -1, 11
    "between_min_only_fail": ("fail", 1),  # -1
    "between_max_only_fail": ("fail", 1),  # 11
    "between_pass": ("pass", 0),
    "between_row_condition": ("fail", 1),  # grp = 'x', [1, 10]: 0
    "between_where_strictly": ("fail", 2),  # id >= 5: 11 NULL 7 3 in (3, 11): 11, 3
    "between_where_and_row_condition": ("fail", 2),  # grp = 'y': -1, 11
    # dbt_expectations.expect_column_values_to_be_in_set: a NULL value FAILS
    "in_set_unquoted_fail": ("fail", 3),  # amount not in (0 3 5 7 10): -1, 11, NULL
    "in_set_unquoted_row_condition_pass": ("pass", 0),
    "in_set_fail": ("fail", 3),  # status: refund, NULL, VIEW (case matters)
    "in_set_row_condition": ("fail", 2),  # status is not null: refund, VIEW
    "in_set_where": ("warn", 1),  # grp <> 'z', refund allowed: NULL; severity warn
    "in_set_pass": ("pass", 0),
}
# Only in the fallback project (_fallback_only.yml): a set value with a quote ("it's"), which the
# real package cannot render; 'its' is not in (view, it's).
FALLBACK_ONLY_TESTS = {"in_set_quote_escaped": ("fail", 1)}
EXCLUDED_TEST = "between_excluded_by_tag"  # tagged excluded_gate; the build excludes that tag
MODELS = (
    "check_rows",
    "empty_rows",
    "key_inputs",
    "key_inputs_wide",
    "quoted_labels",
    "surrogate_keys",
    "surrogate_keys_legacy",
    "surrogate_keys_wide",
)

# key_inputs.sql as the text each value casts to on both engines (None = NULL)
KEY_INPUTS: dict[int, tuple[str | None, ...]] = {
    1: ("1", "a", "1.50", "2015-05-03", "2015-05-03 03:00:04", "true"),
    2: ("2", "", None, None, None, "false"),
    3: ("3", None, "-0.25", "2015-09-18", "2015-09-18 02:59:47", None),
    4: ("4", "a-b", "10.00", "2015-07-26", "2015-07-26 00:00:00", "true"),
}
NULL_MARKER = "_dbt_utils_surrogate_key_null_"


def md5_key(*values: str | None, null_text: str = NULL_MARKER) -> str:
    """The documented dbt_utils surrogate key: md5 of the texts joined by '-', NULL as a marker."""
    return hashlib.md5("-".join(null_text if v is None else v for v in values).encode()).hexdigest()


def expected_surrogate_keys() -> dict[int, tuple[str, str, str, str]]:
    """Rows of surrogate_keys.sql: id -> (key_id, key_label, key_all, key_expressions)."""
    keys = {}
    for row_id, values in KEY_INPUTS.items():
        label = values[1]
        keys[row_id] = (
            md5_key(values[0]),
            md5_key(label),
            md5_key(*values),
            md5_key(None if label is None else label.upper(), "rr"),
        )
    return keys


def expected_legacy_keys(null_text: str) -> dict[int, tuple[str, str]]:
    """Rows of surrogate_keys_legacy.sql: id -> (key_label, key_label_amount)."""
    return {
        row_id: (md5_key(v[1], null_text=null_text), md5_key(v[1], v[2], null_text=null_text))
        for row_id, v in KEY_INPUTS.items()
    }


# -- running the check project -------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _dbt_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.delenv("DBT_PACKAGE_HUB_URL", raising=False)


def write_profile(project: Path, settings: Settings) -> None:
    """profiles.yml of the check project, pointing at the settings' warehouse (schema SCHEMA)."""
    if settings.target == "duckdb":
        output = {"type": "duckdb", "path": str(settings.duckdb_path), "schema": SCHEMA, "threads": 4}
    else:
        ensure_pg_database(settings)
        output = {
            "type": "postgres",
            "host": settings.pg_host,
            "port": settings.pg_port,
            "user": settings.pg_user,
            "password": settings.pg_password,
            "dbname": settings.pg_database,
            "schema": SCHEMA,
            "threads": 4,
        }
    profile = {"rr_offline_check": {"target": "check", "outputs": {"check": output}}}
    (project / "profiles.yml").write_text(json.dumps(profile, indent=2), encoding="utf-8")


def real_packages_dir() -> Path:
    folder = Path(os.environ[REAL_PACKAGES_ENV]).expanduser()
    missing = [name for name in REAL_PACKAGE_NAMES if not (folder / name / "dbt_project.yml").is_file()]
    if missing:
        pytest.fail(f"{REAL_PACKAGES_ENV}={folder} lacks the real package(s) {', '.join(missing)}")
    return folder


def make_check_project(where: Path, settings: Settings, packages: str) -> Path:
    """Copy of the check project with the 'fallback' or the 'real' packages in dbt_packages/."""
    project = where / f"check_project_{packages}"
    shutil.copytree(CHECK_PROJECT, project)
    if packages == "fallback":
        source, names = OFFLINE_PACKAGES, ("dbt_utils", "dbt_expectations")
    else:
        source, names = real_packages_dir(), REAL_PACKAGE_NAMES
        (project / "models" / "_fallback_only.yml").unlink()
    for name in names:
        shutil.copytree(source / name, project / "dbt_packages" / name)
    write_profile(project, settings)
    return project


def dbt(project: Path, *args: str) -> list[dict]:
    """Run one dbt command in-process on the project; the results of target/run_results.json."""
    from dbt.cli.main import dbtRunner

    run_results = project / "target" / "run_results.json"
    run_results.unlink(missing_ok=True)
    outcome = dbtRunner().invoke(
        [*args, "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"]
    )
    if outcome.exception is not None:
        raise AssertionError(f"dbt {' '.join(args)} crashed in {project}: {outcome.exception}")
    return json.loads(run_results.read_text(encoding="utf-8"))["results"]


def dbt_parse_error(project: Path) -> str | None:
    """Parse the project in-process; the error message, or None when it parses."""
    from dbt.cli.main import dbtRunner

    outcome = dbtRunner().invoke(
        ["parse", "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"]
    )
    if outcome.success:
        return None
    return str(outcome.exception or outcome.result)


def node_name(unique_id: str) -> str:
    """'test.rr_offline_check.<name>.<hash>' or 'model.rr_offline_check.<name>' -> name."""
    return unique_id.split(".")[2]


@dataclass
class CheckOutcome:
    """What one build of the check project produced."""

    tests: dict[str, tuple[str, int]]
    other_nodes: dict[str, str]
    surrogate_keys: dict[int, tuple]
    legacy_keys_default: dict[int, tuple]
    legacy_keys_with_var: dict[int, tuple]
    stored_failure_ids: list[int]
    wide_keys: dict[int, str]
    wide_texts: dict[int, tuple]  # the engine's own text of each key_inputs_wide value


def query(settings: Settings, sql: str) -> list[tuple]:
    with connect(settings) as wh:
        return wh.query(sql)


def run_check_project(project: Path, settings: Settings) -> CheckOutcome:
    """dbt build (without tag:excluded_gate), then surrogate_keys_legacy again with the legacy var."""
    results = dbt(project, "build", "--exclude", "tag:excluded_gate")
    tests = {
        node_name(r["unique_id"]): (r["status"], r["failures"])
        for r in results
        if r["unique_id"].startswith("test.")
    }
    other = {
        node_name(r["unique_id"]): r["status"] for r in results if not r["unique_id"].startswith("test.")
    }
    broken = [f"{r['unique_id']}: {r['message']}" for r in results if r["status"] == "error"]
    assert not broken, f"nodes of {project} failed:\n" + "\n".join(broken)
    keys_sql = (
        f"select id, key_id, key_label, key_all, key_expressions from {SCHEMA}.surrogate_keys order by id"
    )
    legacy_sql = f"select id, key_label, key_label_amount from {SCHEMA}.surrogate_keys_legacy order by id"
    surrogate_keys = {row[0]: tuple(row[1:]) for row in query(settings, keys_sql)}
    legacy_default = {row[0]: tuple(row[1:]) for row in query(settings, legacy_sql)}
    stored = query(settings, f"select id from {SCHEMA}_dbt_test__audit.utils_expr_store_failures order by id")
    wide_keys = query(settings, f"select id, key_wide from {SCHEMA}.surrogate_keys_wide order by id")
    wide_texts = query(
        settings,
        "select id, cast(id as varchar) as id_text, cast(ratio as varchar), cast(big as varchar), "
        f"cast(seen_at as varchar), cast(note as varchar) from {SCHEMA}.key_inputs_wide order by 1",
    )

    rerun = dbt(
        project,
        "run",
        "--select",
        "surrogate_keys_legacy",
        "--vars",
        '{"surrogate_key_treat_nulls_as_empty_strings": true}',
    )
    assert [(node_name(r["unique_id"]), r["status"]) for r in rerun] == [("surrogate_keys_legacy", "success")]
    legacy_with_var = {row[0]: tuple(row[1:]) for row in query(settings, legacy_sql)}
    return CheckOutcome(
        tests=tests,
        other_nodes=other,
        surrogate_keys=surrogate_keys,
        legacy_keys_default=legacy_default,
        legacy_keys_with_var=legacy_with_var,
        stored_failure_ids=[row[0] for row in stored],
        wide_keys=dict(wide_keys),
        wide_texts={row[0]: tuple(row[1:]) for row in wide_texts},
    )


def assert_expected(outcome: CheckOutcome, expected_tests: dict[str, tuple[str, int]]) -> None:
    assert outcome.tests == expected_tests
    assert EXCLUDED_TEST not in outcome.tests
    assert outcome.other_nodes == {"seed_rows": "success", **{m: "success" for m in MODELS}}
    assert outcome.surrogate_keys == expected_surrogate_keys()
    assert outcome.legacy_keys_default == expected_legacy_keys(NULL_MARKER)
    assert outcome.legacy_keys_with_var == expected_legacy_keys("")
    assert outcome.stored_failure_ids == [3, 5]
    assert sorted(outcome.wide_keys) == [1, 2, 3, 4]
    assert outcome.wide_keys == {row_id: md5_key(*texts) for row_id, texts in outcome.wide_texts.items()}


# -- the fallback packages -----------------------------------------------------------------------
def test_fallback_packages_give_the_documented_results(
    target: str, make_settings: Callable[[str], Settings], tmp_path: Path
) -> None:
    settings = make_settings(target)
    outcome = run_check_project(make_check_project(tmp_path, settings, "fallback"), settings)
    assert_expected(outcome, EXPECTED_TESTS | FALLBACK_ONLY_TESTS)


def test_surrogate_key_golden_values() -> None:
    """Anchors md5_key to literal digests, so that the Python side cannot drift with the SQL side."""
    assert md5_key("1") == "c4ca4238a0b923820dcc509a6f75849b"
    assert md5_key(None) == hashlib.md5(b"_dbt_utils_surrogate_key_null_").hexdigest()
    assert md5_key("", None) == hashlib.md5(b"-_dbt_utils_surrogate_key_null_").hexdigest()
    assert md5_key(None, null_text="") == "d41d8cd98f00b204e9800998ecf8427e"
    # NULL and '' differ by default and coincide in the legacy mode
    keys = expected_legacy_keys(NULL_MARKER)
    assert keys[2][0] != keys[3][0]
    assert expected_legacy_keys("")[2][0] == expected_legacy_keys("")[3][0]


PARSE_ERROR_CASES = {
    "between_without_bounds": (
        "dbt_expectations.expect_column_values_to_be_between",
        {"row_condition": "id > 0"},
        "amount",
    ),
    "row_count_without_bounds": (
        "dbt_expectations.expect_table_row_count_to_be_between",
        {"group_by": ["grp"]},
        None,
    ),
}


def make_parse_project(where: Path, packages: str, case: str) -> Path:
    """A one-model project whose only test is PARSE_ERROR_CASES[case]."""
    project = where / f"parse_{packages}_{case}"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        'name: rr_offline_parse\nversion: "1.0.0"\nconfig-version: 2\nprofile: rr_offline_parse\n'
        'vars:\n  "dbt_date:time_zone": "Asia/Seoul"\n',
        encoding="utf-8",
    )
    (project / "models" / "one_row.sql").write_text(
        "select 1 as id, 'x' as grp, 5 as amount\n", encoding="utf-8"
    )
    test_name, arguments, column = PARSE_ERROR_CASES[case]
    test = {test_name: {"arguments": arguments}}
    model: dict = {"name": "one_row"}
    if column:
        model["columns"] = [{"name": column, "data_tests": [test]}]
    else:
        model["data_tests"] = [test]
    (project / "models" / "_one_row.yml").write_text(
        json.dumps({"version": 2, "models": [model]}), encoding="utf-8"
    )
    profile = {"type": "duckdb", "path": str(where / "parse.duckdb"), "schema": SCHEMA}
    (project / "profiles.yml").write_text(
        json.dumps({"rr_offline_parse": {"target": "check", "outputs": {"check": profile}}}), encoding="utf-8"
    )
    source = OFFLINE_PACKAGES if packages == "fallback" else real_packages_dir()
    names = ("dbt_utils", "dbt_expectations") if packages == "fallback" else REAL_PACKAGE_NAMES
    for name in names:
        shutil.copytree(source / name, project / "dbt_packages" / name)
    return project


@pytest.mark.parametrize("case", sorted(PARSE_ERROR_CASES))
def test_range_without_any_bound_is_a_compile_error(case: str, tmp_path: Path) -> None:
    """As in the real package, a range test without min_value and max_value stops the parse."""
    error = dbt_parse_error(make_parse_project(tmp_path, "fallback", case))
    assert error is not None
    assert "give min_value, max_value or both" in error
    assert PARSE_ERROR_CASES[case][0].split(".")[1] in error


FALLBACK_API = {
    "dbt_utils": {"generate_surrogate_key", "expression_is_true", "unique_combination_of_columns"},
    "dbt_expectations": {
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_table_row_count_to_be_between",
        "expect_column_pair_values_A_to_be_greater_than_B",
    },
}
INTERNAL_HELPERS = {"rr_offline_bounds_condition"}
_SIGNATURE = re.compile(r"\{%-?\s*(?:macro|test)\s+(\w+)\s*\((.*?)\)\s*-?%\}", re.DOTALL)


def macro_signatures(package: Path) -> dict[str, str]:
    """Macro and generic-test name -> argument list (whitespace removed) of a package's macros."""
    signatures = {}
    for path in sorted((package / "macros").rglob("*.sql")):
        for name, arguments in _SIGNATURE.findall(path.read_text(encoding="utf-8")):
            signatures[name] = re.sub(r"\s+", "", arguments)
    return signatures


def test_fallback_covers_exactly_the_macros_the_project_uses() -> None:
    for package, api in FALLBACK_API.items():
        assert set(macro_signatures(OFFLINE_PACKAGES / package)) - INTERNAL_HELPERS == api, package


@pytest.mark.skipif(not os.environ.get(REAL_PACKAGES_ENV), reason=f"{REAL_PACKAGES_ENV} is not set")
def test_signatures_match_real_packages() -> None:
    """Argument names, order and defaults of every fallback macro are those of the real one."""
    for package, api in FALLBACK_API.items():
        ours = macro_signatures(OFFLINE_PACKAGES / package)
        real = macro_signatures(real_packages_dir() / package)
        for name in sorted(api):
            assert ours[name] == real[name], f"{package}.{name}"


def test_package_metadata_says_fallback() -> None:
    for name, real_version in (("dbt_utils", "1.4.1"), ("dbt_expectations", "0.10.9")):
        package = OFFLINE_PACKAGES / name
        project_yml = (package / "dbt_project.yml").read_text(encoding="utf-8")
        assert f"name: {name}\n" in project_yml
        assert f'version: "{real_version}+retailrocket.offline.fallback"' in project_yml
        assert "config-version: 2" in project_yml and "require-dbt-version:" in project_yml
        readme = (package / "README.md").read_text(encoding="utf-8")
        assert "NOT the real" in readme


# -- differential check against the real packages -----------------------------------------------
@pytest.mark.skipif(not os.environ.get(REAL_PACKAGES_ENV), reason=f"{REAL_PACKAGES_ENV} is not set")
def test_fallback_matches_real_packages(
    target: str, make_settings: Callable[[str], Settings], tmp_path: Path
) -> None:
    settings_fallback, settings_real = make_settings(target), make_settings(target)
    fallback = run_check_project(
        make_check_project(tmp_path, settings_fallback, "fallback"), settings_fallback
    )
    real = run_check_project(make_check_project(tmp_path, settings_real, "real"), settings_real)
    fallback.tests = {k: v for k, v in fallback.tests.items() if k not in FALLBACK_ONLY_TESTS}
    assert fallback == real
    assert_expected(real, EXPECTED_TESTS)
    for case in PARSE_ERROR_CASES:
        assert dbt_parse_error(make_parse_project(tmp_path, "real", case)) is not None, case


# -- the installer -------------------------------------------------------------------------------
def make_installer_project(where: Path) -> Path:
    """A minimal dbt project with this repository's packages.yml and offline_packages/."""
    project = where / "dbt_project_copy"
    project.mkdir()
    (project / "dbt_project.yml").write_text(
        'name: rr_installer_check\nversion: "1.0.0"\nconfig-version: 2\nprofile: rr_installer_check\n',
        encoding="utf-8",
    )
    shutil.copy2(DBT_DIR / "packages.yml", project / "packages.yml")
    shutil.copytree(OFFLINE_PACKAGES, project / "offline_packages")
    return project


def run_installer(project: Path, *args: str, hub_url: str = UNREACHABLE_HUB) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DBT_PACKAGE_HUB_URL"}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "False"
    return subprocess.run(
        [sys.executable, str(INSTALLER), "--project-dir", str(project), "--hub-url", hub_url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def read_installed(project: Path) -> dict[str, str]:
    text = (project / "dbt_packages" / "INSTALLED.txt").read_text(encoding="utf-8")
    fields = (line.partition(":") for line in text.splitlines() if not line.startswith("#"))
    return {key.strip(): value.strip() for key, colon, value in fields if colon}


def tree_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_fallback_installed(project: Path) -> None:
    installed = project / "dbt_packages"
    assert sorted(p.name for p in installed.iterdir()) == ["INSTALLED.txt", "dbt_expectations", "dbt_utils"]
    for name in ("dbt_utils", "dbt_expectations"):
        assert tree_files(installed / name) == tree_files(project / "offline_packages" / name), name


def test_installer_falls_back_when_the_hub_is_unreachable(tmp_path: Path) -> None:
    project = make_installer_project(tmp_path)
    done = run_installer(project)
    assert done.returncode == 0, done.stderr
    assert_fallback_installed(project)
    record = read_installed(project)
    assert record["installed"] == "offline-fallback"
    assert record["packages"] == (
        "dbt_utils 1.4.1+retailrocket.offline.fallback, dbt_expectations 0.10.9+retailrocket.offline.fallback"
    )
    assert record["reason"].startswith(f"the package hub {UNREACHABLE_HUB} did not answer (")
    assert record["installed_at"].endswith("+00:00")
    assert done.stdout.strip() == record["summary"]
    assert record["summary"].startswith("dbt packages: OFFLINE FALLBACK installed (dbt_utils 1.4.1+")
    assert not (project / "package-lock.yml").exists()


def test_installer_second_run_does_nothing_and_force_reinstalls(tmp_path: Path) -> None:
    project = make_installer_project(tmp_path)
    assert run_installer(project).returncode == 0
    record_path = project / "dbt_packages" / "INSTALLED.txt"
    first_record = record_path.read_text(encoding="utf-8")
    marker = project / "dbt_packages" / "dbt_utils" / "macros" / "extra_local_file.sql"

    again = run_installer(project)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout
    assert record_path.read_text(encoding="utf-8") == first_record

    # an extra file in the installed copy makes it differ from what was recorded: repaired
    marker.write_text("-- not part of the fallback\n", encoding="utf-8")
    repaired = run_installer(project)
    assert "nothing to do" not in repaired.stdout
    assert not marker.exists()
    assert_fallback_installed(project)

    # the check is by content: an installed file with another mtime is still current ...
    installed_readme = project / "dbt_packages" / "dbt_utils" / "README.md"
    os.utime(installed_readme, (0, 0))
    assert "nothing to do" in run_installer(project).stdout
    # ... and --force reinstalls it anyway
    forced = run_installer(project, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "nothing to do" not in forced.stdout
    assert installed_readme.stat().st_mtime > 0  # a fresh copy
    assert_fallback_installed(project)


@pytest.mark.parametrize("damage", ["emptied", "one_package_missing", "file_edited", "record_missing"])
def test_installer_repairs_a_damaged_install(damage: str, tmp_path: Path) -> None:
    project = make_installer_project(tmp_path)
    assert run_installer(project).returncode == 0
    installed = project / "dbt_packages"
    if damage == "emptied":  # what dbt deps does first when package-lock.yml exists
        shutil.rmtree(installed)
        installed.mkdir()
    elif damage == "one_package_missing":
        shutil.rmtree(installed / "dbt_expectations")
    elif damage == "file_edited":
        (installed / "dbt_utils" / "macros" / "generate_surrogate_key.sql").write_text(
            "broken", encoding="utf-8"
        )
    else:
        (installed / "INSTALLED.txt").unlink()
    done = run_installer(project)
    assert done.returncode == 0, done.stderr
    assert "nothing to do" not in done.stdout
    assert_fallback_installed(project)


def test_installer_reinstalls_when_the_fallback_sources_change(tmp_path: Path) -> None:
    project = make_installer_project(tmp_path)
    assert run_installer(project).returncode == 0
    before = read_installed(project)["fallback_sha256"]
    readme = project / "offline_packages" / "dbt_expectations" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nA local note.\n", encoding="utf-8")
    done = run_installer(project)
    assert "nothing to do" not in done.stdout
    assert read_installed(project)["fallback_sha256"] != before
    assert (
        (project / "dbt_packages" / "dbt_expectations" / "README.md")
        .read_text(encoding="utf-8")
        .endswith("A local note.\n")
    )


def test_installer_rejects_a_folder_without_dbt_project(tmp_path: Path) -> None:
    done = run_installer(tmp_path)
    assert done.returncode == 1
    assert f"{tmp_path.resolve()}: no dbt_project.yml here" in done.stderr


def test_installer_offline_flag_skips_the_hub(tmp_path: Path) -> None:
    project = make_installer_project(tmp_path)
    with fake_hub({}) as hub:  # a hub that answers: --offline must not even ask it
        done = run_installer(project, "--offline", hub_url=hub.index_url)
        assert hub.requests == []
    assert done.returncode == 0, done.stderr
    assert read_installed(project)["reason"] == "--offline was given"
    assert_fallback_installed(project)


# -- a fake package hub served from this process -------------------------------------------------
@dataclass
class FakeHub:
    base_url: str
    requests: list[str]

    @property
    def index_url(self) -> str:
        return f"{self.base_url}api/v1/index.json"


@dataclass(frozen=True)
class HubPackage:
    """One version of a package on the fake hub, served as a tarball of ``source``."""

    version: str
    source: Path
    depends_on: tuple[dict, ...] = ()


def _tarball(source: Path, top: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(source, arcname=top)
    return buffer.getvalue()


@contextlib.contextmanager
def fake_hub(packages: dict[str, HubPackage]) -> Iterator[FakeHub]:
    """A local HTTP server speaking the part of the hub API that dbt deps uses."""
    routes: dict[str, bytes] = {}
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            requests.append(self.path)
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    routes["/api/v1/index.json"] = json.dumps(sorted(packages)).encode()
    for owner_name, package in packages.items():
        name = owner_name.split("/")[1]
        tar_path = f"/tarballs/{name}-{package.version}.tar.gz"
        routes[tar_path] = _tarball(package.source, f"{name}-{package.version}")
        versions = {
            package.version: {
                "name": name,
                "packages": list(package.depends_on),
                "downloads": {"tarball": base + tar_path.lstrip("/")},
            }
        }
        routes[f"/api/v1/{owner_name}.json"] = json.dumps(
            {"name": name, "namespace": owner_name.split("/")[0], "versions": versions}
        ).encode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeHub(base_url=base, requests=requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_installer_falls_back_when_dbt_deps_fails(tmp_path: Path) -> None:
    """The hub answers but offers no dbt_utils 1.4.1: dbt deps fails, the fallback is installed."""
    project = make_installer_project(tmp_path)
    packages = {
        "dbt-labs/dbt_utils": HubPackage("1.0.0", OFFLINE_PACKAGES / "dbt_utils"),
        "metaplane/dbt_expectations": HubPackage("0.1.0", OFFLINE_PACKAGES / "dbt_expectations"),
    }
    with fake_hub(packages) as hub:
        done = run_installer(project, hub_url=hub.index_url)
        assert "/api/v1/index.json" in hub.requests  # asked by the installer, then by dbt deps
        assert any(path.endswith("dbt_utils.json") for path in hub.requests)  # dbt deps used this hub
    assert done.returncode == 0, done.stderr
    record = read_installed(project)
    assert record["installed"] == "offline-fallback"
    assert record["reason"] == (
        "dbt deps failed (exit code 2: Could not find a matching compatible version for package dbt-labs/dbt_utils)"
    )
    assert_fallback_installed(project)

    with fake_hub(packages) as hub:
        online = run_installer(project, "--online", hub_url=hub.index_url)
    assert online.returncode == 1
    assert "dbt deps failed" in online.stderr and "run without --online" in online.stderr
    assert not (project / "dbt_packages" / "INSTALLED.txt").exists()


@pytest.mark.skipif(not os.environ.get(REAL_PACKAGES_ENV), reason=f"{REAL_PACKAGES_ENV} is not set")
def test_installer_runs_dbt_deps_when_the_hub_answers(tmp_path: Path) -> None:
    """A fake hub serving the real packages: dbt deps installs them, a second run does nothing."""
    real = real_packages_dir()
    project = make_installer_project(tmp_path)
    date_dependency = {"package": "godatadriven/dbt_date", "version": [">=0.9.0", "<1.0.0"]}
    packages = {
        "dbt-labs/dbt_utils": HubPackage("1.4.1", real / "dbt_utils"),
        "metaplane/dbt_expectations": HubPackage("0.10.9", real / "dbt_expectations", (date_dependency,)),
        "godatadriven/dbt_date": HubPackage("0.21.0", real / "dbt_date"),
    }
    with fake_hub(packages) as hub:
        done = run_installer(project, hub_url=hub.index_url)
        assert done.returncode == 0, done.stderr
        record = read_installed(project)
        assert record["installed"] == "real"
        assert record["packages"] == (
            "dbt-labs/dbt_utils 1.4.1, metaplane/dbt_expectations 0.10.9, godatadriven/dbt_date 0.21.0"
        )
        assert done.stdout.strip() == record["summary"]
        installed = project / "dbt_packages"
        assert tree_files(installed / "dbt_utils") == tree_files(real / "dbt_utils")
        assert (installed / "dbt_date" / "dbt_project.yml").is_file()

        hub.requests.clear()
        again = run_installer(project, hub_url=hub.index_url)
        assert "nothing to do" in again.stdout and hub.requests == []

        with (project / "packages.yml").open("a", encoding="utf-8") as handle:
            handle.write("# edited\n")
        changed = run_installer(project, hub_url=hub.index_url)
        assert "nothing to do" not in changed.stdout
        assert read_installed(project)["installed"] == "real"

        offline = run_installer(project, "--offline", hub_url=hub.index_url)
        assert offline.returncode == 0
        assert_fallback_installed(project)
