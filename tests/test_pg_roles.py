"""`make pg-roles` (seeds_loader/pg_roles.py): the reader role reads kpi and qa and writes nothing.

Every claim is checked by connecting as an analyst: a LOGIN role that is a member of the reader
(trust authentication lets it in without a password), facing the schemas dbt leaves behind,
built here without dbt. Roles are cluster-wide and test files run in parallel processes, so each
test names its roles uniquely and drops them at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from seeds_loader.pg_roles import RoleError, create_reader_role, reader_privileges
from seeds_loader.settings import Settings, SettingsError, load_settings
from seeds_loader.warehouse import ensure_pg_database

ROOT = Path(__file__).resolve().parent.parent

# the schemas of the warehouse with one table each, and the views analysts read: kpi's over
# kpi_build (the certified rows), qa's over raw
WAREHOUSE_SQL = """
create schema raw;
create table raw.events (event_id int, event_type text);
insert into raw.events values (1, 'view'), (2, 'transaction');
create schema staging;
create table staging.stg_events (event_id int);
create schema mart;
create table mart.fact_events (event_id int);
create schema kpi_build;
create table kpi_build.funnel_daily (event_date date, sessions int);
insert into kpi_build.funnel_daily values ('2015-09-17', 10), ('2015-09-18', 12);
create schema kpi;
create table kpi.published (event_date date);
insert into kpi.published values ('2015-09-18');
create view kpi.funnel_daily as select * from kpi_build.funnel_daily;
create schema qa;
create table qa.run_history (run_id int, status text);
insert into qa.run_history values (1, 'pass');
create view qa.raw_events as select * from raw.events;
"""

FORBIDDEN_READS = ("kpi_build.funnel_daily", "raw.events", "mart.fact_events", "staging.stg_events")
FORBIDDEN_WRITES = (
    "insert into kpi.published values ('2015-09-19')",
    "update kpi.published set event_date = null",
    "delete from kpi.published",
    "truncate kpi.published",
    "insert into kpi.funnel_daily values ('2015-09-19', 1)",  # an auto-updatable view
    "update kpi.funnel_daily set sessions = 0",
    "delete from kpi.funnel_daily",
    "insert into qa.run_history values (2, 'fail')",
    "update qa.run_history set status = 'fail'",
    "delete from qa.run_history",
    "truncate qa.run_history",
    "create table kpi.mine (x int)",
    "create view kpi.mine as select 1 as x",
    "create table qa.mine (x int)",
    "create schema mine",
)


@dataclass
class Warehouse:
    """A fresh PostgreSQL warehouse and the uniquely named roles of one test."""

    settings: Settings  # as the pipeline role (the test user), reader role set
    reader: str
    analyst: str  # a LOGIN member of the reader
    roles: list[str] = field(default_factory=list)

    def role(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.roles.append(name)
        return name

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.settings.pg_conninfo, autocommit=True)

    def as_role(self, role: str) -> psycopg.Connection:
        return psycopg.connect(replace(self.settings, pg_user=role).pg_conninfo, autocommit=True)

    def add_analyst(self) -> None:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("create role {} login in role {}").format(
                    sql.Identifier(self.analyst), sql.Identifier(self.reader)
                )
            )


@pytest.fixture
def wh(new_warehouse) -> Iterator[Warehouse]:
    base = new_warehouse("postgres")
    ensure_pg_database(base)
    tag = uuid.uuid4().hex[:8]
    reader, analyst = f"rr_reader_{tag}", f"rr_analyst_{tag}"
    warehouse = Warehouse(replace(base, pg_reader_role=reader), reader, analyst, [reader, analyst])
    yield warehouse
    # reassign owned by: a test's pipeline role owns the database and its schemas; drop owned
    # by: the grants in this database and on shared objects (CONNECT on it)
    with psycopg.connect(base.pg_conninfo, autocommit=True) as conn:
        for role in warehouse.roles:
            if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("reassign owned by {} to current_user").format(sql.Identifier(role)))
                conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
        for role in warehouse.roles:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def build_warehouse(conn: psycopg.Connection) -> None:
    for statement in WAREHOUSE_SQL.strip().split(";\n"):
        conn.execute(statement)


def quiet_run(wh: Warehouse, settings: Settings | None = None) -> list[str]:
    said: list[str] = []
    assert create_reader_role(settings or wh.settings, say=said.append) == wh.reader
    return said


def assert_denied(conn: psycopg.Connection, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def expected_privileges(wh: Warehouse, pipeline: str = "postgres") -> set[tuple]:
    with wh.admin() as conn:
        tables = conn.execute(
            "select table_schema::text, table_name::text from information_schema.tables "
            "where table_schema in ('kpi', 'qa')"
        ).fetchall()
    return {
        ("database", None, wh.settings.pg_database, None, "CONNECT"),
        ("schema", None, "kpi", None, "USAGE"),
        ("schema", None, "qa", None, "USAGE"),
        ("default", "kpi", pipeline, "r", "SELECT"),
        ("default", "qa", pipeline, "r", "SELECT"),
        *{("table", schema, name, None, "SELECT") for schema, name in tables},
    }


def held_privileges(wh: Warehouse) -> set[tuple]:
    with wh.admin() as conn:
        held = reader_privileges(conn, wh.reader)
    assert not any(p.grantable for p in held)
    return {p.key for p in held}


def test_the_reader_reads_kpi_and_qa_and_writes_nothing(wh: Warehouse) -> None:
    with wh.admin() as conn:
        build_warehouse(conn)
    said = quiet_run(wh)
    assert said[0] == f"created role {wh.reader} (NOLOGIN)"
    assert said[-1].startswith(f"{wh.reader}: CONNECT; USAGE on kpi, qa; SELECT on their 4 tables")
    assert held_privileges(wh) == expected_privileges(wh)
    wh.add_analyst()

    with wh.as_role(wh.analyst) as analyst:
        # the views read kpi_build and raw with their owner's rights
        assert analyst.execute("select sessions from kpi.funnel_daily order by 1").fetchall() == [
            (10,),
            (12,),
        ]
        assert analyst.execute("select event_id from qa.raw_events order by 1").fetchall() == [(1,), (2,)]
        assert analyst.execute("select count(*) from kpi.published").fetchone() == (1,)
        assert analyst.execute("select status from qa.run_history").fetchall() == [("pass",)]
        for table in FORBIDDEN_READS:
            assert_denied(analyst, f"select * from {table}")
        for statement in FORBIDDEN_WRITES:
            assert_denied(analyst, statement)

    # dbt's next run: new and re-created views and tables, readable without make pg-roles
    with wh.admin() as conn:
        conn.execute("drop view kpi.funnel_daily")
        conn.execute(
            "create view kpi.funnel_daily as select * from kpi_build.funnel_daily where sessions > 10"
        )
        conn.execute("create view kpi.funnel_weekly as select count(*) as days from kpi_build.funnel_daily")
        conn.execute("create table qa.date_certification as select date '2015-09-18' as d, true as ok")
    with wh.as_role(wh.analyst) as analyst:
        assert analyst.execute("select sessions from kpi.funnel_daily").fetchall() == [(12,)]
        assert analyst.execute("select days from kpi.funnel_weekly").fetchone() == (2,)
        assert analyst.execute("select ok from qa.date_certification").fetchone() == (True,)
        assert_denied(analyst, "insert into qa.date_certification values (current_date, false)")
        assert_denied(analyst, "delete from qa.date_certification")


def test_a_second_run_changes_nothing_and_a_later_one_revokes_what_was_added(wh: Warehouse) -> None:
    with wh.admin() as conn:
        build_warehouse(conn)
    quiet_run(wh)
    assert [line for line in quiet_run(wh) if "created" in line or "revoked" in line] == []
    expected = expected_privileges(wh)
    assert held_privileges(wh) == expected
    wh.add_analyst()

    # more than the reader may hold, granted by hand, directly and through another role
    writer = wh.role("rr_writer")
    reader, name = wh.reader, sql.Identifier(wh.reader)
    with wh.admin() as conn:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(writer)))
        conn.execute(sql.SQL("grant usage on schema qa to {}").format(sql.Identifier(writer)))
        conn.execute(sql.SQL("grant insert on qa.run_history to {}").format(sql.Identifier(writer)))
        for statement in (
            "grant insert on qa.run_history to {}",
            "grant update (event_date) on kpi.published to {}",
            "grant select on kpi.published to {} with grant option",
            "grant create on schema kpi to {}",
            "grant usage on schema raw to {}",
            "grant select on raw.events to {}",
            "alter default privileges in schema qa grant insert on tables to {}",
        ):
            conn.execute(sql.SQL(statement).format(name))
        database = sql.Identifier(wh.settings.pg_database)
        conn.execute(sql.SQL("grant create on database {} to {}").format(database, name))
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(writer), name))
    with wh.as_role(wh.analyst) as analyst:  # the hand-made grants work before the run
        analyst.execute("insert into qa.run_history values (2, 'fail')")
        assert analyst.execute("select count(*) from raw.events").fetchone() == (2,)

    said = quiet_run(wh)
    assert f"revoked membership of {reader} in role {writer}" in said
    for change in (
        f"revoked INSERT on table qa.run_history from {reader}",
        f"revoked UPDATE (event_date) on table kpi.published from {reader}",
        f"revoked the grant option of SELECT on table kpi.published from {reader}",
        f"revoked CREATE on schema kpi from {reader}",
        f"revoked USAGE on schema raw from {reader}",
        f"revoked SELECT on table raw.events from {reader}",
        f"revoked default INSERT on the tables postgres creates in schema qa from {reader}",
        f"revoked CREATE on database {wh.settings.pg_database} from {reader}",
    ):
        assert change in said, (change, said)
    assert held_privileges(wh) == expected
    with wh.as_role(wh.analyst) as analyst:
        assert_denied(analyst, "insert into qa.run_history values (3, 'fail')")
        assert_denied(analyst, "update kpi.published set event_date = null")
        assert_denied(analyst, "select * from raw.events")
        assert_denied(analyst, "create table kpi.mine (x int)")
        assert_denied(analyst, "create schema mine")
        assert analyst.execute("select count(*) from qa.run_history").fetchone() == (2,)
    with wh.admin() as conn:  # the default privileges no longer give INSERT on new qa tables
        conn.execute("create table qa.later (x int)")
    with wh.as_role(wh.analyst) as analyst:
        assert analyst.execute("select count(*) from qa.later").fetchone() == (0,)
        assert_denied(analyst, "insert into qa.later values (1)")


def test_it_creates_the_schemas_and_takes_them_over(wh: Warehouse) -> None:
    other = wh.role("rr_other")
    with wh.admin() as conn:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(other)))
        conn.execute(sql.SQL("create schema qa authorization {}").format(sql.Identifier(other)))
    said = quiet_run(wh)
    assert "created schema kpi" in said
    assert f"schema qa: owner {other} -> postgres (the pipeline role, RR_PG_USER)" in said
    with wh.admin() as conn:
        owners = conn.execute(
            "select nspname::text, pg_get_userbyid(nspowner)::text from pg_namespace "
            "where nspname in ('kpi', 'qa') order by 1"
        ).fetchall()
    assert owners == [("kpi", "postgres"), ("qa", "postgres")]
    assert held_privileges(wh) == expected_privileges(wh)


def test_a_pipeline_role_without_powers_sets_up_a_reader_an_admin_created(wh: Warehouse) -> None:
    """The compose stack's case: the pipeline role owns the database, lacks CREATEROLE and
    SUPERUSER; an admin creates the reader once."""
    pipeline = wh.role("rr_pipeline")
    with wh.admin() as conn:
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(pipeline)))
        conn.execute(
            sql.SQL("alter database {} owner to {}").format(
                sql.Identifier(wh.settings.pg_database), sql.Identifier(pipeline)
            )
        )
        # as the stack's postgres-init.sh does: only roles granted CONNECT get in
        conn.execute(
            sql.SQL("revoke all on database {} from public").format(sql.Identifier(wh.settings.pg_database))
        )
    settings = replace(wh.settings, pg_user=pipeline)
    with wh.as_role(pipeline) as conn:
        build_warehouse(conn)

    with pytest.raises(
        RoleError, match=rf"^cannot create role {wh.reader}: the pipeline role lacks CREATEROLE"
    ):
        quiet_run(wh, settings)
    with wh.admin() as conn:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(wh.reader)))
    said = quiet_run(wh, settings)
    assert not [line for line in said if "created" in line or "revoked" in line]
    assert held_privileges(wh) == expected_privileges(wh, pipeline)
    wh.add_analyst()
    with wh.as_role(wh.analyst) as analyst:
        assert analyst.execute("select count(*) from kpi.funnel_daily").fetchone() == (2,)
        assert_denied(analyst, "select * from kpi_build.funnel_daily")
        assert_denied(analyst, "insert into qa.run_history values (2, 'fail')")
    with wh.as_role(pipeline) as conn:  # what it creates later is readable (its default privileges)
        conn.execute("create view kpi.later as select 1 as x")
    with wh.as_role(wh.analyst) as analyst:
        assert analyst.execute("select x from kpi.later").fetchone() == (1,)

    # a schema it neither owns nor may take over: one line naming the schema and its owner, and
    # nothing changed (schema kpi, created before qa failed, is gone again)
    other = wh.role("rr_other")
    with wh.admin() as conn:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(other)))
        conn.execute("drop schema kpi, qa cascade")
        conn.execute(sql.SQL("create schema qa authorization {}").format(sql.Identifier(other)))
    with pytest.raises(RoleError) as failure:
        quiet_run(wh, settings)
    message = str(failure.value)
    assert message.startswith(f"schema qa is owned by {other}, not by the pipeline role {pipeline}")
    assert f"alter schema qa owner to {pipeline};" in message and "\n" not in message
    with wh.admin() as conn:
        assert conn.execute("select 1 from pg_namespace where nspname = 'kpi'").fetchone() is None


def test_roles_the_reader_must_not_be(wh: Warehouse) -> None:
    with wh.admin() as conn:
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(wh.analyst)))
    with pytest.raises(RoleError, match=rf"^role {wh.analyst} exists with LOGIN, but the reader must be"):
        create_reader_role(wh.settings, role=wh.analyst, say=lambda _m: None)
    with pytest.raises(RoleError, match="the pipeline role itself"):
        create_reader_role(wh.settings, role="postgres", say=lambda _m: None)
    with pytest.raises(SettingsError, match="the reader role must be a lowercase SQL identifier"):
        create_reader_role(wh.settings, role='x"; drop table kpi.published; --', say=lambda _m: None)


def test_other_warehouses_are_refused_in_one_line(tmp_path: Path) -> None:
    for target in ("duckdb", "spark"):
        settings = load_settings({"RR_PROJECT_ROOT": str(tmp_path), "RR_TARGET": target}, use_dotenv=False)
        with pytest.raises(RoleError) as failure:
            create_reader_role(settings)
        assert str(failure.value).startswith("make pg-roles is for PostgreSQL (RR_TARGET=postgres)")
        assert "\n" not in str(failure.value)
    assert not list(tmp_path.iterdir())  # no warehouse file was created


def test_the_setting_defaults_to_rr_reader_and_takes_plain_names_only(tmp_path: Path) -> None:
    def settings(**env: str) -> Settings:
        return load_settings({"RR_PROJECT_ROOT": str(tmp_path), **env}, use_dotenv=False)

    assert settings().pg_reader_role == "rr_reader"
    assert settings(RR_PG_READER_ROLE="").pg_reader_role == "rr_reader"
    assert settings(RR_PG_READER_ROLE="kpi_readers").pg_reader_role == "kpi_readers"
    assert settings(RR_PG_READER_ROLE="kpi_readers").dbt_env()["RR_PG_READER_ROLE"] == "kpi_readers"
    for bad in ("bad-name;drop", "Readers", "1reader", "pg_reader", "public", "x" * 64, 'a"b'):
        with pytest.raises(SettingsError, match="^RR_PG_READER_ROLE must be a lowercase SQL identifier"):
            settings(RR_PG_READER_ROLE=bad)


def run_cli(settings: Settings, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "seeds_loader", "pg-roles"],
        cwd=ROOT,
        env={**os.environ, **settings.dbt_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line(wh: Warehouse, tmp_path: Path) -> None:
    with wh.admin() as conn:
        build_warehouse(conn)
    done = run_cli(wh.settings)
    assert done.returncode == 0, done.stderr
    assert f"reader role: {wh.reader}" in done.stdout.splitlines()
    assert f"in role {wh.reader};" in done.stdout and f"dbname={wh.settings.pg_database}" in done.stdout
    assert held_privileges(wh) == expected_privileges(wh)

    duckdb = run_cli(wh.settings, RR_TARGET="duckdb", RR_DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    assert duckdb.returncode == 2 and duckdb.stdout == ""
    assert duckdb.stderr.startswith("error: make pg-roles is for PostgreSQL (RR_TARGET=postgres)")
    assert len(duckdb.stderr.splitlines()) == 1

    bad = run_cli(wh.settings, RR_PG_READER_ROLE="bad-name;drop")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("error: RR_PG_READER_ROLE must be a lowercase SQL identifier")
    assert "'bad-name;drop'" in bad.stderr and len(bad.stderr.splitlines()) == 1

    gone = run_cli(wh.settings, RR_PG_PORT="1")  # no server there
    assert gone.returncode == 2 and gone.stderr.startswith("error: ") and len(gone.stderr.splitlines()) == 1
