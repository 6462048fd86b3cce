"""The docker-compose stack's helper behind `make up`, `make init`, `make run-dag STACK=compose`, ...

    python3 airflow/compose/stack.py [--docker DOCKER] [--env-file .env] COMMAND

    env                      create .env from .env.example with fresh random secrets, or fill
                             the empty secrets of the one there is (in place), then check it
    up [--wait-seconds N]    env, record STACK=compose in .env, build the image, start the stack,
                             wait for the API server, print the UI address and the login
    init [--scale --seed]    generate the raw data unless present, then load it (airflow-cli)
    run-dag [--date D]       trigger rr_funnel_daily in the stack through its REST API and follow
                             it: run id manual_backfill_D (conf target_date D); --start S --end E
                             one ranged run (manual_backfill_S_to_E); without a date a manual
                             run of the last complete day the raw data cover
    check                    `python -m exports.pipeline check` on the stack's warehouse, and the
                             API server's health
    psql                     a psql shell on the stack's warehouse
    down [--volumes]         stop the stack (--volumes: also drop the databases and the login)
    logs [SERVICE]           follow the logs

Standard library only, so that it runs with the system's python3 before (or without) `make setup`.
Every failure ends with one message that says what is missing and what to do, starting with
Docker itself: without Docker and its Compose v2 plugin nothing here can work, and the commands
say so instead of failing in a shell pipeline.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

DAG_ID = "rr_funnel_daily"
API_SERVICE = "airflow-apiserver"
API_PORT = 8080
CLI_SERVICE = "airflow-cli"
DB_SERVICE = "postgres"
DEFAULT_ADMIN_USER = "admin"
DEFAULT_UID = 50000
# Bind-mounted folders that may not exist on a fresh clone: created by the user before Docker
# would create them as root.
HOST_FOLDERS = ("data/raw/retailrocket", "logs/reports")


def _token() -> str:
    return secrets.token_urlsafe(32)


def _fernet_key() -> str:
    """What ``cryptography.fernet.Fernet.generate_key()`` returns: 32 random bytes, url-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


# Values docker-compose.yml requires (``${VAR:?...}``) and that .env.example leaves empty: `env`
# fills each with a fresh random value when it creates .env.
SECRET_GENERATORS: dict[str, Callable[[], str]] = {
    "POSTGRES_PASSWORD": _token,
    "AIRFLOW_DB_PASSWORD": _token,
    "WAREHOUSE_DB_PASSWORD": _token,
    "AIRFLOW_ADMIN_PASSWORD": _token,
    "AIRFLOW_JWT_SECRET": _token,
    "AIRFLOW_API_SECRET_KEY": _token,
    "AIRFLOW_FERNET_KEY": _fernet_key,
}
# Characters that survive a database URL, docker compose's interpolation ($) and make's reading
# of .env ($, #) unchanged: RFC 3986's unreserved set.
SAFE_SECRET = re.compile(r"^[A-Za-z0-9._~-]+$")
FERNET_KEY = re.compile(r"^[A-Za-z0-9_-]{43}=$")
PORT_KEYS = ("POSTGRES_HOST_PORT", "AIRFLOW_HOST_PORT")
# Names that go into the metadata database URL, SQL identifiers and the simple auth manager's
# "user:role" list: plain identifiers only.
NAME_KEYS = (
    "AIRFLOW_DB_NAME",
    "AIRFLOW_DB_USER",
    "WAREHOUSE_DB_USER",
    "RR_PG_DATABASE",
    "AIRFLOW_ADMIN_USER",
)
PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
WITHOUT_DOCKER = "Without Docker, `make demo` and `make run-dag DATE=...` run the pipeline on this machine."
HEALTH_FORMAT = "{{if .State.Health}}{{.State.Health.Status}}{{end}}"


class StackError(RuntimeError):
    """A problem the user has to fix; the message says what and how."""


# -- .env ---------------------------------------------------------------------------------------
def read_env_file(path: Path) -> dict[str, tuple[str, int]]:
    """``KEY=value`` lines of an env file as {key: (value, line number)}.

    The dialect of seeds_loader/settings.py's reader (which the same file feeds): ``#`` comments,
    blank lines, an optional ``export`` prefix, values optionally wrapped in matching quotes.
    """
    values: dict[str, tuple[str, int]] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise StackError(f"{path}:{number}: expected KEY=value, got {raw.strip()!r}")
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export ") :].strip()
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise StackError(f"{path}:{number}: {key!r} is not a variable name")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = (value, number)
    return values


