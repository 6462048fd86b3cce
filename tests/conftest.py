"""Shared fixtures: one way for every test to get a fresh warehouse of either kind.

PostgreSQL comes from the RR_PG_* settings (default 127.0.0.1:5432, user postgres). Each test
that asks for a PostgreSQL warehouse gets a database of its own, dropped at the end of the
session. When the server does not answer, PostgreSQL tests are skipped locally but *fail* in
CI (``CI=true``), so a missing server can never turn a CI run green.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from seeds_loader.settings import Settings, load_settings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# seconds each test file took in a full run (setup, call and teardown of its tests), written by
# `make test-durations`; make test starts the longest files first
DURATIONS = Path(__file__).with_name("durations.json")


def pytest_collection_modifyitems(config, items) -> None:
    """The longest files first: make test hands whole files to its workers in this order
    (pytest-xdist --dist loadfile --no-loadscope-reorder), so the Spark and end-to-end files do
    not start last and leave one worker running alone at the end. Files tests/durations.json does
    not list yet come first (their length is unknown: a new Spark file must not start last), by
    their counts of Spark tests, then of slow tests; then the listed ones by recorded seconds. The
    files stay whole and each keeps its own test order."""
    import json

    recorded = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def weight(name: str) -> tuple[bool, float, int, int]:
        tests = files[name]
        spark = sum(1 for t in tests if t.get_closest_marker("spark"))
        slow = sum(1 for t in tests if t.get_closest_marker("slow"))
        return (name in recorded, -recorded.get(name, 0.0), -spark, -slow)

    items[:] = [item for name in sorted(files, key=weight) for item in files[name]]


_file_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report) -> None:
    file = report.nodeid.split("::", 1)[0]
    _file_seconds[file] = _file_seconds.get(file, 0.0) + report.duration


def pytest_sessionfinish(session, exitstatus) -> None:
    """RR_TEST_DURATIONS_OUT=path (make test-durations): after a passing run, update each file's
    seconds there (files this run did not touch keep theirs), once, from the process that saw
    every report (the xdist controller, or the only process)."""
    out = os.environ.get("RR_TEST_DURATIONS_OUT")
    if out and exitstatus == 0 and not hasattr(session.config, "workerinput") and _file_seconds:
        import json

        path = Path(out)
        durations = json.loads(path.read_text()) if path.exists() else {}
        durations.update({name: round(seconds, 1) for name, seconds in _file_seconds.items()})
        path.write_text(json.dumps(dict(sorted(durations.items())), indent=1) + "\n")


def _pg_admin_settings() -> Settings:
    return replace(load_settings(use_dotenv=False), target="postgres")


def _pg_unavailable_reason() -> str | None:
    import psycopg

    settings = _pg_admin_settings()
    try:
        with psycopg.connect(settings.pg_conninfo_for("postgres"), connect_timeout=5):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at {settings.pg_host}:{settings.pg_port} does not answer: {str(exc).strip()}"


@pytest.fixture(scope="session")
def pg_available() -> bool:
    reason = _pg_unavailable_reason()
    if reason is None:
        return True
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _pg_databases() -> Iterator[list[str]]:
    created: list[str] = []
    yield created
    if not created:
        return
    import psycopg

    admin = _pg_admin_settings()
    with psycopg.connect(admin.pg_conninfo_for("postgres"), autocommit=True) as conn:
        for name in created:
            conn.execute(f'drop database if exists "{name}" with (force)')


# the databases (schemas) the project writes on Spark; a new Spark warehouse starts without them
SPARK_DATABASES = ("raw", "staging", "mart", "kpi_build", "kpi", "qa")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def _spark_server(tmp_path_factory) -> Iterator[Callable[[], Settings]]:
    """A local Spark Thrift Server for the session's Spark tests (make spark-up's code), started
    on first use on a free port with its own warehouse folder and metastore. No Java, no
    pyspark or no start: the tests fail (they are never skipped)."""
    started: list[Settings] = []

    def get() -> Settings:
        if not started:
            from seeds_loader import spark_server

            folder = tmp_path_factory.mktemp("spark")
            settings = replace(
                load_settings(use_dotenv=False),
                target="spark",
                spark_method="thrift",
                spark_host="127.0.0.1",
                spark_port=_free_port(),
                spark_dir=folder,
                spark_driver_memory="2g",
            )
            spark_server.up(settings, say=lambda _m: None)
            started.append(settings)
        return started[0]

    yield get
    if started:
        from seeds_loader import spark_server

        spark_server.down(started[0], say=lambda _m: None)


@pytest.fixture(scope="session")
def new_warehouse(tmp_path_factory, _pg_databases, _spark_server) -> Callable[..., Settings]:
    """Session-wide factory of empty warehouses, for module- or session-scoped fixtures."""

    def factory(target: str, *, data_dir: Path | None = None) -> Settings:
        base = load_settings(use_dotenv=False)
        folder = tmp_path_factory.mktemp(f"wh_{target}")
        data_dir = data_dir or (folder / "raw")
        if target == "duckdb":
            return replace(base, target="duckdb", duckdb_path=folder / "warehouse.duckdb", data_dir=data_dir)
        if target == "postgres":
            reason = _pg_unavailable_reason()
            if reason is not None:
                if IN_CI:
                    pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run in CI)", pytrace=False)
                pytest.skip(reason)
            name = f"rr_test_{uuid.uuid4().hex[:12]}"
            _pg_databases.append(name)
            return replace(base, target="postgres", pg_database=name, data_dir=data_dir)
        if target == "spark":  # one server for the session: each new warehouse empties it first
            from seeds_loader.warehouse import connect

            settings = replace(_spark_server(), data_dir=data_dir)
            with connect(settings) as wh:
                for database in SPARK_DATABASES:
                    wh.execute(f"drop database if exists {database} cascade")
            return settings
        raise ValueError(target)

    return factory


@pytest.fixture
def make_settings(tmp_path: Path, new_warehouse) -> Callable[..., Settings]:
    """Factory: ``make_settings("duckdb")`` or ``make_settings("postgres")`` -> settings of an empty
    warehouse whose data folder defaults to ``tmp_path / "raw"``."""

    def factory(target: str, *, data_dir: Path | None = None) -> Settings:
        return new_warehouse(target, data_dir=data_dir or (tmp_path / "raw"))

    return factory


@pytest.fixture(params=["duckdb", "postgres"])
def target(request) -> str:
    """Parametrises a test over both warehouses."""
    return request.param


@pytest.fixture
def attacked(goldens, tmp_path, _pg_databases):
    """For the modules that attack a warehouse (tests/attack_support.py): ``attacked(target)`` is a
    fresh copy of the module's own ``goldens[target]`` fixture, for one test to edit."""
    from tests.attack_support import Golden, clone

    made: list[Golden] = []

    def make(target: str) -> Golden:
        made.append(clone(goldens[target], tmp_path / f"wh{len(made)}", _pg_databases))
        return made[-1]

    return make
