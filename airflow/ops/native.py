"""A real Airflow 3 without Docker, from the project's virtualenv: ``make airflow`` / ``airflow-down``.

    python airflow/ops/native.py up          metadata database, db migrate, start the four
                                             components, wait for the API and the DAG, print the login
    python airflow/ops/native.py down [--drop-database]
                                             stop what `up` started (recorded PIDs only)
    python airflow/ops/native.py status      components alive, the API's health
    python airflow/ops/native.py trigger [--date D | --start S --end E] [--no-wait]
                                             a run of rr_funnel_daily through the REST API
    python airflow/ops/native.py env         the environment the components run with (secrets hidden)

What it starts is the docker-compose stack's Airflow, natively: api-server (127.0.0.1 only, port
``RR_AIRFLOW_PORT``), scheduler with the LocalExecutor (exports/airflow_executor.py), dag-processor and triggerer; the metadata
in its own PostgreSQL database (``RR_AIRFLOW_DATABASE`` on the ``RR_PG_*`` server, created when
missing); ``AIRFLOW_HOME`` = ``logs/airflow`` (the Makefile's; any AIRFLOW_HOME given is used).
Nothing listens on another address: the scheduler and the triggerer skip their log servers (every
component reads the task logs from the same folder). The simple auth manager's one user, ``admin``,
gets a generated password in a private file (0600), printed once when it is created; the
JWT, API and Fernet secrets are generated once into another private file. Each component's PID
goes to ``$AIRFLOW_HOME/native/<component>.pid`` and its output to ``.../<component>.log``;
``down`` signals only those process groups, after checking that each PID is still the process it
started.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from airflow_rest import DAG_ID, AirflowRest, RestError, describe_health, trigger_and_follow

from seeds_loader.rules import DateError, run_dates_from_variables
from seeds_loader.settings import Settings, SettingsError, load_settings

COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server"],  # host and port come from the environment ([api] host/port)
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}
ADMIN = "admin"
# the LocalExecutor, with dbt and Cosmos imported before it forks (exports/airflow_executor.py)
EXECUTOR = "exports.airflow_executor.PreloadingLocalExecutor"
# The scheduler's sleep after a loop with nothing to do (Airflow's default: 1 s). A daily run is
# about 30 tasks one after another (DuckDB): with 1 s, 0.64 s passed on average between one
# task's end and the next one's start; with 0.2 s, 0.20 s (measured, docs/performance.md).
SCHEDULER_IDLE_SLEEP_TIME = "0.2"
AIRFLOW = Path(sys.executable).parent / "airflow"


class NativeError(RuntimeError):
    """A problem the user has to fix; the message says what."""


class Native:
    def __init__(self, settings: Settings, environ: dict[str, str] | None = None):
        self.settings = settings
        self.environ = dict(os.environ if environ is None else environ)
        self.home = Path(self.environ.get("AIRFLOW_HOME") or settings.root / "logs" / "airflow").absolute()
        self.run_dir = self.home / "native"
        self.secrets_file = self.run_dir / "secrets.json"
        self.password_file = self.home / "simple_auth_manager_passwords.json.generated"
        self.base_url = f"http://127.0.0.1:{settings.airflow_port}"

    # -- files --------------------------------------------------------------------------------
    def _private_json(self, path: Path, make) -> tuple[dict[str, str], bool]:
        """The JSON object in ``path``, created (0600, owner only) with ``make()`` when missing."""
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8")), False
        path.parent.mkdir(parents=True, exist_ok=True)
        value = make()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(value, handle)
        return value, True

    def secrets(self) -> dict[str, str]:
        return self._private_json(
            self.secrets_file,
            lambda: {
                "fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode("ascii"),
                "jwt_secret": secrets.token_urlsafe(32),
                "api_secret_key": secrets.token_urlsafe(32),
            },
        )[0]

    def password(self, *, create: bool = False) -> tuple[str, bool]:
        if not create and not self.password_file.is_file():
            raise NativeError(f"{self.password_file} is missing: start Airflow with `make airflow` first")
        value, created = self._private_json(self.password_file, lambda: {ADMIN: secrets.token_urlsafe(16)})
        return value[ADMIN], created

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    # -- environment --------------------------------------------------------------------------
    def metadata_url(self) -> str:
        s = self.settings
        from urllib.parse import quote

        auth = quote(s.pg_user, safe="") + (f":{quote(s.pg_password, safe='')}" if s.pg_password else "")
        return f"postgresql+psycopg2://{auth}@{s.pg_host}:{s.pg_port}/{s.airflow_database}"

    def env(self) -> dict[str, str]:
        """The environment of every component (and so of every task the scheduler runs)."""
        s = self.settings
        keys = self.secrets()
        env = dict(self.environ)
        env.update(s.dbt_env())
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(s.root / "airflow" / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": EXECUTOR,
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": SCHEDULER_IDLE_SLEEP_TIME,
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url(),
                "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
                "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
                "AIRFLOW__API_AUTH__JWT_ISSUER": "retailrocket-kpi",
                "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(s.airflow_port),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.password_file),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
                "AIRFLOW__COSMOS__CACHE_DIR": str(self.home / "cosmos_cache"),
                "DBT_PROFILES_DIR": str(s.root / "dbt_retailrocket"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        return env

    # -- processes ----------------------------------------------------------------------------
    @staticmethod
    def _start_ticks(pid: int) -> str | None:
        """The process's start time (clock ticks after boot, /proc/<pid>/stat field 22): with the PID it
        names one process for good, even after the PID is reused (setproctitle rewrites cmdline and
        environ, so those cannot tell)."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        return stat[stat.rindex(")") + 2 :].split()[19]

    def _recorded(self, name: str) -> int | None:
        """The PID recorded for ``name`` when that very process is still alive."""
        path = self.pid_file(name)
        if not path.is_file():
            return None
        pid_text, _, ticks = path.read_text().strip().partition(" ")
        pid = int(pid_text)
        return pid if ticks and self._start_ticks(pid) == ticks else None

    def running(self) -> dict[str, int | None]:
        """Each component's PID when it is running (None when not)."""
        return {name: self._recorded(name) for name in COMPONENTS}

    def _port_free(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", self.settings.airflow_port))
            except OSError:
                return False
        return True

    def ensure_database(self) -> None:
        import psycopg
        from psycopg import sql

        s = self.settings
        try:
            with psycopg.connect(s.pg_conninfo_for("postgres"), autocommit=True) as conn:
                exists = conn.execute(
                    "select 1 from pg_database where datname = %s", (s.airflow_database,)
                ).fetchone()
                if not exists:
                    conn.execute(sql.SQL("create database {}").format(sql.Identifier(s.airflow_database)))
                    print(f"created the metadata database {s.airflow_database} on {s.pg_host}:{s.pg_port}")
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise NativeError(
                f"PostgreSQL at {s.pg_host}:{s.pg_port} (user {s.pg_user}) holds the Airflow metadata: {first}"
            ) from None

    def drop_database(self) -> None:
        import psycopg
        from psycopg import sql

        s = self.settings
        with psycopg.connect(s.pg_conninfo_for("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(s.airflow_database))
            )
        print(f"dropped the metadata database {s.airflow_database}")

    def migrate(self, env: dict[str, str]) -> None:
        log = self.run_dir / "db-migrate.log"
        with open(log, "w", encoding="utf-8") as out:
            code = subprocess.run(
                [str(AIRFLOW), "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT, check=False
            ).returncode
        if code != 0:
            tail = "\n    ".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
            raise NativeError(f"`airflow db migrate` failed (exit {code}); {log} ends with:\n    {tail}")

    def start(self, wait_seconds: float) -> None:
        states = self.running()
        if all(states.values()):
            print(f"Airflow is already running (PIDs {', '.join(f'{k} {v}' for k, v in states.items())})")
            self.print_login(created=False)
            return
        if any(states.values()):
            print("some Airflow components are running without the others: stopping them first")
            self.stop()
        if not self._port_free():
            raise NativeError(
                f"127.0.0.1:{self.settings.airflow_port} is in use by another program: stop it, or set "
                "RR_AIRFLOW_PORT to a free port"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _, created = self.password(create=True)
        env = self.env()
        self.ensure_database()
        print(f"airflow db migrate ({self.settings.airflow_database}) ...", flush=True)
        self.migrate(env)
        for name, args in COMPONENTS.items():
            log = self.run_dir / f"{name}.log"
            with open(log, "ab") as out:
                process = subprocess.Popen(
                    [str(AIRFLOW), *args],
                    env=env,
                    cwd=self.settings.root,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: `down` stops it and its children
                )
            self.pid_file(name).write_text(f"{process.pid} {self._start_ticks(process.pid)}\n")
            print(f"started {name:<14} pid {process.pid:<8} log {log}")
        self.wait_ready(wait_seconds)
        self.print_login(created=created)

    def wait_ready(self, wait_seconds: float) -> None:
        """The API answers, and the DAG is imported (or its import error is shown)."""
        deadline = time.monotonic() + wait_seconds
        client = self.client()
        while True:
            dead = [name for name, pid in self.running().items() if pid is None]
            if dead:
                raise NativeError(
                    f"{', '.join(dead)} stopped during start-up: see {self.run_dir}/{dead[0]}.log"
                )
            try:
                if client.dag() is not None:
                    print(f"{DAG_ID} is imported (paused until you trigger or unpause it)")
                    return
                errors = client.import_errors()
                if errors:
                    first = errors[0]
                    raise NativeError(
                        f"the DAG file does not import: {first['filename']}: {first['stack_trace']}"
                    )
            except RestError:
                pass  # not answering yet
            if time.monotonic() >= deadline:
                raise NativeError(
                    f"Airflow is not ready after {wait_seconds:.0f} s: see the logs in {self.run_dir}"
                )
            time.sleep(2)

    def stop(self) -> None:
        stopped = []
        for name in COMPONENTS:
            pid = self._recorded(name)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGTERM)
                stopped.append((name, pid))
            self.pid_file(name).unlink(missing_ok=True)
        deadline = time.monotonic() + 30
        for name, pid in stopped:
            while _group_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _group_alive(pid):
                os.killpg(pid, signal.SIGKILL)
            print(f"stopped {name} (pid {pid})")
        if not stopped:
            print("Airflow (native) is not running")

    def status(self) -> int:
        """Each component, and the API's health; 0 when all four run and report healthy."""
        states = self.running()
        print(f"airflow    native (AIRFLOW_HOME {self.home}), API {self.base_url}")
        for name, pid in states.items():
            print(f"  {name:<16}{'running, pid ' + str(pid) if pid else 'NOT RUNNING'}")
        if not any(states.values()):
            print("  start it with `make airflow`")
            return 1
        try:
            unhealthy = describe_health(self.client().health())
        except RestError as exc:
            print(f"  the API does not answer: {exc}")
            return 1
        return 0 if all(states.values()) and not unhealthy else 1

    def started(self) -> bool:
        """``make airflow`` has been run here and not stopped (some PID file is left)."""
        return any(self.pid_file(name).is_file() for name in COMPONENTS)

    # -- API ----------------------------------------------------------------------------------
    def client(self) -> AirflowRest:
        return AirflowRest(self.base_url, ADMIN, self.password()[0])

    def print_login(self, *, created: bool) -> None:
        password, _ = self.password()
        print()
        print(f"Airflow UI   {self.base_url}   (listening on 127.0.0.1 only)")
        if created:
            print(f"login        user {ADMIN!r}, password {password}")
            print(f"             (shown once; kept in {self.password_file}, readable by you only)")
        else:
            print(f"login        user {ADMIN!r}, password in {self.password_file}")
        print(f"logs         {self.run_dir}/*.log, task logs in {self.home / 'logs'}")
        print("next         make trigger DATE=2015-09-18   (or make run-dag), make airflow-down to stop")

    def trigger(self, conf: dict[str, str], wait: bool, timeout: float) -> int:
        if not all(self.running().values()):
            raise NativeError(
                "the native Airflow is not running: start it with `make airflow` (or forget it with "
                "`make airflow-down`: runs then go to `airflow dags test` on this machine)"
            )
        client = self.client()
        return trigger_and_follow(client, conf, wait=wait, timeout=timeout)


def group_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (zombies, already dead, are not counted)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airflow/ops/native.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up")
    up.add_argument("--wait-seconds", type=float, default=180)
    down = sub.add_parser("down")
    down.add_argument("--drop-database", action="store_true", help="also drop the metadata database")
    sub.add_parser("status")
    sub.add_parser("env")
    trigger = sub.add_parser("trigger")
    trigger.add_argument("--date", default="", help="YYYY-MM-DD (default: the last complete day covered)")
    trigger.add_argument("--start", default="", help="first date of a ranged run (with --end)")
    trigger.add_argument("--end", default="", help="last date of a ranged run (with --start)")
    trigger.add_argument("--no-wait", action="store_true")
    trigger.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    try:
        native = Native(load_settings())
        if args.command == "up":
            native.start(args.wait_seconds)
        elif args.command == "down":
            native.stop()
            if args.drop_database:
                native.drop_database()
        elif args.command == "status":
            return native.status()
        elif args.command == "env":
            for key, value in sorted(native.env().items()):
                if key.startswith(("AIRFLOW", "RR_", "DBT_")):
                    hidden = any(w in key for w in ("PASSWORD", "SECRET", "FERNET", "SQL_ALCHEMY"))
                    print(f"{key}={'***' if hidden and value else value}")
        elif args.command == "trigger":
            asked = run_dates_from_variables(args.date, args.start, args.end)
            return native.trigger(
                {} if asked is None else asked.conf(), wait=not args.no_wait, timeout=args.timeout
            )
    except (NativeError, RestError, SettingsError, DateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