def host_uid() -> int:
    """The uid the containers should write files as: the caller's, unless that is root."""
    getuid = getattr(os, "getuid", None)
    uid = getuid() if getuid is not None else 0
    return uid if uid != 0 else DEFAULT_UID


def render_env(example_text: str, uid: int) -> str:
    """.env.example with every empty secret filled in and AIRFLOW_UID set; comments kept."""
    lines = []
    for raw in example_text.splitlines():
        key, sep, value = raw.partition("=")
        name = key.strip()
        if sep and not raw.lstrip().startswith("#") and not value.strip():
            if name in SECRET_GENERATORS:
                raw = f"{key}={SECRET_GENERATORS[name]()}"
            elif name == "AIRFLOW_UID":
                raw = f"{key}={uid}"
        lines.append(raw)
    return "\n".join(lines) + "\n"


def create_env(target: Path, example: Path = ENV_EXAMPLE) -> None:
    """Write ``target`` from ``example`` with fresh secrets, readable by its owner only."""
    if not example.is_file():
        raise StackError(f"{example} is missing: it is the template of {target.name}")
    text = render_env(example.read_text(encoding="utf-8"), host_uid())
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def check_env(path: Path) -> list[str]:
    """Problems in an existing .env that would stop or break the stack (empty when none)."""
    values = read_env_file(path)
    problems = []

    def where(key: str) -> str:
        return f"{path}:{values[key][1]}" if key in values else str(path)

    for key in SECRET_GENERATORS:
        value = values.get(key, ("", 0))[0]
        if not value:
            state = "is empty" if key in values else "is missing"
            problems.append(f"{where(key)}: {key} {state}; docker-compose.yml requires it")
        elif key == "AIRFLOW_FERNET_KEY":
            if not FERNET_KEY.match(value):
                problems.append(
                    f"{where(key)}: {key} must be 32 url-safe base64-encoded bytes (44 characters ending "
                    "in '='), as cryptography's Fernet.generate_key() makes"
                )
        elif not SAFE_SECRET.match(value):
            problems.append(
                f"{where(key)}: {key} may only contain letters, digits and . _ ~ - (it goes into a URL "
                "and through docker compose's $-interpolation)"
            )
    for key in NAME_KEYS:
        value = values.get(key, ("", 0))[0]
        if value and not PLAIN_NAME.match(value):
            problems.append(f"{where(key)}: {key} must be a plain name (letters, digits, _); got {value!r}")
    for key in PORT_KEYS:
        value = values.get(key, ("", 0))[0]
        if value and not (value.isdigit() and 0 < int(value) < 65536):
            problems.append(f"{where(key)}: {key} must be a port number; got {value!r}")
    uid = values.get("AIRFLOW_UID", ("", 0))[0]
    if uid and not uid.isdigit():
        problems.append(f"{where('AIRFLOW_UID')}: AIRFLOW_UID must be a number (your uid: `id -u`)")
    pairs = (
        ("AIRFLOW_DB_NAME", "airflow", "RR_PG_DATABASE", "retailrocket", "database"),
        ("AIRFLOW_DB_USER", "airflow", "WAREHOUSE_DB_USER", "retailrocket", "role"),
    )
    for first, first_default, second, second_default, what in pairs:
        a = values.get(first, ("", 0))[0] or first_default
        b = values.get(second, ("", 0))[0] or second_default
        if a == b:
            problems.append(
                f"{path}: {first} and {second} are both {a!r}: the Airflow metadata and the warehouse "
                f"need a {what} each"
            )
    return problems


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (a temporary file renamed over it), mode 0600."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fill_env(path: Path) -> list[str]:
    """Give every empty (or missing) secret of an existing env file a fresh random value, in place.

    Only those lines change (a missing secret is appended); comments, order and every other value
    stay as they are, and the file becomes private (0600). Returns the names filled.
    """
    text = path.read_text(encoding="utf-8")
    values = read_env_file(path)
    filled: list[str] = []
    lines = text.splitlines()
    for index, raw in enumerate(lines):
        key, sep, value = raw.partition("=")
        name = key.strip().removeprefix("export ").strip()
        empty = value.strip() in ("", '""', "''")
        if sep and empty and not raw.lstrip().startswith("#") and name in SECRET_GENERATORS:
            lines[index] = f"{key}={SECRET_GENERATORS[name]()}"
            filled.append(name)
    for name, generate in SECRET_GENERATORS.items():
        if name not in values:
            lines.append(f"{name}={generate()}")
            filled.append(name)
    if filled:
        _write_private(path, "\n".join(lines) + "\n")
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return filled


