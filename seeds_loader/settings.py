"""The one place that holds the warehouse settings.

Every component reads its warehouse from the same ``RR_*`` environment variables:
the loader and the exports through :func:`load_settings`, dbt through ``env_var`` in
``dbt_retailrocket/profiles.yml`` (fed by :meth:`Settings.dbt_env`), the Airflow DAG and
docker-compose through ``.env``.

=========================  ==================================  ==================================
variable                   default                             meaning
=========================  ==================================  ==================================
RR_TARGET                  duckdb                              ``duckdb`` (embedded),
                                                               ``postgres`` or ``spark``
RR_DUCKDB_PATH             data/warehouse/retailrocket.duckdb  DuckDB file (relative to the
                                                               project)
RR_PG_HOST                 127.0.0.1                           PostgreSQL host
RR_PG_PORT                 5432                                PostgreSQL port
RR_PG_USER                 postgres                            PostgreSQL user
RR_PG_PASSWORD             (empty)                             PostgreSQL password
RR_PG_DATABASE             retailrocket                        PostgreSQL database (created if
                                                               missing)
RR_PG_READER_ROLE          rr_reader                           the read-only group role of
                                                               ``make pg-roles``: reads kpi and
                                                               qa, writes nothing (analysts'
                                                               LOGIN roles join it)
RR_DATA_DIR                data/raw/retailrocket               folder with the four raw CSV files
RR_WAREHOUSE_WAIT_SECONDS  600                                 how long to wait while another
                                                               process holds the DuckDB file (a
                                                               load, a dbt run, an export)
RR_SPARK_METHOD            session                             ``session`` (an in-process local
                                                               Spark) or ``thrift`` (a Spark
                                                               Thrift Server: a cluster's, or
                                                               ``make spark-up``)
RR_SPARK_HOST              127.0.0.1                           Thrift Server host
RR_SPARK_PORT              10001                               Thrift Server port
RR_SPARK_USER              (empty)                             Thrift user (empty: the OS user)
RR_SPARK_AUTH              (empty)                             Thrift auth: empty (none), LDAP,
                                                               KERBEROS, CUSTOM
RR_SPARK_PASSWORD          (empty)                             Thrift password (LDAP, CUSTOM)
RR_SPARK_DIR               data/spark                          the local Spark's warehouse,
                                                               Derby metastore, logs and PID
                                                               (``session`` and ``make spark-up``)
RR_SPARK_MASTER            local[2]                            the local Spark's master
RR_SPARK_DRIVER_MEMORY     4g                                  the local Spark's driver memory
RR_AIRFLOW_PORT            8080                                port of the native Airflow's
                                                               api-server (``make airflow``,
                                                               always on 127.0.0.1)
RR_AIRFLOW_DATABASE        <RR_PG_DATABASE>_airflow            the native Airflow's metadata
                                                               database on the RR_PG_* server
=========================  ==================================  ==================================

Relative paths are resolved against the project root (``RR_PROJECT_ROOT``, by default the
folder that holds ``dbt_retailrocket/``), so the same ``.env`` works from any working
directory, including the temporary copies of the dbt project that Cosmos runs in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from seeds_loader.hive_support import JAR_NAME, write_jar

TARGETS = ("duckdb", "postgres", "spark")
SPARK_METHODS = ("session", "thrift")
SPARK_AUTHS = ("", "NONE", "NOSASL", "LDAP", "KERBEROS", "CUSTOM")

DEFAULTS: dict[str, str] = {
    "RR_TARGET": "duckdb",
    "RR_DUCKDB_PATH": "data/warehouse/retailrocket.duckdb",
    "RR_PG_HOST": "127.0.0.1",
    "RR_PG_PORT": "5432",
    "RR_PG_USER": "postgres",
    "RR_PG_PASSWORD": "",
    "RR_PG_DATABASE": "retailrocket",
    "RR_PG_READER_ROLE": "rr_reader",
    "RR_DATA_DIR": "data/raw/retailrocket",
    "RR_WAREHOUSE_WAIT_SECONDS": "600",
    "RR_AIRFLOW_PORT": "8080",
    "RR_AIRFLOW_DATABASE": "",
    "RR_SPARK_METHOD": "session",
    "RR_SPARK_HOST": "127.0.0.1",
    "RR_SPARK_PORT": "10001",
    "RR_SPARK_USER": "",
    "RR_SPARK_AUTH": "",
    "RR_SPARK_PASSWORD": "",
    "RR_SPARK_DIR": "data/spark",
    "RR_SPARK_MASTER": "local[2]",
    "RR_SPARK_DRIVER_MEMORY": "4g",
}


# the local Spark logs errors only (its INFO and WARN lines would bury dbt's output)
_SPARK_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""


class SettingsError(ValueError):
    """A warehouse setting is missing or malformed."""


def project_root(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("RR_PROJECT_ROOT"):
        return Path(env["RR_PROJECT_ROOT"]).expanduser().resolve()
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "dbt_retailrocket").is_dir():
        return package_parent
    return Path.cwd().resolve()


def _read_dotenv(path: Path) -> dict[str, str]:
    """Minimal ``.env`` reader: ``KEY=value`` lines, ``#`` comments, optional quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


