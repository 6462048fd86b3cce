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


@pytest.fixture(scope="session")
def new_warehouse(tmp_path_factory, _pg_databases) -> Callable[..., Settings]:
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
