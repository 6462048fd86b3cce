"""The docker-compose stack, checked without Docker.

No Docker engine runs where these tests run, so the stack is checked the other ways it can be:
docker-compose.yml against the Compose specification's JSON schema (shipped by check-jsonschema)
and against the repository (services, images, databases, health checks, dependencies, mounts,
settings, secrets), the image's Dockerfile against pyproject.toml and the DAG's imports, the
PostgreSQL init script against a real PostgreSQL server, the airflow-init script end to end
against that server (slow), and the Make targets through a stand-in `docker` that records what
they would run.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from seeds_loader.settings import DEFAULTS

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_DIR = REPO / "airflow" / "compose"
DOCKERFILE = COMPOSE_DIR / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
DAG_FILE = REPO / "airflow" / "dags" / "rr_funnel_daily.py"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

AIRFLOW_SERVICES = {
    "airflow-init": None,
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-cli": None,
}
LONG_RUNNING = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
IMAGE_TAG = "apache/airflow:3.3.2-python3.11"


# -- helpers ------------------------------------------------------------------------------------
def _load_stack_module() -> ModuleType:
    """airflow/compose/stack.py, imported by path (airflow/ is deliberately not a package)."""
    spec = importlib.util.spec_from_file_location("rr_compose_stack", COMPOSE_DIR / "stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


stack = _load_stack_module()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """docker compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"], match["arg"]
        assert arg is None or "$" not in arg, f"nested interpolation is not supported here: {match[0]}"
        present = name in env
        filled = present and env[name] != ""
        if op in (":-", "-"):
            return env[name] if (filled if op == ":-" else present) else arg
        if op in (":?", "?"):
            if not (filled if op == ":?" else present):
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return env[name]
        if op in (":+", "+"):
            return arg if (filled if op == ":+" else present) else ""
        return env.get(name, "")

    return VARIABLE.sub(substitute, value)


def compose_variables(text: str) -> dict[str, set[str]]:
    """{variable: {operators used with it}} of a compose file's text ('' for a plain ${VAR})."""
    found: dict[str, set[str]] = {}
    for match in VARIABLE.finditer(text):
        if match["escaped"]:
            continue
        found.setdefault(match["name"] or match["bare"], set()).add(match["op"] or "")
    return found


def compose_defaults(text: str) -> dict[str, str]:
    return {m["name"]: m["arg"] for m in VARIABLE.finditer(text) if m["op"] == ":-"}