def set_env_value(path: Path, key: str, value: str) -> bool:
    """``key=value`` in the env file (the line replaced, or appended); True when it changed."""
    values = read_env_file(path)
    if values.get(key, ("", 0))[0] == value:
        return False
    lines = path.read_text(encoding="utf-8").splitlines()
    if key in values:
        lines[values[key][1] - 1] = f"{key}={value}"
    else:
        lines += [
            "",
            "# where `make run-dag`, `make check` and `make logs` go (make up sets it; local: this machine)",
            f"{key}={value}",
        ]
    _write_private(path, "\n".join(lines) + "\n")
    return True


def ensure_env(path: Path, *, create: bool) -> bool:
    """Create ``path`` when missing (and ``create``), or fill its empty secrets, then check it;
    True when it was created."""
    created = False
    if not path.is_file():
        if not create:
            raise StackError(f"{path} is missing: start the stack with `make up`, which creates it")
        create_env(path)
        created = True
    elif create:
        filled = fill_env(path)
        if filled:
            print(
                f"{path}: filled {len(filled)} empty secret(s) with fresh random values: {', '.join(filled)}"
            )
    problems = check_env(path)
    if problems:
        raise StackError("the stack's settings are not usable:\n  " + "\n  ".join(problems))
    return created


# -- docker -------------------------------------------------------------------------------------
class Stack:
    """``docker compose`` on this repository's docker-compose.yml with one env file."""

    def __init__(self, docker: str, env_file: Path):
        self.docker = docker
        self.env_file = env_file

    def compose(self, *args: str) -> list[str]:
        return [
            self.docker,
            "compose",
            "--project-directory",
            str(ROOT),
            "--file",
            str(COMPOSE_FILE),
            "--env-file",
            str(self.env_file),
            *args,
        ]

    def environment(self) -> dict[str, str]:
        """The caller's environment, plus AIRFLOW_UID when the env file leaves it empty."""
        env = dict(os.environ)
        values = read_env_file(self.env_file) if self.env_file.is_file() else {}
        if not values.get("AIRFLOW_UID", ("", 0))[0] and not env.get("AIRFLOW_UID"):
            env["AIRFLOW_UID"] = str(host_uid())
        return env

    def run(self, args: Sequence[str], *, capture: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            cwd=ROOT,
            env=self.environment(),
            text=True,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            check=False,
        )

    def checked(self, compose_args: Sequence[str], failure: str) -> None:
        """``docker compose <compose_args>``, a StackError naming the command when it fails."""
        result = self.run(self.compose(*compose_args))
        if result.returncode != 0:
            shown = " ".join(compose_args)
            raise StackError(f"{failure}: `docker compose {shown}` exited {result.returncode}")

    def preflight(self) -> None:
        """Docker, its Compose v2 plugin and its daemon, or a message that says which is missing."""
        if shutil.which(self.docker) is None:
            raise StackError(
                f"`{self.docker}` was not found: the compose stack needs Docker with the Compose v2 plugin "
                f"(https://docs.docker.com/compose/install/). {WITHOUT_DOCKER}"
            )
        version = self.run([self.docker, "compose", "version"], capture=True)
        if version.returncode != 0:
            said = (version.stderr or version.stdout or "").strip().splitlines()
            raise StackError(
                "`docker compose` is not available"
                + (f" (docker said: {said[0]})" if said else "")
                + ": install the Docker Compose v2 plugin (https://docs.docker.com/compose/install/). "
                + WITHOUT_DOCKER
            )
        info = self.run([self.docker, "info", "--format", "{{.ServerVersion}}"], capture=True)
        if info.returncode != 0:
            said = (info.stderr or info.stdout or "").strip().splitlines()
            raise StackError(
                "the Docker daemon does not answer"
                + (f" ({said[-1]})" if said else "")
                + ": start Docker (Docker Desktop, or `sudo systemctl start docker`) and try again."
            )

    def require_running(self) -> None:
        ps = self.run(self.compose("ps", "--status", "running", "--quiet", DB_SERVICE), capture=True)
        if ps.returncode != 0 or not ps.stdout.strip():
            raise StackError("the stack is not running (postgres is not up): start it with `make up`")

    def api_health(self) -> str:
        ps = self.run(self.compose("ps", "--all", "--quiet", API_SERVICE), capture=True)
        container = ps.stdout.strip().splitlines()[0] if ps.returncode == 0 and ps.stdout.strip() else ""
        if not container:
            return "absent"
        inspect = self.run([self.docker, "inspect", "--format", HEALTH_FORMAT, container], capture=True)
        return inspect.stdout.strip() or "unknown"

    def api_address(self) -> str:
        port = self.run(self.compose("port", API_SERVICE, str(API_PORT)), capture=True)
        address = port.stdout.strip().splitlines()[0] if port.returncode == 0 and port.stdout.strip() else ""
        if not address:
            return f"http://localhost:{API_PORT}"
        host, _, number = address.rpartition(":")
        if host in ("0.0.0.0", "[::]", "::", ""):
            host = "localhost"
        return f"http://{host}:{number}"


