"""Connections to Apache Spark for the loader, the exports and the tests (``RR_TARGET=spark``).

Two ways, as in ``dbt_retailrocket/profiles.yml`` (``RR_SPARK_METHOD``):

* ``thrift``: a Spark Thrift Server (a cluster's, or the local one of ``make spark-up``), through
  PyHive, the client dbt-spark uses;
* ``session``: a local Spark inside this process (pyspark), with the same warehouse folder and
  Derby metastore as ``make spark-up`` (:meth:`Settings.spark_conf`). Derby admits one process
  at a time: a session cannot open while the local Thrift Server (or another session) runs.

Both return rows as Python values of the column types (a Thrift Server sends dates, timestamps
and decimals as text: they are converted here), so the exports render the same bytes from every
warehouse. Spark has no placeholders the way DB-API drivers do: :func:`inline` writes the
parameters as SQL literals (strings quoted and escaped, dates and timestamps typed).
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
import subprocess
from collections.abc import Sequence
from typing import Any

from seeds_loader.settings import Settings

# a session's runtime settings (the profile's server_side_parameters): UTC timestamps, deep
# recursive CTEs; a Thrift Server takes them through "set:hiveconf:" keys
RUNTIME_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.cteRecursionLevelLimit": "10000",
    # sessions side by side (dbt threads, parallel Airflow tasks): the Hive metastore's filter on a
    # date partition key then failed now and then ("Filtering is supported only on partition keys
    # of type string", its fallback from direct SQL): fetch the table's partitions and filter
    # them in Spark instead of failing the statement
    "spark.sql.hive.metastorePartitionPruningFallbackOnException": "true",
}
_PLACEHOLDER = re.compile(r"%s")


class SparkError(RuntimeError):
    """Spark refused a statement or cannot be reached."""


def literal(value: Any) -> str:
    """A Python value as a Spark SQL literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        return f"cast({value!r} as double)"
    if isinstance(value, dt.datetime):
        return f"timestamp'{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"date'{value.isoformat()}'"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def inline(statement: str, params: Sequence[Any] | None) -> str:
    """Replace each ``%s`` by the next parameter as a literal (a count mismatch is an error)."""
    params = list(params or [])
    parts = _PLACEHOLDER.split(statement)
    if len(parts) - 1 != len(params):
        raise SparkError(f"{len(parts) - 1} placeholders but {len(params)} parameters: {statement[:200]}")
    out = [parts[0]]
    for value, rest in zip(params, parts[1:], strict=True):
        out.append(literal(value))
        out.append(rest)
    return "".join(out)


def _timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


_CONVERTERS = {
    "DATE_TYPE": dt.date.fromisoformat,
    "TIMESTAMP_TYPE": _timestamp,
    "DECIMAL_TYPE": decimal.Decimal,
}


class _Result:
    def __init__(self, columns: list[str], rows: list[tuple]):
        self.description = [(c,) for c in columns] if columns else None
        self._rows = rows

    def fetchall(self) -> list[tuple]:
        return self._rows


class ThriftConnection:
    """One PyHive session on a Spark Thrift Server."""

    def __init__(self, settings: Settings):
        try:
            from pyhive import hive
        except ImportError as exc:  # the spark extra is not installed
            raise SparkError("RR_TARGET=spark needs the spark extra: pip install -e '.[spark]'") from exc
        kwargs: dict[str, Any] = {
            "host": settings.spark_host,
            "port": settings.spark_port,
            "configuration": {f"set:hiveconf:{k}": v for k, v in RUNTIME_CONF.items()},
        }
        if settings.spark_user:
            kwargs["username"] = settings.spark_user
        if settings.spark_auth:
            kwargs["auth"] = settings.spark_auth
        if settings.spark_password:
            kwargs["password"] = settings.spark_password
        try:
            self._conn = hive.connect(**kwargs)
        except Exception as exc:
            raise SparkError(
                f"the Spark Thrift Server at {settings.spark_host}:{settings.spark_port} does not answer "
                f"({type(exc).__name__}: {str(exc).strip()[:200]}); start it (make spark-up) or fix RR_SPARK_*"
            ) from exc
        self._cursor = self._conn.cursor()

    def execute(self, statement: str) -> _Result:
        try:
            self._cursor.execute(statement)
        except Exception as exc:
            raise SparkError(_short(exc)) from exc
        if not self._cursor.description:
            return _Result([], [])
        columns = [d[0] for d in self._cursor.description]
        converters = [_CONVERTERS.get(d[1]) for d in self._cursor.description]
        rows = [
            tuple(
                f(v) if f is not None and isinstance(v, str) else v
                for v, f in zip(row, converters, strict=True)
            )
            for row in self._cursor.fetchall()
        ]
        return _Result(columns, rows)

    def close(self) -> None:
        try:
            self._cursor.close()
        finally:
            self._conn.close()


