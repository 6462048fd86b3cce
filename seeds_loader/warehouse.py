"""Connections to the configured warehouse (DuckDB file, PostgreSQL database or Spark).

A thin, shared layer so that the loader, the exports and the tests talk to either warehouse
the same way: ``%s`` placeholders everywhere (translated to ``?`` for DuckDB), explicit
transactions, and the PostgreSQL database created on first use.

One writer of raw data at a time. The raw loader replaces the raw tables while nothing else
reads them: on PostgreSQL it holds the exclusive advisory lock :data:`RAW_DATA_LOCK` for its
transaction, and readers that must see one delivery from start to end (the export) hold it
shared (:meth:`Warehouse.snapshot`). dbt runs are checked optimistically instead (the raw load id
at the start and the end of each invocation, see the certification macros): a run under which the
raw data changed fails and counts for nothing. On DuckDB the file itself admits one writing
process: :func:`connect` waits for it ("warehouse busy") instead of failing. Spark has neither
transactions nor locks (:mod:`seeds_loader.spark`): a transaction there is a plain sequence of
statements, and a raw load replaces each table by a rename (see load_spark).
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from seeds_loader.settings import Settings, load_settings

SCHEMAS = ("raw", "staging", "mart", "kpi", "qa")
# PostgreSQL advisory lock key of the raw data (an arbitrary constant: "rr-kpi-raw")
RAW_DATA_LOCK = 0x72722D6B70692D72
_DUCKDB_BUSY = re.compile(r"Could not set lock on file|Conflicting lock is held", re.IGNORECASE)


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or refused an operation."""


class WarehouseBusy(WarehouseError):
    """Another process holds the warehouse for longer than we were willing to wait."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_pg_database(settings: Settings) -> None:
    """Create ``RR_PG_DATABASE`` when it does not exist yet (needs CREATEDB)."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(settings.pg_conninfo_for("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (settings.pg_database,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(settings.pg_database)))
    except psycopg.errors.DuplicateDatabase:  # created concurrently: fine
        pass
    except psycopg.OperationalError as exc:
        raise WarehouseError(
            f"PostgreSQL at {settings.pg_host}:{settings.pg_port} (user {settings.pg_user}) "
            f"does not answer: {str(exc).strip()}. Start it or fix the RR_PG_* settings."
        ) from exc


_PLACEHOLDER = re.compile(r"%s")