# -- commands -----------------------------------------------------------------------------------
def cmd_env(stack: Stack, args: argparse.Namespace) -> int:
    created = ensure_env(stack.env_file, create=True)
    if created:
        print(f"created {stack.env_file} from {ENV_EXAMPLE.name} with fresh random secrets")
    else:
        print(f"{stack.env_file}: every setting the stack requires is present")
    return 0


def cmd_up(stack: Stack, args: argparse.Namespace) -> int:
    stack.preflight()
    if ensure_env(stack.env_file, create=True):
        print(f"created {stack.env_file} from {ENV_EXAMPLE.name} with fresh random secrets")
    if set_env_value(stack.env_file, "STACK", "compose"):
        print(f"{stack.env_file}: STACK=compose (make run-dag, make check and make logs now go to the stack)")
    for folder in HOST_FOLDERS:
        (ROOT / folder).mkdir(parents=True, exist_ok=True)
    result = stack.run(stack.compose("up", "--detach", "--build"))
    if result.returncode != 0:
        raise StackError(
            f"`docker compose up` failed (exit {result.returncode}); see the messages above and "
            "`docker compose logs airflow-init postgres`"
        )
    deadline = time.monotonic() + args.wait_seconds
    status = stack.api_health()
    while status != "healthy":
        if time.monotonic() >= deadline:
            stack.run(stack.compose("logs", "--tail", "40", API_SERVICE))
            raise StackError(
                f"{API_SERVICE} is not healthy after {args.wait_seconds} s (status: {status}); its last log "
                "lines are above, `docker compose ps` shows the others"
            )
        time.sleep(args.poll_seconds)
        status = stack.api_health()
    values = read_env_file(stack.env_file)
    admin = values.get("AIRFLOW_ADMIN_USER", ("", 0))[0] or DEFAULT_ADMIN_USER
    print()
    print(f"Airflow UI   {stack.api_address()}")
    print(f"login        user {admin!r}, password: AIRFLOW_ADMIN_PASSWORD in {stack.env_file}")
    print("next         make init      (raw data into the stack's warehouse)")
    print("             make run-dag   (the last complete day; DATE=2015-09-18 for one date)")
    print("             make check")
    return 0


def cmd_init(stack: Stack, args: argparse.Namespace) -> int:
    stack.preflight()
    ensure_env(stack.env_file, create=False)
    stack.require_running()
    run = ("run", "--rm", "--no-deps", CLI_SERVICE, "python", "-m", "seeds_loader")
    generate = (*run, "generate", "--scale", str(args.scale), "--seed", str(args.seed), "--unless-present")
    stack.checked(generate, "generating the raw data failed")
    stack.checked((*run, "load"), "loading the raw data failed")
    return 0


def run_conf(date: str, start: str = "", end: str = "") -> dict[str, str]:
    """The DAG's conf for DATE, or START .. END (a ranged run), or {} (the last complete day):
    the project's one rule, seeds_loader/rules.py (standard library only)."""
    sys.path.insert(0, str(ROOT))
    try:
        from seeds_loader.rules import DateError, run_dates_from_variables
    finally:
        sys.path.remove(str(ROOT))
    try:
        asked = run_dates_from_variables(date, start, end)
    except DateError as exc:
        raise StackError(str(exc)) from None
    return {} if asked is None else asked.conf()


def _rest():
    """airflow/ops/airflow_rest.py: the REST client the native Airflow's helper uses too."""
    sys.path.insert(0, str(ROOT / "airflow" / "ops"))
    try:
        import airflow_rest
    finally:
        sys.path.remove(str(ROOT / "airflow" / "ops"))
    return airflow_rest


def api_client(stack: Stack):
    values = read_env_file(stack.env_file)
    admin = values.get("AIRFLOW_ADMIN_USER", ("", 0))[0] or DEFAULT_ADMIN_USER
    password = values.get("AIRFLOW_ADMIN_PASSWORD", ("", 0))[0]
    return _rest().AirflowRest(stack.api_address(), admin, password)