class SessionConnection:
    """A local Spark in this process (pyspark), with the project's local settings."""

    def __init__(self, settings: Settings):
        from seeds_loader import spark_server

        server = spark_server.recorded_pid(settings)
        if server is not None:
            # Derby admits one process: the session would start a JVM and fail at its first
            # statement ("Unable to instantiate SessionHiveMetaStoreClient") half a minute later
            raise SparkError(
                f"the local Spark Thrift Server (pid {server}, make spark-up) holds the metastore in "
                f"{settings.spark_dir}: set RR_SPARK_METHOD=thrift to use it, or stop it (make spark-down) "
                "to use a session"
            )
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise SparkError("RR_TARGET=spark needs the spark extra: pip install -e '.[spark]'") from exc
        os.environ["SPARK_CONF_DIR"] = str(settings.write_spark_conf())
        builder = SparkSession.builder.appName("retailrocket-kpi").enableHiveSupport()
        for key, value in {**settings.spark_conf(), **RUNTIME_CONF}.items():
            builder = builder.config(key, value)
        try:
            self._spark = builder.getOrCreate()
        except Exception as exc:
            raise SparkError(
                f"cannot start a local Spark session ({_short(exc)}); is the local Thrift Server "
                "running on the same metastore (make spark-down), or is Java missing?"
            ) from exc

    def execute(self, statement: str) -> _Result:
        try:
            frame = self._spark.sql(statement)
            columns = list(frame.columns)
            rows = [tuple(r) for r in frame.collect()]
        except Exception as exc:
            raise SparkError(_short(exc)) from exc
        return _Result(columns, rows)

    def close(self) -> None:
        """The session stays for the life of the process (a restart costs a JVM start-up)."""


def _short(exc: Exception) -> str:
    """Spark's message without the Java stack: the first line that names the error."""
    text = str(exc)
    found = re.search(r"(\[[A-Z_.]+\][^\n]*)", text)
    if found:
        return found.group(1).strip()[:2000]
    found = re.search(r"errorMessage='([^']*)", text)
    if found:
        return found.group(1).split("\\n")[0][:2000]
    return text.strip().splitlines()[0][:2000] if text.strip() else type(exc).__name__


_SESSION: SessionConnection | None = None


def connect(settings: Settings) -> ThriftConnection | SessionConnection:
    """A connection of ``settings.spark_method`` (one session per process, reused)."""
    global _SESSION
    if settings.spark_method == "thrift":
        return ThriftConnection(settings)
    if _SESSION is None:
        _SESSION = SessionConnection(settings)
    return _SESSION


def stop_session() -> None:
    """Stop this process's local Spark session (frees the Derby metastore for another process)."""
    global _SESSION
    if _SESSION is not None:
        from pyspark import SparkContext

        _SESSION._spark.stop()
        _SESSION = None
        gateway = SparkContext._gateway  # type: ignore[attr-defined]
        if gateway is not None:  # the JVM holds the metastore until it exits
            gateway.shutdown()
            SparkContext._gateway = None  # type: ignore[attr-defined]
            SparkContext._jvm = None  # type: ignore[attr-defined]
            # closing the gateway leaves the JVM pyspark started running (measured: alive,
            # with 0.5 GB, until this process exits): end it
            proc = getattr(gateway, "proc", None)
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
