"""Connections to the configured warehouse (DuckDB file or PostgreSQL database).

A thin, shared layer so that the loader, the exports and the tests talk to either warehouse
the same way: ``%s`` placeholders everywhere (translated to ``?`` for DuckDB), explicit
transactions, and the PostgreSQL database created on first use.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from seeds_loader.settings import Settings, load_settings

SCHEMAS = ("raw", "staging", "mart", "kpi", "qa")


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or refused an operation."""


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

    def execute(self, statement: str, params: Sequence[Any] | None = None) -> None:
        if self.target == "duckdb":
            self.conn.execute(self._sql(statement), params or [])
        else:
            self.conn.execute(statement, params)

    def query(self, statement: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.query_with_columns(statement, params)[1]

    def query_with_columns(
        self, statement: str, params: Sequence[Any] | None = None
    ) -> tuple[list[str], list[tuple]]:
        if self.target == "duckdb":
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
        return bool(
            self.scalar(
                "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
                (schema, table),
            )
        )

    def columns(self, schema: str, table: str) -> list[str]:
        rows = self.query(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (schema, table),
        )
        return [r[0] for r in rows]

    # -- transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Warehouse]:
        """All or nothing: commit on success, roll back on any exception."""
        if self.target == "duckdb":
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


@contextlib.contextmanager
def connect(settings: Settings | None = None, *, create: bool = True) -> Iterator[Warehouse]:
    """Open the configured warehouse; DuckDB files and the PostgreSQL database are created on demand."""
    settings = settings or load_settings()
    if settings.target == "duckdb":
        import duckdb

        path = settings.duckdb_path
        if not path.exists() and not create:
            raise WarehouseError(f"DuckDB warehouse {path} does not exist yet: run the loader first")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            raise WarehouseError(f"cannot open DuckDB warehouse {path}: {exc}") from exc
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