def env_example_entries() -> tuple[dict[str, str], set[str]]:
    """(active KEY=value lines, keys documented in comment lines like `# KEY=value`)."""
    active = {key: value for key, (value, _line) in stack.read_env_file(ENV_EXAMPLE).items()}
    commented = set(re.findall(r"^#\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    return active, commented


def stack_env() -> dict[str, str]:
    """The .env that `make up` creates: .env.example with fresh secrets."""
    path_text = stack.render_env(ENV_EXAMPLE.read_text(encoding="utf-8"), 4242)
    values: dict[str, str] = {}
    for line in path_text.splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
    return values


@pytest.fixture(scope="module")
def resolved(compose: dict[str, Any]) -> dict[str, Any]:
    """docker-compose.yml as docker compose sees it with the .env that `make up` creates."""
    return interpolate(compose, stack_env())


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        assert isinstance(volume, dict), f"use the long volume syntax: {volume!r}"
        if volume["type"] == "bind":
            mounts.append(((REPO / volume["source"]).resolve(), volume["target"]))
    return mounts


def host_path(service: dict[str, Any], container_path: str) -> Path:
    """The host path behind a container path, through the service's bind mounts."""
    path = PurePosixPath(container_path)
    best: tuple[int, Path] | None = None
    for source, target in bind_mounts(service):
        target_path = PurePosixPath(target)
        if path == target_path or target_path in path.parents:
            depth = len(target_path.parts)
            if best is None or depth > best[0]:
                best = (depth, source / path.relative_to(target_path))
    assert best is not None, f"{container_path} is not inside any bind mount of the service"
    return best[1]


# -- services, images, the Dockerfile ---------------------------------------------------------------
def test_services_images_and_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "spark-thrift", *AIRFLOW_SERVICES}
    assert services["postgres"]["image"] == "postgres:15"
    assert compose["name"] == "retailrocket-kpi"
    for name, command in AIRFLOW_SERVICES.items():
        service = services[name]
        assert service["build"] == {"context": ".", "dockerfile": "airflow/compose/Dockerfile"}, name
        assert service["image"] == "retailrocket-kpi/airflow:3.3.2", name
        if command is not None:
            assert service["command"] == command, name
    assert services["airflow-cli"]["profiles"] == ["cli"]
    assert services["airflow-init"]["entrypoint"] == "/bin/bash"
    assert services["airflow-init"]["command"] == ["/opt/retailrocket/airflow/compose/airflow-init.sh"]
    assert (REPO / services["airflow-init"]["build"]["context"] / "airflow/compose/Dockerfile").is_file()


def test_airflow_services_share_one_common_definition(compose: dict[str, Any]) -> None:
    common = compose["x-airflow-common"]
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        for key, value in common["environment"].items():
            assert service["environment"][key] == value, f"{name}: {key}"
        assert service["volumes"] == common["volumes"], name
        assert service["working_dir"] == "/opt/retailrocket", name
        assert service["user"] == ("0:0" if name == "airflow-init" else common["user"]), name
    env = common["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "exports.airflow_executor.PreloadingLocalExecutor"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("simple_auth_manager.SimpleAuthManager")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "False"
    assert env["RR_TARGET"] == "${STACK_TARGET:-postgres}"
    assert (env["RR_SPARK_METHOD"], env["RR_SPARK_HOST"], env["RR_SPARK_PORT"]) == (
        "thrift",
        "spark-thrift",
        "10001",
    )
    assert (env["RR_PG_HOST"], env["RR_PG_PORT"]) == ("postgres", "5432")
    # Every RR_* setting is pinned in the containers, so the mounted repository's .env (which
    # load_settings reads as a fallback) cannot point the stack at the host's warehouse.
    assert set(DEFAULTS) <= set(env)


def test_the_airflow_settings_the_stack_sets_exist_in_airflow_3_3() -> None:
    """Each AIRFLOW__SECTION__KEY of the stack is an option of the installed Airflow (no typo)."""
    spec = importlib.util.find_spec("airflow")
    assert spec is not None and spec.submodule_search_locations
    package = Path(next(iter(spec.submodule_search_locations)))
    options = yaml.safe_load((package / "config_templates" / "config.yml").read_text(encoding="utf-8"))
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    keys = {
        key
        for service in [compose["x-airflow-common"], *compose["services"].values()]
        for key in service.get("environment", {})
        if key.startswith("AIRFLOW__")
    }
    assert len(keys) >= 15
    for key in sorted(keys):
        section, option = key.removeprefix("AIRFLOW__").lower().split("__")
        if section == "cosmos":  # a provider's section, read by astronomer-cosmos
            assert option == "enable_telemetry"
            continue
        assert option in options.get(section, {}).get("options", {}), f"{key}: no [{section}] {option}"
    manager = compose["x-airflow-common"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"]
    module, _, cls = manager.rpartition(".")
    source = package.parent / (module.replace(".", "/") + ".py")
    assert f"class {cls}(" in source.read_text(encoding="utf-8")


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_builds_on_airflow_3_3_2_for_our_python_and_keeps_it() -> None:
    instructions = _dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert froms == [IMAGE_TAG]
    image_airflow, _, image_python = IMAGE_TAG.split(":")[1].partition("-python")

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert image_python in SpecifierSet(project["requires-python"])
    airflow_pins = [Requirement(r) for r in project["optional-dependencies"]["airflow"]]
    airflow_pin = next(r for r in airflow_pins if r.name == "apache-airflow")
    assert image_airflow in airflow_pin.specifier
    # The tests and the local stack run the same Airflow as the image.
    assert importlib.metadata.version("apache-airflow") == image_airflow, (
        "the tests run another Airflow than the image: move the Dockerfile's FROM to the tested version"
    )

    install = " ".join(rest for keyword, rest in instructions if keyword == "RUN" and "pip install" in rest)
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in install, "pin the image's Airflow"
    assert "--constraint /tmp/airflow-pins.txt" in install
    assert '--editable "${PROJECT_DIR}[airflow,spark-client]"' in install
    assert ("ARG", "PROJECT_DIR=/opt/retailrocket") in instructions


def _ignored(patterns: list[str], path: str) -> bool:
    """.dockerignore semantics for one path: the last pattern matching it or a parent wins."""
    candidates = [path] + [str(parent) for parent in PurePosixPath(path).parents if str(parent) != "."]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern[1:] if negate else pattern
        matchers = [glob, glob.removeprefix("**/")] if glob.startswith("**/") else [glob]
        for candidate in candidates:
            parts = PurePosixPath(candidate).parts
            if any(fnmatch(candidate, m) or (m != glob and fnmatch(parts[-1], m)) for m in matchers):
                ignored = not negate
                break
    return ignored


def test_build_context_sends_exactly_what_the_dockerfile_copies() -> None:
    ignore_file = COMPOSE_DIR / "Dockerfile.dockerignore"
    patterns = [
        line.strip()
        for line in ignore_file.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = []
    for keyword, rest in _dockerfile_instructions():
        if keyword == "COPY":
            words = [w for w in rest.split() if not w.startswith("--")]
            sources.extend(words[:-1])
    assert sources == ["pyproject.toml", "README.m[d]", "seeds_loader", "exports"]
    for source in sources:
        if "[" in source:  # optional file (a wildcard may match nothing)
            continue
        assert (REPO / source).exists(), source
        assert not _ignored(patterns, source), f"{source} is copied but excluded from the build context"
        if (REPO / source).is_dir():
            assert not _ignored(patterns, f"{source}/__init__.py")
    assert not _ignored(patterns, "README.md")
    for never in (
        ".env",
        ".venv/bin/python",
        "data/raw/retailrocket/events.csv",
        "logs/reports/x.csv",
        ".git/HEAD",
    ):
        assert _ignored(patterns, never), never
    assert _ignored(patterns, "seeds_loader/__pycache__/settings.cpython-311.pyc")
    # The project's packages are exactly what the image copies.
    packages = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "packages"
    ]
    assert sorted(packages) == sorted(s for s in sources if (REPO / s).is_dir())


def _requirement_closure(roots: list[str]) -> set[str]:
    """Canonical names of the installed distributions the root requirements pull in, with extras."""
    seen: dict[str, set[str]] = {}
    queue = [(Requirement(r), {""}) for r in roots]
    while queue:
        requirement, context = queue.pop()
        if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in context):
            continue
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in seen and extras <= seen[name]:
            continue
        seen.setdefault(name, set()).update(extras)
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        queue.extend((Requirement(r), extras | {""}) for r in requires)
    return set(seen)


def test_dag_imports_only_what_the_image_installs() -> None:
    """Every module the DAG imports comes from the stdlib, the project, or `.[airflow]`'s closure."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    installed = _requirement_closure(project["dependencies"] + project["optional-dependencies"]["airflow"])
    assert {"apache-airflow-core", "astronomer-cosmos", "dbt-core", "pendulum"} <= installed
    assert "pytest" not in installed and "pandas" not in installed  # dev-only: not in the image
    own = set(pyproject["tool"]["setuptools"]["packages"])
    providers = importlib.metadata.packages_distributions()

    modules = set()
    for node in ast.walk(ast.parse(DAG_FILE.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    assert {"airflow", "cosmos", "seeds_loader", "exports"} <= modules
    for module in sorted(modules):
        if module in sys.stdlib_module_names or module == "__future__" or module in own:
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        assert dists & installed, (
            f"the DAG imports {module!r}, which `pip install .[airflow]` does not install"
        )


# -- databases, health, dependencies ------------------------------------------------------------
def test_metadata_and_warehouse_are_separate_databases(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    env = services["airflow-scheduler"]["environment"]
    url = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert url.scheme == "postgresql+psycopg2"
    assert (url.hostname, url.port) == ("postgres", 5432)
    metadata_db, metadata_user = url.path.lstrip("/"), url.username
    pg = services["postgres"]["environment"]
    assert (pg["AIRFLOW_DB_NAME"], pg["AIRFLOW_DB_USER"], pg["AIRFLOW_DB_PASSWORD"]) == (
        metadata_db,
        metadata_user,
        url.password,
    )
    assert (pg["WAREHOUSE_DB_NAME"], pg["WAREHOUSE_DB_USER"], pg["WAREHOUSE_DB_PASSWORD"]) == (
        env["RR_PG_DATABASE"],
        env["RR_PG_USER"],
        env["RR_PG_PASSWORD"],
    )
    assert metadata_db == "airflow" and env["RR_PG_DATABASE"] == DEFAULTS["RR_PG_DATABASE"]
    assert metadata_db != env["RR_PG_DATABASE"]
    assert metadata_user != env["RR_PG_USER"]
    assert url.password != env["RR_PG_PASSWORD"]
    init_mounts = {target: source for source, target in bind_mounts(services["postgres"])}
    assert init_mounts["/docker-entrypoint-initdb.d/10-retailrocket-databases.sh"] == (
        COMPOSE_DIR / "postgres-init.sh"
    )
    assert [v["target"] for v in services["postgres"]["volumes"] if v["type"] == "volume"] == [
        "/var/lib/postgresql/data"
    ]
    assert set(resolved["volumes"]) == {"postgres-data", "airflow-auth"}
    assert services["postgres"]["ports"] == ["127.0.0.1:5433:5432"]
    assert services["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]


def test_healthchecks_and_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    pg_check = services["postgres"]["healthcheck"]["test"]
    assert pg_check[:2] == ["CMD", "pg_isready"] and "--host=127.0.0.1" in pg_check
    assert "/api/v2/monitor/health" in " ".join(services["airflow-apiserver"]["healthcheck"]["test"])
    assert "8974/health" in " ".join(services["airflow-scheduler"]["healthcheck"]["test"])
    assert "DagProcessorJob" in " ".join(services["airflow-dag-processor"]["healthcheck"]["test"])
    assert "TriggererJob" in " ".join(services["airflow-triggerer"]["healthcheck"]["test"])
    assert compose["x-airflow-common"]["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"

    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        if name == "airflow-init":
            assert set(depends) == {"postgres"}
        else:
            assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name
    for name in ("airflow-scheduler", "airflow-triggerer"):
        assert services[name]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}
    for name in LONG_RUNNING:
        assert "healthcheck" in services[name], name
        assert services[name]["restart"] == "unless-stopped", name

    # Every dependency exists, has what its condition needs, and the graph has no cycle.
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, f"dependency cycle through {name}"
        if name in order:
            return
        visiting.add(name)
        for dependency, spec in services[name].get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
            visit(dependency)
        visiting.discard(name)
        order.append(name)

    for name in services:
        visit(name)
    assert order.index("postgres") < order.index("airflow-init") < order.index("airflow-apiserver")


# -- settings and secrets -----------------------------------------------------------------------
def test_every_compose_variable_and_rr_setting_is_documented() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    active, commented = env_example_entries()
    used = compose_variables(text)
    undocumented = sorted(set(used) - set(active) - commented)
    assert not undocumented, f"docker-compose.yml reads {undocumented}, which .env.example does not document"
    # Every RR_* setting with its default, as active lines (copying .env.example changes nothing).
    assert {key: active.get(key) for key in DEFAULTS} == DEFAULTS
    # The defaults docker compose falls back to are the documented ones.
    for name, default in compose_defaults(text).items():
        if name == "AIRFLOW_UID":  # per machine: `make up` writes the caller's uid into .env
            assert (active[name], default) == ("", "50000")
            continue
        assert active.get(name) == default, f"{name}: docker-compose.yml defaults to {default!r}"
    # The stack's own knobs are all there.
    assert {
        "POSTGRES_PASSWORD",
        "AIRFLOW_DB_NAME",
        "AIRFLOW_DB_USER",
        "AIRFLOW_DB_PASSWORD",
        "WAREHOUSE_DB_USER",
        "WAREHOUSE_DB_PASSWORD",
        "AIRFLOW_ADMIN_USER",
        "AIRFLOW_ADMIN_PASSWORD",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_API_SECRET_KEY",
        "AIRFLOW_FERNET_KEY",
        "POSTGRES_HOST_PORT",
        "AIRFLOW_HOST_PORT",
        "AIRFLOW_UID",
    } <= set(used)


def test_env_example_documents_nothing_that_is_not_read() -> None:
    active, commented = env_example_entries()
    used = set(compose_variables(COMPOSE_FILE.read_text(encoding="utf-8")))
    sources = [
        p
        for pattern in ("seeds_loader/*.py", "exports/*.py", "airflow/dags/*.py", "tests/*.py")
        for p in REPO.glob(pattern)
        if p.name != "test_compose.py"
    ] + [
        REPO / "Makefile",
        *REPO.glob("dbt_retailrocket/scripts/*.py"),
        REPO / "dbt_retailrocket/profiles.yml",
    ]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources if p.is_file())
    for key in sorted(set(active) | commented):
        assert key in used or key in DEFAULTS or re.search(rf"\b{key}\b", text), (
            f".env.example documents {key}, which nothing reads"
        )


def test_no_secret_has_a_value_in_the_committed_files(compose: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    used = compose_variables(text)
    secrets = set(stack.SECRET_GENERATORS)
    for name in secrets:
        assert used.get(name) == {":?"}, f"{name} must be required (${{{name}:?...}}), never defaulted"
    active, _ = env_example_entries()
    assert {name: active[name] for name in secrets} == dict.fromkeys(secrets, "")
    assert active["RR_PG_PASSWORD"] == ""

    secret_like = re.compile(r"PASSWORD|SECRET|FERNET|_KEY$|TOKEN")
    reference = re.compile(r"\$\{([A-Z_]+):\?[^}]*\}")
    environments = [("x-airflow-common", compose["x-airflow-common"]["environment"])] + [
        (name, service.get("environment", {})) for name, service in compose["services"].items()
    ]
    checked = 0
    for owner, environment in environments:
        for key, value in environment.items():
            if key == "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
                url = re.fullmatch(
                    r"postgresql\+psycopg2://(\$\{[^}]*\}):(\$\{[^}]*\})@postgres:5432/\S+", value
                )
                assert url, f"{owner}: {key}={value!r}"
                password = reference.fullmatch(url[2])
                assert password and password[1] == "AIRFLOW_DB_PASSWORD", (
                    f"{owner}: the metadata URL's password"
                )
                checked += 1
            elif key == "RR_SPARK_PASSWORD":
                # the stack's Thrift Server has no authentication (compose network only, no port
                # published): an empty password, and the service ports prove it
                assert value == "" and "ports" not in compose["services"]["spark-thrift"], (owner, value)
            elif secret_like.search(key) and "FILE" not in key:
                match = reference.fullmatch(str(value))
                assert match and match[1] in secrets, f"{owner}: {key}={value!r} is not a required variable"
                checked += 1
    assert checked >= 10
    # Without them docker compose refuses to start, naming the variable.
    without = {k: v for k, v in stack_env().items() if k != "AIRFLOW_JWT_SECRET"}
    with pytest.raises(
        InterpolationError, match="AIRFLOW_JWT_SECRET is missing a value: set AIRFLOW_JWT_SECRET"
    ):
        interpolate(compose, without)


def test_mounted_paths_exist_and_container_paths_agree(resolved: dict[str, Any]) -> None:
    scheduler = resolved["services"]["airflow-scheduler"]
    env = scheduler["environment"]
    assert env["RR_PROJECT_ROOT"] == "/opt/retailrocket"
    mounts = bind_mounts(scheduler)
    # Each folder of the repository sits at the same relative place under RR_PROJECT_ROOT ...
    for source, target in mounts:
        assert target == f"/opt/retailrocket/{source.relative_to(REPO).as_posix()}", (source, target)
    assert {source.relative_to(REPO).as_posix() for source, _ in mounts} == {
        "airflow",
        "seeds_loader",
        "exports",
        "dbt_retailrocket",
        "data",
        "logs",
    }
    # ... the code read-only; only data/ and logs/ may be missing on a fresh clone (created then).
    for volume in scheduler["volumes"]:
        if volume["type"] != "bind":
            continue
        name = volume["source"].removeprefix("./")
        assert volume.get("read_only", False) == (name in ("airflow", "seeds_loader", "exports")), name
        if name in ("data", "logs"):
            assert volume["bind"] == {"create_host_path": True}, name
        else:
            assert (REPO / name).is_dir(), name
    # ... and nothing exposes the host's .env (the superuser password), .git or .venv.
    for hidden in (".env", ".git", ".venv"):
        assert not any(source == REPO / hidden or source in (REPO / hidden).parents for source, _ in mounts)
    # The editable install in the image maps the project's packages to these paths.
    assert {"/opt/retailrocket/seeds_loader", "/opt/retailrocket/exports"} <= {t for _, t in mounts}
    assert set(stack.HOST_FOLDERS) == {"data/raw/retailrocket", "logs/reports"}
    dags = host_path(scheduler, env["AIRFLOW__CORE__DAGS_FOLDER"])
    assert dags == DAG_FILE.parent and DAG_FILE.is_file()
    profiles = host_path(scheduler, env["DBT_PROFILES_DIR"])
    assert (profiles / "profiles.yml").is_file() and (profiles / "dbt_project.yml").is_file()
    assert profiles == REPO / "dbt_retailrocket"
    # The data, warehouse and report paths are the project's defaults, seen through the mount.
    assert host_path(scheduler, env["RR_DATA_DIR"]) == REPO / DEFAULTS["RR_DATA_DIR"]
    assert host_path(scheduler, env["RR_DUCKDB_PATH"]) == REPO / DEFAULTS["RR_DUCKDB_PATH"]
    assert host_path(scheduler, env["RR_REPORTS_DIR"]) == REPO / "logs" / "reports"
    assert host_path(scheduler, env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]).parent == REPO / "logs"
    init = resolved["services"]["airflow-init"]
    script = host_path(init, init["command"][0])
    assert script == COMPOSE_DIR / "airflow-init.sh"
    for path in (script, COMPOSE_DIR / "postgres-init.sh"):
        assert path.stat().st_mode & stat.S_IXUSR, f"{path.name} must be executable"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith("/opt/airflow/auth/")
    assert {"type": "volume", "source": "airflow-auth", "target": "/opt/airflow/auth"} in scheduler["volumes"]


def test_the_spark_thrift_server_gets_the_jar_airflow_init_writes(resolved: dict[str, Any]) -> None:
    """Profile spark: the Thrift Server's driver class path names the jar that airflow-init
    writes (`python -m seeds_loader spark jars`, into the stack's RR_SPARK_DIR/jars), the same
    file on the host through both services' mounts, and the server starts only after
    airflow-init wrote it and handed RR_SPARK_DIR to AIRFLOW_UID."""
    from seeds_loader.hive_support import JAR_NAME

    services = resolved["services"]
    spark, init = services["spark-thrift"], services["airflow-init"]
    command = spark["command"]
    jar = command[command.index("--driver-class-path") + 1]
    spark_dir = init["environment"]["RR_SPARK_DIR"]
    assert jar == f"{spark_dir}/jars/{JAR_NAME}"
    assert (
        host_path(spark, jar) == host_path(init, jar) == REPO / "data" / "spark-compose" / "jars" / JAR_NAME
    )
    assert spark["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    script = (COMPOSE_DIR / "airflow-init.sh").read_text(encoding="utf-8")
    assert "\npython -m seeds_loader spark jars\n" in script
    trees = re.search(r"^OUTPUT_TREES=\((.*?)\)", script, re.S | re.M)[1].split()
    assert Path(spark_dir).relative_to("/opt/retailrocket").as_posix() in trees


def test_airflow_init_hands_over_only_git_ignored_trees() -> None:
    """airflow-init chowns these trees recursively: none may hold a tracked file."""
    script = (COMPOSE_DIR / "airflow-init.sh").read_text(encoding="utf-8")
    block = re.search(r"^OUTPUT_TREES=\((.*?)\)", script, re.S | re.M)
    assert block is not None
    trees = block[1].split()
    assert "dbt_retailrocket/target" in trees and "logs/reports" in trees
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git work tree")
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *(f"{tree}/any-file" for tree in trees)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    ignored = {line.rsplit("/", 1)[0] for line in result.stdout.splitlines()}
    assert ignored == set(trees)


# -- the Compose specification ------------------------------------------------------------------
def _compose_schema() -> dict[str, Any]:
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or spec.origin is None:
        message = (
            "check-jsonschema (a dev dependency) is not installed: it ships the Compose specification's "
            "JSON schema"
        )
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    path = Path(spec.origin).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_compose_file_follows_the_compose_specification(
    compose: dict[str, Any], resolved: dict[str, Any]
) -> None:
    import jsonschema

    schema = _compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    for document in (compose, resolved):
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)
        ]
        assert errors == []
    # The validator bites: a misspelt key and an unknown depends_on condition are rejected.
    broken = json.loads(json.dumps(compose))
    broken["services"]["postgres"]["helthcheck"] = broken["services"]["postgres"].pop("healthcheck")
    assert not validator.is_valid(broken)
    broken = json.loads(json.dumps(compose))
    broken["services"]["airflow-cli"]["depends_on"]["airflow-init"]["condition"] = "service_done"
    assert not validator.is_valid(broken)


# -- .env handling (airflow/compose/stack.py) ----------------------------------------------------------
def test_render_env_fills_every_secret_and_changes_nothing_else() -> None:
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    first, second = stack.render_env(example, 1234), stack.render_env(example, 1234)
    assert first != second  # fresh secrets each time
    lines, example_lines = first.splitlines(), example.splitlines()
    assert len(lines) == len(example_lines)
    for line, original in zip(lines, example_lines, strict=True):
        key = original.partition("=")[0]
        if key in stack.SECRET_GENERATORS:
            assert original == f"{key}=" and line.startswith(f"{key}=") and len(line) > len(key) + 30
            pattern = stack.FERNET_KEY if key == "AIRFLOW_FERNET_KEY" else stack.SAFE_SECRET
            assert pattern.match(line.partition("=")[2]), line
        elif key == "AIRFLOW_UID":
            assert line == "AIRFLOW_UID=1234"
        else:
            assert line == original
    fernet = dict(line.partition("=")[::2] for line in lines if line.startswith("AIRFLOW_FERNET_KEY="))
    assert len(base64.urlsafe_b64decode(fernet["AIRFLOW_FERNET_KEY"])) == 32


def test_check_env_names_file_line_and_problem(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    good = stack.render_env(ENV_EXAMPLE.read_text(encoding="utf-8"), 1000)
    path.write_text(good, encoding="utf-8")
    assert stack.check_env(path) == []

    def line_of(key: str) -> int:
        return next(i for i, line in enumerate(good.splitlines(), 1) if line.startswith(f"{key}="))

    bad = (
        good.replace(re.search(r"^AIRFLOW_DB_PASSWORD=.*$", good, re.M)[0], "AIRFLOW_DB_PASSWORD=")
        .replace(re.search(r"^POSTGRES_PASSWORD=.*$", good, re.M)[0], "POSTGRES_PASSWORD=p@ss$word")
        .replace(re.search(r"^AIRFLOW_FERNET_KEY=.*$", good, re.M)[0], "AIRFLOW_FERNET_KEY=tooshort")
        .replace("AIRFLOW_HOST_PORT=8080", "AIRFLOW_HOST_PORT=80x")
        .replace("AIRFLOW_DB_NAME=airflow", "AIRFLOW_DB_NAME=retailrocket")
        .replace("AIRFLOW_ADMIN_USER=admin", "AIRFLOW_ADMIN_USER=ad:min")
    )
    bad = "\n".join(line for line in bad.splitlines() if not line.startswith("AIRFLOW_JWT_SECRET="))
    path.write_text(bad + "\n", encoding="utf-8")
    problems = stack.check_env(path)
    assert problems == [
        f"{path}:{line_of('POSTGRES_PASSWORD')}: POSTGRES_PASSWORD may only contain letters, digits and "
        ". _ ~ - (it goes into a URL and through docker compose's $-interpolation)",
        f"{path}:{line_of('AIRFLOW_DB_PASSWORD')}: AIRFLOW_DB_PASSWORD is empty; "
        "docker-compose.yml requires it",
        f"{path}: AIRFLOW_JWT_SECRET is missing; docker-compose.yml requires it",
        f"{path}:{line_of('AIRFLOW_FERNET_KEY') - 1}: AIRFLOW_FERNET_KEY must be 32 url-safe base64-encoded "
        "bytes (44 characters ending in '='), as cryptography's Fernet.generate_key() makes",
        f"{path}:{line_of('AIRFLOW_ADMIN_USER')}: AIRFLOW_ADMIN_USER must be a plain name "
        "(letters, digits, _); got 'ad:min'",
        f"{path}:{line_of('AIRFLOW_HOST_PORT')}: AIRFLOW_HOST_PORT must be a port number; got '80x'",
        f"{path}: AIRFLOW_DB_NAME and RR_PG_DATABASE are both 'retailrocket': the Airflow metadata and "
        "the warehouse need a database each",
    ]
    path.write_text("RR_TARGET=duckdb\nthis line is wrong\n", encoding="utf-8")
    with pytest.raises(stack.StackError, match=re.escape(f"{path}:2: expected KEY=value")):
        stack.check_env(path)


# -- Make targets, through a stand-in docker ----------------------------------------------------
STUB = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
env = os.environ.get
if args[:2] == ["compose", "version"]:
    if env("STUB_NO_COMPOSE"):
        sys.exit("docker: unknown command: docker compose")
    print("Docker Compose version v2.29.7")
    sys.exit(0)
if args[:1] == ["info"]:
    if env("STUB_NO_DAEMON"):
        print("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", file=sys.stderr)
        sys.exit(1)
    print("27.3.1")
    sys.exit(0)
if args[:1] == ["inspect"]:
    print(env("STUB_HEALTH", "healthy"))
    sys.exit(0)
assert args[0] == "compose" and args[1:7:2] == ["--project-directory", "--file", "--env-file"], args
sub = args[7]
if sub == "ps":
    print(env("STUB_RUNNING", "4f1c2a") if "--status" in args else "9ab3e7")
elif sub == "port":
    print(env("STUB_PORT", "127.0.0.1:8080"))
sys.exit(int(env("STUB_RC_" + sub.upper().replace("-", "_"), "0")))
"""


@pytest.fixture
def docker_stub(tmp_path: Path) -> Callable[..., tuple[subprocess.CompletedProcess[str], list[list[str]]]]:
    """``run(target, *make_args, **stub_env)`` -> (make's result, the docker calls it made)."""
    stub = tmp_path / "bin" / "docker"
    stub.parent.mkdir()
    stub.write_text(STUB.format(python=sys.executable), encoding="utf-8")
    stub.chmod(0o755)
    log = tmp_path / "docker-calls.jsonl"

    def run(target: str, *make_args: str, docker: str | None = None, **stub_env: str):
        log.write_text("", encoding="utf-8")
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "AIRFLOW_UID")
        }
        env.update(STUB_LOG=str(log), **stub_env)
        result = subprocess.run(
            [
                "make",
                "--no-print-directory",
                "-f",
                "airflow/compose/compose.mk",
                target,
                f"DOCKER={docker or stub}",
                f"STACK_ENV_FILE={tmp_path / 'stack.env'}",
                f"PYTHON={sys.executable}",
                *make_args,
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        return result, calls

    return run


def _globals(tmp_path: Path) -> list[str]:
    return [
        "compose",
        "--project-directory",
        str(REPO),
        "--file",
        str(COMPOSE_FILE),
        "--env-file",
        str(tmp_path / "stack.env"),
    ]


PREFLIGHT = [["compose", "version"], ["info", "--format", "{{.ServerVersion}}"]]


def _services_named(call: list[str]) -> set[str]:
    """Service names in one recorded `docker compose ...` call."""
    if call[:2] != ["compose", "--project-directory"]:
        return set()
    sub, rest = call[7], call[8:]
    takes_value = {"--status", "--tail", "--format", "--wait-timeout"}
    positional, skip = [], False
    for word in rest:
        if skip:
            skip = False
        elif word in takes_value:
            skip = True
        elif not word.startswith("-"):
            positional.append(word)
    if sub in ("run", "exec", "port"):
        return set(positional[:1])
    if sub in ("ps", "logs", "up", "stop", "start", "restart", "build"):
        return set(positional)
    return set()


def _write_env(tmp_path: Path) -> Path:
    path = tmp_path / "stack.env"
    path.write_text(stack.render_env(ENV_EXAMPLE.read_text(encoding="utf-8"), 1000), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "target",
    [
        "up",
        "init",
        "down",
        "down-volumes",
        "compose-run-dag",
        "compose-logs",
        "compose-check",
        "compose-psql",
    ],
)
def test_every_target_says_what_is_missing_without_docker(docker_stub, tmp_path: Path, target: str) -> None:
    _write_env(tmp_path)
    result, calls = docker_stub(target, "DATE=2015-09-18", docker=str(tmp_path / "no-such-docker"))
    assert result.returncode != 0
    assert (
        f"error: `{tmp_path / 'no-such-docker'}` was not found: the compose stack needs Docker"
        in result.stderr
    )
    assert calls == []

    result, calls = docker_stub(target, "DATE=2015-09-18", STUB_NO_COMPOSE="1")
    assert result.returncode != 0
    assert (
        "error: `docker compose` is not available (docker said: docker: unknown command: docker compose): "
        "install the Docker Compose v2 plugin"
    ) in result.stderr
    assert calls == [["compose", "version"]]

    result, calls = docker_stub(target, "DATE=2015-09-18", STUB_NO_DAEMON="1")
    assert result.returncode != 0
    assert "error: the Docker daemon does not answer (Cannot connect to the Docker daemon" in result.stderr
    assert calls == PREFLIGHT


def test_make_up_creates_env_starts_waits_and_prints_the_login(docker_stub, tmp_path: Path, compose) -> None:
    result, calls = docker_stub("up")
    assert result.returncode == 0, result.stderr
    g = _globals(tmp_path)
    assert calls == [
        *PREFLIGHT,
        [*g, "up", "--detach", "--build"],
        [*g, "ps", "--all", "--quiet", "airflow-apiserver"],
        ["inspect", "--format", stack.HEALTH_FORMAT, "9ab3e7"],
        [*g, "port", "airflow-apiserver", "8080"],
    ]
    assert {s for call in calls for s in _services_named(call)} <= set(compose["services"])
    env_file = tmp_path / "stack.env"
    assert all((REPO / folder).is_dir() for folder in stack.HOST_FOLDERS)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stack.check_env(env_file) == []
    assert "Airflow UI   http://127.0.0.1:8080" in result.stdout
    assert f"login        user 'admin', password: AIRFLOW_ADMIN_PASSWORD in {env_file}" in result.stdout
    created = env_file.read_text(encoding="utf-8")
    assert created.splitlines()[-1] == "STACK=compose"  # runs now go to the stack
    assert "STACK=compose (make run-dag, make check and make logs now go to the stack)" in result.stdout

    # A second `make up` keeps the .env it finds.
    result, _ = docker_stub("up", STUB_PORT="0.0.0.0:18080")
    assert result.returncode == 0, result.stderr
    assert env_file.read_text(encoding="utf-8") == created
    assert "Airflow UI   http://localhost:18080" in result.stdout


def test_make_up_fails_when_the_api_server_stays_unhealthy(docker_stub, tmp_path: Path) -> None:
    _write_env(tmp_path)
    result, calls = docker_stub("up", "STACK_WAIT_SECONDS=0", STUB_HEALTH="starting")
    assert result.returncode != 0
    assert "error: airflow-apiserver is not healthy after 0 s (status: starting)" in result.stderr
    assert calls[-1] == [*_globals(tmp_path), "logs", "--tail", "40", "airflow-apiserver"]

    result, _ = docker_stub("up", STUB_RC_UP="1")
    assert result.returncode != 0
    assert "error: `docker compose up` failed (exit 1)" in result.stderr


def test_make_up_fills_the_empty_secrets_of_a_copied_env_example_in_place(
    docker_stub, tmp_path: Path
) -> None:
    """The quickstart: `cp .env.example .env; make up`."""
    env_file = tmp_path / "stack.env"
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    env_file.write_text(example, encoding="utf-8")
    env_file.chmod(0o644)
    result, calls = docker_stub("up")
    assert result.returncode == 0, result.stderr
    assert calls[len(PREFLIGHT)] == [*_globals(tmp_path), "up", "--detach", "--build"]
    names = ", ".join(stack.SECRET_GENERATORS)
    assert f"{env_file}: filled 7 empty secret(s) with fresh random values: {names}" in result.stdout
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    lines = env_file.read_text(encoding="utf-8").splitlines()
    before = example.splitlines()
    # every line as it was, except the seven secrets, and STACK=compose appended
    assert lines[: len(before)] != before and len(lines) == len(before) + 3
    assert lines[len(before) :] == [
        "",
        "# where `make run-dag`, `make check` and `make logs` go (make up sets it; local: this machine)",
        "STACK=compose",
    ]
    for line, original in zip(lines, before, strict=False):
        key = original.partition("=")[0]
        if key in stack.SECRET_GENERATORS:
            assert original == f"{key}=" and len(line) > len(key) + 30, line
        else:
            assert line == original
    assert stack.check_env(env_file) == []
    # a second `make up` changes nothing
    text = env_file.read_text(encoding="utf-8")
    result, _ = docker_stub("up")
    assert result.returncode == 0 and "filled" not in result.stdout and "STACK=compose" not in result.stdout
    assert env_file.read_text(encoding="utf-8") == text


def test_make_up_refuses_an_env_file_with_problems(docker_stub, tmp_path: Path) -> None:
    path = _write_env(tmp_path)
    path.write_text(
        re.sub(r"^AIRFLOW_ADMIN_PASSWORD=.*$", "AIRFLOW_ADMIN_PASSWORD=p@ss", path.read_text(), flags=re.M)
    )
    result, calls = docker_stub("up")
    assert result.returncode != 0
    assert "AIRFLOW_ADMIN_PASSWORD may only contain letters, digits and . _ ~ -" in result.stderr
    assert calls == PREFLIGHT


def test_make_init_generates_then_loads_in_the_cli_container(docker_stub, tmp_path: Path, compose) -> None:
    _write_env(tmp_path)
    result, calls = docker_stub("init", "SCALE=0.01", "SEED=7")
    assert result.returncode == 0, result.stderr
    g = _globals(tmp_path)
    run = [*g, "run", "--rm", "--no-deps", "airflow-cli", "python", "-m", "seeds_loader"]
    assert calls == [
        *PREFLIGHT,
        [*g, "ps", "--status", "running", "--quiet", "postgres"],
        [*run, "generate", "--scale", "0.01", "--seed", "7", "--unless-present"],
        [*run, "load"],
    ]
    assert {s for call in calls for s in _services_named(call)} == {"postgres", "airflow-cli"}
    assert {"postgres", "airflow-cli"} <= set(compose["services"])

    result, calls = docker_stub("init", STUB_RUNNING="")
    assert result.returncode != 0
    assert "error: the stack is not running (postgres is not up): start it with `make up`" in result.stderr
    assert len(calls) == 3

    result, calls = docker_stub("init", STUB_RC_RUN="3")
    assert result.returncode != 0
    assert "error: generating the raw data failed: `docker compose run --rm --no-deps airflow-cli python" in (
        result.stderr
    )
    assert "exited 3" in result.stderr and len(calls) == 4


def test_make_init_without_env_file_points_to_make_up(docker_stub, tmp_path: Path) -> None:
    result, calls = docker_stub("init")
    assert result.returncode != 0
    assert f"error: {tmp_path / 'stack.env'} is missing: start the stack with `make up`" in result.stderr
    assert calls == PREFLIGHT


class FakeAirflowApi:
    """Airflow 3's REST API as far as `make run-dag STACK=compose` uses it, recording each call."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.calls: list[tuple[str, str, Any]] = []
        self.paused = True
        self.runs: dict[str, dict[str, Any]] = {}
        self.final_state = "success"
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                api.calls.append((method, self.path, body))
                path = urllib.parse.unquote(self.path.split("?")[0])
                if path == "/auth/token":
                    ok = body == {"username": "admin", "password": api.password}
                    return self._answer(
                        201 if ok else 401, {"access_token": "t0ken"} if ok else {"detail": "no"}
                    )
                if self.headers.get("Authorization") != "Bearer t0ken":
                    return self._answer(401, {"detail": "not authenticated"})
                if path == "/api/v2/dags/rr_funnel_daily" and method == "GET":
                    return self._answer(200, {"dag_id": "rr_funnel_daily", "is_paused": api.paused})
                if path == "/api/v2/dags/rr_funnel_daily" and method == "PATCH":
                    api.paused = body["is_paused"]
                    return self._answer(200, {"is_paused": api.paused})
                if path == "/api/v2/dags/rr_funnel_daily/dagRuns" and method == "POST":
                    run_id = body.get("dag_run_id") or "manual__2026-12-01T00:00:00+00:00"
                    if run_id in api.runs:
                        return self._answer(409, {"detail": "exists"})
                    api.runs[run_id] = {
                        "dag_run_id": run_id,
                        "state": "queued",
                        "run_type": "manual",
                        "conf": body["conf"],
                    }
                    return self._answer(200, api.runs[run_id])
                parts = path.split("/")
                if len(parts) >= 7 and parts[5] == "dagRuns" and parts[6] in api.runs:
                    run = api.runs[parts[6]]
                    if len(parts) == 7:
                        run["state"] = {"queued": "running", "running": api.final_state}.get(
                            run["state"], run["state"]
                        )
                        return self._answer(200, run)
                    states = (
                        ["success", "success"] if run["state"] != "failed" else ["failed", "upstream_failed"]
                    )
                    tis = [
                        {"task_id": t, "state": st}
                        for t, st in zip(["check_raw_freshness", "export_reports"], states, strict=True)
                    ]
                    return self._answer(200, {"task_instances": tis})
                return self._answer(404, {"detail": f"no route {method} {path}"})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.password = ""
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake_api() -> Iterator[FakeAirflowApi]:
    api = FakeAirflowApi()
    yield api
    api.server.shutdown()


def test_compose_run_dag_triggers_a_manual_backfill_through_the_rest_api(
    docker_stub, tmp_path: Path, fake_api
) -> None:
    env_file = _write_env(tmp_path)
    fake_api.password = stack.read_env_file(env_file)["AIRFLOW_ADMIN_PASSWORD"][0]
    port = f"127.0.0.1:{fake_api.port}"
    result, calls = docker_stub("compose-run-dag", "DATE=2015-09-18", STUB_PORT=port)
    assert result.returncode == 0, result.stdout + result.stderr
    g = _globals(tmp_path)
    assert calls == [
        *PREFLIGHT,
        [*g, "ps", "--status", "running", "--quiet", "postgres"],
        [*g, "port", "airflow-apiserver", "8080"],
    ]
    posts = [(path, body) for method, path, body in fake_api.calls if method in ("POST", "PATCH")]
    assert posts[1] == ("/api/v2/dags/rr_funnel_daily", {"is_paused": False})  # unpaused to run
    assert posts[2] == (
        "/api/v2/dags/rr_funnel_daily/dagRuns",
        {
            "logical_date": None,
            "conf": {"target_date": "2015-09-18"},
            "dag_run_id": "manual_backfill_2015-09-18",
        },
    )
    assert (
        "triggered rr_funnel_daily run manual_backfill_2015-09-18 (target_date 2015-09-18)" in result.stdout
    )
    assert "run manual_backfill_2015-09-18: success" in result.stdout
    assert "unpaused rr_funnel_daily" in result.stdout

    # the same date again: a run id of its own; a failed run fails the command
    fake_api.final_state = "failed"
    result, _ = docker_stub("compose-run-dag", "DATE=2015-09-18", STUB_PORT=port)
    assert result.returncode != 0
    assert "triggered rr_funnel_daily run manual_backfill_2015-09-18_2" in result.stdout
    assert (
        "run manual_backfill_2015-09-18_2: failed; check_raw_freshness failed; 1 task(s) downstream did not run"
        in (result.stderr)
    )

    # without a date: a manual run the DAG resolves (the last complete day the raw data cover)
    fake_api.final_state = "success"
    result, _ = docker_stub("compose-run-dag", STUB_PORT=port)
    assert result.returncode == 0, result.stderr
    assert any(body == {"logical_date": None, "conf": {}} for _, _, body in fake_api.calls if body)
    assert "(no date: the DAG reports on the last complete day the raw data cover)" in result.stdout


def test_compose_run_dag_names_a_refused_login(docker_stub, tmp_path: Path, fake_api) -> None:
    _write_env(tmp_path)
    fake_api.password = "another"
    result, _ = docker_stub("compose-run-dag", "DATE=2015-09-18", STUB_PORT=f"127.0.0.1:{fake_api.port}")
    assert result.returncode != 0
    assert (
        f"error: login as 'admin' at http://127.0.0.1:{fake_api.port}/auth/token refused (HTTP 401)"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("2015-9-18", "DATE must be a calendar date written YYYY-MM-DD; got '2015-9-18'"),
        ("20150918", "DATE must be a calendar date written YYYY-MM-DD; got '20150918'"),
        ("2015-02-30", "DATE is not a real calendar date: '2015-02-30'"),
        (
            "2015-09-18; touch pwned",
            "DATE must be a calendar date written YYYY-MM-DD; got '2015-09-18; touch pwned'",
        ),
        ('2015-09-18" && touch pwned && echo "', "DATE must be a calendar date written YYYY-MM-DD"),
    ],
)
def test_compose_run_dag_rejects_a_bad_date_before_docker(docker_stub, date: str, message: str) -> None:
    result, calls = docker_stub("compose-run-dag", f"DATE={date}")
    assert result.returncode != 0
    assert f"error: {message}" in result.stderr
    assert calls == []


def test_make_down_and_down_volumes(docker_stub, tmp_path: Path) -> None:
    _write_env(tmp_path)
    g = _globals(tmp_path)
    result, calls = docker_stub("down")
    assert result.returncode == 0, result.stderr
    assert calls == [*PREFLIGHT, [*g, "down", "--remove-orphans"]]
    result, calls = docker_stub("down-volumes")
    assert result.returncode == 0, result.stderr
    assert calls == [*PREFLIGHT, [*g, "down", "--remove-orphans", "--volumes"]]
    assert "the volumes (Airflow metadata, warehouse, admin login) are deleted" in result.stdout


def test_makefile_includes_the_compose_targets() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    included = re.search(r"^-?include airflow/compose/compose\.mk$", makefile, re.M) is not None
    assert included, "the top-level Makefile must `include airflow/compose/compose.mk`"
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"^\s+(?:\x1b\[36m)?([a-z-]+)", result.stdout, re.M))
    assert {"up", "init", "down", "down-volumes", "compose-run-dag"} <= listed


# -- the init scripts against a real PostgreSQL -----------------------------------------------------
def _password_matches(verifier: str, password: str, user: str) -> bool:
    """Whether a pg_authid password (SCRAM-SHA-256 per RFC 5802/7677, or md5) was made from ``password``."""
    if verifier.startswith("md5"):
        return verifier == "md5" + hashlib.md5(password.encode() + user.encode()).hexdigest()
    method, _, rest = verifier.partition("$")
    iterations_salt, _, keys = rest.partition("$")
    iterations, _, salt = iterations_salt.partition(":")
    stored_key, _, _server_key = keys.partition(":")
    assert method == "SCRAM-SHA-256"
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest() == base64.b64decode(stored_key)


@pytest.fixture
def pg_names(pg_available: bool) -> Iterator[dict[str, str]]:
    """Fresh names for both databases and roles; dropped (databases, then roles) afterwards."""
    if shutil.which("psql") is None:
        message = "psql is not installed (the PostgreSQL client runs postgres-init.sh)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    suffix = uuid.uuid4().hex[:10]
    names = {
        "AIRFLOW_DB_NAME": f"rr_test_af_{suffix}",
        "AIRFLOW_DB_USER": f"rr_test_afu_{suffix}",
        "AIRFLOW_DB_PASSWORD": "first-af-password",
        "WAREHOUSE_DB_NAME": f"rr_test_wh_{suffix}",
        "WAREHOUSE_DB_USER": f"rr_test_whu_{suffix}",
        "WAREHOUSE_DB_PASSWORD": "first-wh-password",
    }
    yield names
    import psycopg

    from seeds_loader.settings import load_settings

    admin = load_settings(use_dotenv=False)
    with psycopg.connect(admin.pg_conninfo_for("postgres"), autocommit=True) as conn:
        for key in ("AIRFLOW_DB_NAME", "WAREHOUSE_DB_NAME"):
            conn.execute(f'drop database if exists "{names[key]}" with (force)')
        for key in ("AIRFLOW_DB_USER", "WAREHOUSE_DB_USER"):
            conn.execute(f'drop role if exists "{names[key]}"')


def _run_postgres_init(names: dict[str, str]) -> subprocess.CompletedProcess[str]:
    from seeds_loader.settings import load_settings

    admin = load_settings(use_dotenv=False)
    env = {
        **os.environ,
        **names,
        "PGHOST": admin.pg_host,
        "PGPORT": str(admin.pg_port),
        "POSTGRES_USER": admin.pg_user,
        "POSTGRES_DB": "postgres",
    }
    if admin.pg_password:
        env["PGPASSWORD"] = admin.pg_password
    return subprocess.run(
        ["bash", str(COMPOSE_DIR / "postgres-init.sh")], env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.postgres
def test_postgres_init_creates_two_isolated_databases(pg_names: dict[str, str]) -> None:
    import psycopg

    from seeds_loader.settings import load_settings

    result = _run_postgres_init(pg_names)
    assert result.returncode == 0, result.stderr
    admin = load_settings(use_dotenv=False)

    def state() -> dict[str, tuple[str, str]]:
        with psycopg.connect(admin.pg_conninfo_for("postgres")) as conn:
            rows = conn.execute(
                "select d.datname, r.rolname, a.rolpassword from pg_database d "
                "join pg_roles r on r.oid = d.datdba join pg_authid a on a.oid = r.oid "
                "where d.datname in (%s, %s)",
                (pg_names["AIRFLOW_DB_NAME"], pg_names["WAREHOUSE_DB_NAME"]),
            ).fetchall()
        return {db: (owner, verifier) for db, owner, verifier in rows}

    found = state()
    af, wh = pg_names["AIRFLOW_DB_NAME"], pg_names["WAREHOUSE_DB_NAME"]
    assert {db: owner for db, (owner, _) in found.items()} == {
        af: pg_names["AIRFLOW_DB_USER"],
        wh: pg_names["WAREHOUSE_DB_USER"],
    }
    af_user, wh_user = pg_names["AIRFLOW_DB_USER"], pg_names["WAREHOUSE_DB_USER"]
    assert _password_matches(found[af][1], "first-af-password", af_user)
    assert _password_matches(found[wh][1], "first-wh-password", wh_user)
    assert not _password_matches(found[af][1], "first-wh-password", af_user)

    def connects(user: str, password: str, database: str) -> bool:
        conninfo = (
            f"host={admin.pg_host} port={admin.pg_port} user={user} password={password} "
            f"dbname={database} connect_timeout=10"
        )
        try:
            with psycopg.connect(conninfo) as conn:
                return conn.execute("select current_user").fetchone()[0] == user
        except psycopg.OperationalError as exc:
            assert "permission denied for database" in str(exc), str(exc)
            return False

    # Each role reaches its own database and not the other's; the warehouse role may also read
    # pg_database from the maintenance database, as seeds_loader.warehouse.ensure_pg_database does.
    assert connects(af_user, "first-af-password", af)
    assert connects(wh_user, "first-wh-password", wh)
    assert connects(wh_user, "first-wh-password", "postgres")
    assert not connects(af_user, "first-af-password", wh)
    assert not connects(wh_user, "first-wh-password", af)
    with psycopg.connect(admin.pg_conninfo_for(wh)) as conn:
        privilege = "select has_database_privilege(%s, %s, %s)"
        assert conn.execute(privilege, (wh_user, wh, "create")).fetchone()[0]
        assert not conn.execute(privilege, ("public", wh, "connect")).fetchone()[0]
        assert not conn.execute(privilege, ("public", af, "connect")).fetchone()[0]

    # Idempotent: a second run keeps the databases and their owners and takes the new password.
    again = _run_postgres_init({**pg_names, "AIRFLOW_DB_PASSWORD": "second-af-password"})
    assert again.returncode == 0, again.stderr
    after = state()
    assert {db: owner for db, (owner, _) in after.items()} == {af: af_user, wh: wh_user}
    assert _password_matches(after[af][1], "second-af-password", af_user)
    assert _password_matches(after[wh][1], "first-wh-password", wh_user)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            lambda n: {"WAREHOUSE_DB_NAME": n["AIRFLOW_DB_NAME"]},
            "AIRFLOW_DB_NAME and RR_PG_DATABASE are both '{AIRFLOW_DB_NAME}'",
        ),
        (
            lambda n: {"WAREHOUSE_DB_USER": n["AIRFLOW_DB_USER"]},
            "AIRFLOW_DB_USER and WAREHOUSE_DB_USER are both '{AIRFLOW_DB_USER}'",
        ),
        (lambda n: {"AIRFLOW_DB_PASSWORD": ""}, "AIRFLOW_DB_PASSWORD is empty or not set"),
        (
            lambda n: {"WAREHOUSE_DB_NAME": "template1"},
            "WAREHOUSE_DB_NAME must not be 'template1' (a system database)",
        ),
        (
            lambda n: {"AIRFLOW_DB_USER": n["SUPERUSER"]},
            "AIRFLOW_DB_USER must not be the superuser '{SUPERUSER}'",
        ),
    ],
)
def test_postgres_init_refuses_a_shared_or_missing_setting(
    pg_names: dict[str, str], override: Callable[[dict[str, str]], dict[str, str]], message: str
) -> None:
    import psycopg

    from seeds_loader.settings import load_settings

    admin = load_settings(use_dotenv=False)
    context = {**pg_names, "SUPERUSER": admin.pg_user}
    names = {**pg_names, **override(context)}
    result = _run_postgres_init(names)
    assert result.returncode == 1
    assert f"postgres-init: error: {message.format(**context)}" in result.stderr
    with psycopg.connect(admin.pg_conninfo_for("postgres")) as conn:
        created = conn.execute(
            "select count(*) from pg_database where datname = any(%s)",
            ([pg_names["AIRFLOW_DB_NAME"], pg_names["WAREHOUSE_DB_NAME"]],),
        ).fetchone()[0]
    assert created == 0


@pytest.mark.slow
@pytest.mark.postgres
def test_airflow_init_prepares_a_copy_of_the_repository(pg_names: dict[str, str], tmp_path: Path) -> None:
    """airflow-init.sh end to end, without Docker: the venv's Airflow and dbt, a repository copy."""
    assert _run_postgres_init(pg_names).returncode == 0
    from seeds_loader.settings import load_settings

    admin = load_settings(use_dotenv=False)
    root = tmp_path / "repo"
    skip = shutil.ignore_patterns("target", "dbt_packages", "logs", "__pycache__", "package-lock.yml")
    for name in ("airflow", "dbt_retailrocket", "seeds_loader", "exports"):
        shutil.copytree(REPO / name, root / name, ignore=skip)
    auth = tmp_path / "auth" / "passwords.json"
    uid = os.getuid() if os.getuid() != 0 else 4321
    password = pg_names["AIRFLOW_DB_PASSWORD"]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW_UID": str(uid),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
            f"postgresql+psycopg2://{pg_names['AIRFLOW_DB_USER']}:{password}@{admin.pg_host}:{admin.pg_port}/"
            f"{pg_names['AIRFLOW_DB_NAME']}"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(auth),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "airflow" / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(root / "logs" / "airflow-compose"),
        "DBT_PROFILES_DIR": str(root / "dbt_retailrocket"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_PACKAGE_HUB_URL": "http://127.0.0.1:9/",  # no hub: the offline fallback, quickly
        "RR_PROJECT_ROOT": str(root),
        "RR_TARGET": "postgres",
        "RR_PG_DATABASE": pg_names["WAREHOUSE_DB_NAME"],
        "RR_SPARK_DIR": str(root / "data" / "spark-compose"),  # as docker-compose.yml sets it
        "_AIRFLOW_ADMIN_USER": "chief",
        "_AIRFLOW_ADMIN_PASSWORD": "admin-password-1",
    }
    result = subprocess.run(
        ["bash", str(root / "airflow" / "compose" / "airflow-init.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[airflow-init] DAGs: rr_funnel_daily" in result.stdout
    assert json.loads(auth.read_text(encoding="utf-8")) == {"chief": "admin-password-1"}
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    manifest = json.loads(
        (root / "dbt_retailrocket" / "target" / "manifest.json").read_text(encoding="utf-8")
    )
    assert manifest["metadata"]["project_name"] == "retailrocket"
    from seeds_loader.hive_support import JAR_NAME, jar_bytes

    jar = root / "data" / "spark-compose" / "jars" / JAR_NAME
    assert jar.read_bytes() == jar_bytes()
    for path in (
        "data/raw/retailrocket",
        "data/warehouse",
        "data/spark-compose/jars",
        "logs/reports",
        "dbt_retailrocket/target",
    ):
        assert (root / path).is_dir(), path
        if os.getuid() == 0:
            assert (root / path).stat().st_uid == uid, path
    if os.getuid() == 0:
        assert jar.stat().st_uid == uid
    if os.getuid() == 0:
        assert all(p.stat().st_uid == uid for p in (root / "dbt_retailrocket" / "target").rglob("*"))

    import psycopg

    conninfo = admin.pg_conninfo_for(pg_names["AIRFLOW_DB_NAME"])
    with psycopg.connect(conninfo) as conn:
        version = conn.execute("select version_num from alembic_version").fetchone()[0]
        owner = conn.execute("select tableowner from pg_tables where tablename = 'dag_run'").fetchone()[0]
    assert version and owner == pg_names["AIRFLOW_DB_USER"]