def cmd_run_dag(stack: Stack, args: argparse.Namespace) -> int:
    conf = run_conf(args.date, args.start, args.end)
    stack.preflight()
    ensure_env(stack.env_file, create=False)
    stack.require_running()
    rest = _rest()
    try:
        code = rest.trigger_and_follow(api_client(stack), conf, wait=True, timeout=args.timeout)
    except rest.RestError as exc:
        raise StackError(str(exc)) from None
    if code == 0:
        print("the reports are in logs/reports/ (mounted from the stack); make check says whether they hold")
    return code


def cmd_check(stack: Stack, args: argparse.Namespace) -> int:
    stack.preflight()
    ensure_env(stack.env_file, create=False)
    stack.require_running()
    code = stack.run(
        stack.compose("run", "--rm", "--no-deps", CLI_SERVICE, "python", "-m", "exports.pipeline", "check")
    ).returncode
    container = stack.api_health()
    print(f"airflow    docker-compose stack, {API_SERVICE} {container} at {stack.api_address()}")
    rest = _rest()
    try:
        health = api_client(stack).health()
    except rest.RestError as exc:
        print(f"  the API does not answer: {exc}")
        return 1
    unhealthy = rest.describe_health(health)
    return 1 if code != 0 or unhealthy or container != "healthy" else 0


def cmd_psql(stack: Stack, args: argparse.Namespace) -> int:
    stack.preflight()
    ensure_env(stack.env_file, create=False)
    stack.require_running()
    values = read_env_file(stack.env_file)
    user = values.get("WAREHOUSE_DB_USER", ("", 0))[0] or "retailrocket"
    database = values.get("RR_PG_DATABASE", ("", 0))[0] or "retailrocket"
    return stack.run(stack.compose("exec", DB_SERVICE, "psql", "-U", user, "-d", database)).returncode


def cmd_down(stack: Stack, args: argparse.Namespace) -> int:
    stack.preflight()
    ensure_env(stack.env_file, create=False)
    extra = ("--volumes",) if args.volumes else ()
    stack.checked(("down", "--remove-orphans", *extra), "stopping the stack failed")
    if args.volumes:
        print("stopped; the volumes (Airflow metadata, warehouse, admin login) are deleted")
    return 0


def cmd_logs(stack: Stack, args: argparse.Namespace) -> int:
    stack.preflight()
    ensure_env(stack.env_file, create=False)
    services = (args.service,) if args.service else ()
    return stack.run(stack.compose("logs", "--follow", "--tail", "200", *services)).returncode


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airflow/compose/stack.py", description=__doc__.split("\n")[0])
    parser.add_argument("--docker", default="docker", help="the docker executable (default: docker)")
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env", help="default: the repository's")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("env", help="create .env with fresh secrets, or check it").set_defaults(func=cmd_env)
    up = sub.add_parser("up", help="build, start, wait, print the UI address")
    up.add_argument("--wait-seconds", type=int, default=600, help="how long to wait for the API server")
    up.add_argument("--poll-seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    up.set_defaults(func=cmd_up)
    init = sub.add_parser("init", help="generate (unless present) and load the raw data")
    init.add_argument("--scale", type=float, default=0.05)
    init.add_argument("--seed", type=int, default=42)
    init.set_defaults(func=cmd_init)
    run_dag = sub.add_parser("run-dag", help=f"trigger {DAG_ID} in the stack and follow the run")
    run_dag.add_argument("--date", default="", help="YYYY-MM-DD (default: the last complete day covered)")
    run_dag.add_argument("--start", default="", help="first date of a ranged run (with --end)")
    run_dag.add_argument("--end", default="", help="last date of a ranged run (with --start)")
    run_dag.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the run")
    run_dag.set_defaults(func=cmd_run_dag)
    sub.add_parser("check", help="the latest report's certification and the API's health").set_defaults(
        func=cmd_check
    )
    sub.add_parser("psql", help="psql on the stack's warehouse").set_defaults(func=cmd_psql)
    down = sub.add_parser("down", help="stop the stack")
    down.add_argument("--volumes", action="store_true", help="also delete the volumes (all data)")
    down.set_defaults(func=cmd_down)
    logs = sub.add_parser("logs", help="follow the logs")
    logs.add_argument("service", nargs="?", default="")
    logs.set_defaults(func=cmd_logs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stack = Stack(args.docker, args.env_file.expanduser().absolute())
    try:
        return args.func(stack, args)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