@dataclass(frozen=True)
class Settings:
    target: str
    duckdb_path: Path
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    pg_database: str
    data_dir: Path
    root: Path
    wait_seconds: float = 600.0
    airflow_port: int = 8080
    airflow_database: str = ""
    spark_method: str = "session"
    spark_host: str = "127.0.0.1"
    spark_port: int = 10001
    spark_user: str = ""
    spark_auth: str = ""
    spark_password: str = ""
    spark_dir: Path = Path("data/spark")
    spark_master: str = "local[2]"
    spark_driver_memory: str = "4g"
    pg_reader_role: str = "rr_reader"

    @property
    def spark_warehouse_dir(self) -> Path:
        """Where the local Spark (session, make spark-up) keeps its tables (Parquet)."""
        return self.spark_dir / "warehouse"

    @property
    def spark_metastore_dir(self) -> Path:
        """The local Spark's Derby metastore (one process at a time: a session, or the server)."""
        return self.spark_dir / "metastore_db"

    @property
    def spark_conf_dir(self) -> Path:
        """SPARK_CONF_DIR of the local Spark: its spark-defaults.conf (:meth:`write_spark_conf`)."""
        return self.spark_dir / "conf"

    @property
    def spark_jars_dir(self) -> Path:
        """Jars on the local Spark driver's class path (seeds_loader/hive_support.py)."""
        return self.spark_dir / "jars"

    def write_spark_conf(self) -> Path:
        """Write the local Spark's spark-defaults.conf and the jar it names (each when it differs)
        and return the conf folder."""
        write_jar(self.spark_jars_dir)
        folder = self.spark_conf_dir
        text = "".join(f"{k} {v}\n" for k, v in self.spark_conf().items())
        path = folder / "spark-defaults.conf"
        for target, content in ((path, text), (folder / "log4j2.properties", _SPARK_LOG4J)):
            if not target.is_file() or target.read_text(encoding="utf-8") != content:
                folder.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(".tmp")
                tmp.write_text(content, encoding="utf-8")
                tmp.replace(target)
        return folder

    def spark_conf(self) -> dict[str, str]:
        """Static settings of the local Spark (a session, make spark-up): one home for both, so the
        two see the same tables. Timestamps are UTC (every date here comes from epoch ms)."""
        return {
            "spark.master": self.spark_master,
            "spark.driver.memory": self.spark_driver_memory,
            "spark.sql.warehouse.dir": str(self.spark_warehouse_dir),
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={self.spark_metastore_dir};create=true"
            ),
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": "4",
            "spark.ui.enabled": "false",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={self.spark_dir}",
            # the Hive interface pyspark lacks: a Thrift Server's session close can need it
            "spark.driver.extraClassPath": str(self.spark_jars_dir / JAR_NAME),
        }

    @property
    def pg_conninfo(self) -> str:
        return self.pg_conninfo_for(self.pg_database)

    def pg_conninfo_for(self, database: str) -> str:
        parts = {
            "host": self.pg_host,
            "port": str(self.pg_port),
            "user": self.pg_user,
            "dbname": database,
            "connect_timeout": "10",
            "application_name": "retailrocket-kpi",
        }
        if self.pg_password:
            parts["password"] = self.pg_password
        return " ".join(f"{k}='{_quote(v)}'" for k, v in parts.items())

    def with_target(self, target: str | None) -> Settings:
        if target is None or target == self.target:
            return self
        _check_target(target)
        return Settings(**{**self.__dict__, "target": target})

    def describe(self) -> str:
        if self.target == "duckdb":
            return f"duckdb:{self.duckdb_path}"
        if self.target == "spark":
            if self.spark_method == "session":
                return f"spark:session:{self.spark_master}:{self.spark_warehouse_dir}"
            return f"spark:thrift://{self.spark_host}:{self.spark_port}"
        return f"postgres://{self.pg_user}@{self.pg_host}:{self.pg_port}/{self.pg_database}"

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt (or Cosmos) subprocess: absolute paths, every RR_* value set
        (on Spark, the local Spark's spark-defaults.conf is written first: SPARK_CONF_DIR)."""
        if self.target == "spark":
            self.write_spark_conf()
        return {
            "RR_TARGET": self.target,
            "RR_DUCKDB_PATH": str(self.duckdb_path),
            "RR_PG_HOST": self.pg_host,
            "RR_PG_PORT": str(self.pg_port),
            "RR_PG_USER": self.pg_user,
            "RR_PG_PASSWORD": self.pg_password,
            "RR_PG_DATABASE": self.pg_database,
            "RR_PG_READER_ROLE": self.pg_reader_role,
            "RR_DATA_DIR": str(self.data_dir),
            "RR_PROJECT_ROOT": str(self.root),
            "RR_WAREHOUSE_WAIT_SECONDS": f"{self.wait_seconds:g}",
            "RR_SPARK_METHOD": self.spark_method,
            "RR_SPARK_HOST": self.spark_host,
            "RR_SPARK_PORT": str(self.spark_port),
            "RR_SPARK_USER": self.spark_user,
            "RR_SPARK_AUTH": self.spark_auth,
            "RR_SPARK_PASSWORD": self.spark_password,
            "RR_SPARK_DIR": str(self.spark_dir),
            "RR_SPARK_MASTER": self.spark_master,
            "RR_SPARK_DRIVER_MEMORY": self.spark_driver_memory,
            "SPARK_CONF_DIR": str(self.spark_conf_dir),
        }


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


# a plain lowercase identifier, so admins can type it unquoted (`create role alice ... in role
# rr_reader`); pg_* names are reserved by PostgreSQL, the others are keywords of role clauses
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
RESERVED_ROLE_NAMES = ("public", "none", "current_role", "current_user", "session_user")


def check_role_name(name: str, what: str = "RR_PG_READER_ROLE") -> str:
    """``name`` when it is a role name the project may create and grant to, else SettingsError."""
    if not ROLE_NAME.fullmatch(name) or name.startswith("pg_") or name in RESERVED_ROLE_NAMES:
        raise SettingsError(
            f"{what} must be a lowercase SQL identifier ([a-z_][a-z0-9_]{{0,62}}; not pg_*, "
            f"{', '.join(RESERVED_ROLE_NAMES)}); got {name!r}"
        )
    return name


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise SettingsError(f"RR_TARGET must be one of {', '.join(TARGETS)}; got {target!r}")


def load_settings(environ: Mapping[str, str] | None = None, *, use_dotenv: bool = True) -> Settings:
    """Settings from the environment, then ``<root>/.env``, then the defaults."""
    env = dict(os.environ if environ is None else environ)
    root = project_root(env)
    dotenv = _read_dotenv(root / ".env") if use_dotenv else {}

    def get(name: str) -> str:
        if name in env:
            return env[name]
        if name in dotenv:
            return dotenv[name]
        return DEFAULTS[name]

    def path(name: str) -> Path:
        p = Path(get(name)).expanduser()
        return p if p.is_absolute() else (root / p)

    target = get("RR_TARGET").strip().lower() or "duckdb"
    _check_target(target)
    port_text = get("RR_PG_PORT").strip()
    if not port_text.isdigit():
        raise SettingsError(f"RR_PG_PORT must be a port number; got {port_text!r}")
    airflow_port = get("RR_AIRFLOW_PORT").strip()
    if not (airflow_port.isdigit() and 0 < int(airflow_port) < 65536):
        raise SettingsError(f"RR_AIRFLOW_PORT must be a port number; got {airflow_port!r}")
    airflow_database = get("RR_AIRFLOW_DATABASE").strip() or f"{get('RR_PG_DATABASE')}_airflow"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", airflow_database):
        raise SettingsError(
            f"RR_AIRFLOW_DATABASE must be a plain name (letters, digits, _); got {airflow_database!r}"
        )
    wait_text = get("RR_WAREHOUSE_WAIT_SECONDS").strip()
    try:
        wait_seconds = float(wait_text)
        if not 0 <= wait_seconds < 1e7:
            raise ValueError
    except ValueError:
        raise SettingsError(
            f"RR_WAREHOUSE_WAIT_SECONDS must be a number of seconds >= 0; got {wait_text!r}"
        ) from None
    spark_method = get("RR_SPARK_METHOD").strip().lower() or "session"
    if spark_method not in SPARK_METHODS:
        raise SettingsError(
            f"RR_SPARK_METHOD must be one of {', '.join(SPARK_METHODS)}; got {spark_method!r}"
        )
    spark_port = get("RR_SPARK_PORT").strip()
    if not (spark_port.isdigit() and 0 < int(spark_port) < 65536):
        raise SettingsError(f"RR_SPARK_PORT must be a port number; got {spark_port!r}")
    spark_auth = get("RR_SPARK_AUTH").strip().upper()
    if spark_auth not in SPARK_AUTHS:
        raise SettingsError(
            f"RR_SPARK_AUTH must be empty or one of {', '.join(a for a in SPARK_AUTHS if a)}; got {spark_auth!r}"
        )
    reader_role = check_role_name(get("RR_PG_READER_ROLE").strip() or DEFAULTS["RR_PG_READER_ROLE"])
    spark_memory = get("RR_SPARK_DRIVER_MEMORY").strip()
    if not re.fullmatch(r"[0-9]+[kmgt]?", spark_memory, re.IGNORECASE):
        raise SettingsError(f"RR_SPARK_DRIVER_MEMORY must be a JVM size such as 4g; got {spark_memory!r}")
    return Settings(
        target=target,
        duckdb_path=path("RR_DUCKDB_PATH"),
        pg_host=get("RR_PG_HOST"),
        pg_port=int(port_text),
        pg_user=get("RR_PG_USER"),
        pg_password=get("RR_PG_PASSWORD"),
        pg_database=get("RR_PG_DATABASE"),
        data_dir=path("RR_DATA_DIR"),
        root=root,
        wait_seconds=wait_seconds,
        airflow_port=int(airflow_port),
        airflow_database=airflow_database,
        spark_method=spark_method,
        spark_host=get("RR_SPARK_HOST").strip(),
        spark_port=int(spark_port),
        spark_user=get("RR_SPARK_USER"),
        spark_auth=spark_auth,
        spark_password=get("RR_SPARK_PASSWORD"),
        spark_dir=path("RR_SPARK_DIR"),
        spark_master=get("RR_SPARK_MASTER").strip() or "local[2]",
        spark_driver_memory=spark_memory,
        pg_reader_role=reader_role,
    )