class Warehouse:
    """One open connection. Use :func:`connect`."""

    def __init__(self, settings: Settings, conn: Any):
        self.settings = settings
        self.target = settings.target
        self.conn = conn

    # -- statements -------------------------------------------------------------------------
    def _sql(self, statement: str) -> str:
        return _PLACEHOLDER.sub("?", statement) if self.target == "duckdb" else statement

    def quote(self, name: str) -> str:
        """An identifier quoted the warehouse's way (``"x"``; Spark: `` `x` ``)."""
        return f"`{name}`" if self.target == "spark" else f'"{name}"'

    def ddl(self, columns: str) -> str:
        """Column definitions written for DuckDB/PostgreSQL (``"x"``, ``text``, ``double
        precision``), translated for Spark (`` `x` ``, ``string``, ``double``)."""
        if self.target != "spark":
            return columns
        columns = re.sub(r'"([A-Za-z_][A-Za-z0-9_]*)"', r"`\1`", columns)
        columns = re.sub(r"\btext\b", "string", columns)
        return re.sub(r"\bdouble precision\b", "double", columns)

    def create_table_if_missing(self, table: str, columns: str) -> None:
        """``create table if not exists`` with :meth:`ddl`'s columns; Parquet on Spark, whatever the
        server's default (Spark 3 would create a Hive text table)."""
        using = " using parquet" if self.target == "spark" else ""
        self.execute(f"create table if not exists {table} ({self.ddl(columns)}){using}")

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        if self.target == "spark":
            from seeds_loader.spark import inline

            self.conn.execute(inline(statement, params))
        elif self.target == "duckdb":
            self.conn.execute(self._sql(statement), params or [])
        else:
            self.conn.execute(statement, params)

    def query(self, statement: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.query_with_columns(statement, params)[1]

    def query_with_columns(
        self, statement: str, params: Sequence[Any] | None = None
    ) -> tuple[list[str], list[tuple]]:
        if self.target == "spark":
            from seeds_loader.spark import inline

            cur = self.conn.execute(inline(statement, params))
        elif self.target == "duckdb":
            cur = self.conn.execute(self._sql(statement), params or [])
        else:
            cur = self.conn.execute(statement, params)
        columns = [d[0] for d in (cur.description or [])]
        return columns, [tuple(r) for r in cur.fetchall()]

    def scalar(self, statement: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.query(statement, params)
        return rows[0][0] if rows else None

    # -- catalogue ----------------------------------------------------------------------------
    def table_exists(self, schema: str, table: str) -> bool:
        if self.target == "spark":
            if not self.query("show databases like %s", (schema,)):
                return False
            return bool(self.query(f"show tables in {schema} like %s", (table,)))
        return bool(
            self.scalar(
                "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
                (schema, table),
            )
        )

    def columns(self, schema: str, table: str) -> list[str]:
        if self.target == "spark":
            return self.query_with_columns(f"select * from {schema}.{table} limit 0")[0]
        rows = self.query(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (schema, table),
        )
        return [r[0] for r in rows]

    # -- transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Warehouse]:
        """A read-only view of one moment: no raw load commits while it is open (PostgreSQL:
        REPEATABLE READ plus the shared raw-data lock; DuckDB: one transaction of the one
        process that holds the file)."""
        if self.target in ("duckdb", "spark"):
            with self.transaction():
                yield self
            return
        with self.conn.transaction():
            self.conn.execute("set transaction isolation level repeatable read, read only")
            self.conn.execute("select pg_advisory_xact_lock_shared(%s)", (RAW_DATA_LOCK,))
            yield self

    def lock_raw_data(self, say: Callable[[str], None] = _say) -> None:
        """Inside a transaction: hold the raw data exclusively until it ends (PostgreSQL; on
        DuckDB holding the file is already exclusive; Spark has no locks). Says once that it
        waits, then waits."""
        if self.target in ("duckdb", "spark"):
            return
        if self.scalar("select pg_try_advisory_xact_lock(%s)", (RAW_DATA_LOCK,)):
            return
        holders = self.query(
            "select a.pid, coalesce(a.application_name, '') from pg_locks l "
            "join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and l.granted and l.pid <> pg_backend_pid() "
            "and ((l.classid::bigint << 32) | l.objid::bigint) = %s order by 1",
            (RAW_DATA_LOCK,),
        )
        who = (
            ", ".join(f"pid {pid}" + (f" ({app})" if app else "") for pid, app in holders)
            or "another session"
        )
        say(f"warehouse busy: {who} is reading the raw data; waiting for it to finish")
        self.execute("select pg_advisory_xact_lock(%s)", (RAW_DATA_LOCK,))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """All or nothing: commit on success, roll back on any exception (Spark: no
        transactions, the statements simply run)."""
        if self.target == "spark":
            yield self
        elif self.target == "duckdb":
            self.conn.execute("begin transaction")
            try:
                yield self
            except BaseException:
                self.conn.execute("rollback")
                raise
            else:
                self.conn.execute("commit")
        else:
            with self.conn.transaction():
                yield self

    def close(self) -> None:
        self.conn.close()


def _open_duckdb(duckdb: Any, path: str, wait_seconds: float, say: Callable[[str], None] = _say) -> Any:
    """Open the DuckDB file; while another process holds it, say so once and wait."""
    deadline = time.monotonic() + wait_seconds
    said = False
    while True:
        try:
            return duckdb.connect(path)
        except duckdb.IOException as exc:
            message = " ".join(str(exc).split())
            if not _DUCKDB_BUSY.search(message):
                raise WarehouseError(f"cannot open DuckDB warehouse {path}: {message}") from exc
            holder = re.search(r"\(PID (\d+)\)", message)
            who = f"process {holder.group(1)}" if holder else "another process"
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"warehouse busy: {path} is held by {who}; gave up after {wait_seconds:g} s "
                    "(RR_WAREHOUSE_WAIT_SECONDS)"
                ) from exc
            if not said:
                say(
                    f"warehouse busy: {path} is held by {who} (a load, a dbt run or an export); "
                    f"waiting up to {wait_seconds:g} s"
                )
                said = True
            time.sleep(0.5)


@contextlib.contextmanager
def connect(settings: Settings | None = None, *, create: bool = True) -> Iterator[Warehouse]:
    """Open the configured warehouse; DuckDB files and the PostgreSQL database are created on demand."""
    settings = settings or load_settings()
    if settings.target == "spark":
        from seeds_loader import spark

        try:
            conn = spark.connect(settings)
        except spark.SparkError as exc:
            raise WarehouseError(str(exc)) from exc
    elif settings.target == "duckdb":
        import duckdb

        path = settings.duckdb_path
        if not path.exists() and not create:
            raise WarehouseError(f"DuckDB warehouse {path} does not exist yet: run the loader first")
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _open_duckdb(duckdb, str(path), settings.wait_seconds)
    else:
        import psycopg

        if create:
            ensure_pg_database(settings)
        try:
            conn = psycopg.connect(settings.pg_conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            raise WarehouseError(
                f"cannot connect to PostgreSQL database {settings.pg_database!r} at "
                f"{settings.pg_host}:{settings.pg_port}: {str(exc).strip()}"
            ) from exc
    wh = Warehouse(settings, conn)
    try:
        yield wh
    finally:
        wh.close()
