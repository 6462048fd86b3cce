#!/usr/bin/env python3
"""Install the dbt packages of dbt_retailrocket: the real ones from the hub, or our offline fallback.

    python dbt_retailrocket/scripts/install_packages.py [--offline | --online] [--force]
        [--hub-url URL] [--timeout SECONDS] [--project-dir DIR]

Decision (standard library only, so it runs before anything else is set up):

1. Nothing to do when ``dbt_packages/INSTALLED.txt`` records an install that is still intact and
   current: the fallback, with ``offline_packages/`` unchanged, or the real packages, with
   ``packages.yml`` unchanged (``--force`` reinstalls anyway).
2. Otherwise, when the dbt package hub answers (a GET of its ``index.json``, ~5 s timeout), run
   ``dbt deps`` with the ``dbt`` next to the running Python.
3. When the hub does not answer or ``dbt deps`` fails, copy ``offline_packages/dbt_utils`` and
   ``offline_packages/dbt_expectations`` into ``dbt_packages/``, replacing whatever is there.

``--offline`` goes straight to step 3; ``--online`` skips the hub check and fails (exit 1) rather
than fall back. Either way ``dbt_packages/INSTALLED.txt`` states which set is installed and why,
and the same one-line summary is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_HUB_BASE = "https://hub.getdbt.com/"
HUB_INDEX_PATH = "api/v1/index.json"
FALLBACK_PACKAGES = ("dbt_utils", "dbt_expectations")
RECORD_NAME = "INSTALLED.txt"
FALLBACK = "offline-fallback"
REAL = "real"
# Never part of a package: dbt output of someone running dbt inside a package, editor litter.
IGNORED_NAMES = frozenset({"target", "logs", "dbt_packages", "__pycache__", ".git", ".DS_Store"})

RECORD_HEADER = (
    "# Written by dbt_retailrocket/scripts/install_packages.py; do not edit. The installer reads it to\n"
    "# decide whether the packages below are still current (--force, or deleting this file, reinstalls).\n"
)


class InstallError(RuntimeError):
    """The packages cannot be installed; the message says why and what to do."""


@dataclass(frozen=True)
class Project:
    """The dbt project whose packages are installed."""

    root: Path

    @property
    def packages_yml(self) -> Path:
        return self.root / "packages.yml"

    @property
    def offline_sources(self) -> Path:
        return self.root / "offline_packages"

    @property
    def install_dir(self) -> Path:
        """``packages-install-path`` of dbt_project.yml (default ``dbt_packages``)."""
        project_yml = self.root / "dbt_project.yml"
        text = project_yml.read_text(encoding="utf-8") if project_yml.is_file() else ""
        match = re.search(r"^packages-install-path:\s*[\"']?([^\"'#\s]+)", text, flags=re.MULTILINE)
        path = Path(match.group(1) if match else "dbt_packages")
        return path if path.is_absolute() else self.root / path

    @property
    def record_path(self) -> Path:
        return self.install_dir / RECORD_NAME


# -- fingerprints ----------------------------------------------------------------------------------
def _package_files(package_dir: Path) -> list[Path]:
    """Files of one package, sorted, without IGNORED_NAMES anywhere in their path."""
    files: list[Path] = []
    for current, dirs, names in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_NAMES)
        files.extend(Path(current) / n for n in sorted(names) if n not in IGNORED_NAMES)
    return files


def tree_digest(parent: Path, package_names: Iterable[str]) -> str:
    """sha256 over the relative paths and contents of ``parent/<name>`` for every package name.

    A missing package counts as its own marker, so a partial tree never matches a complete one.
    """
    digest = hashlib.sha256()
    for name in sorted(package_names):
        package_dir = parent / name
        if not package_dir.is_dir():
            digest.update(f"missing {name}\0".encode())
            continue
        for path in _package_files(package_dir):
            relative = path.relative_to(parent).as_posix()
            content = path.read_bytes()
            digest.update(f"{relative}\0{len(content)}\0".encode())
            digest.update(content)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


# -- INSTALLED.txt -------------------------------------------------------------------------------
def read_record(path: Path) -> dict[str, str]:
    """``key: value`` lines of INSTALLED.txt ({} when missing or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    record: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        record[key.strip()] = value.strip()
    return record


def write_record(path: Path, fields: dict[str, str]) -> None:
    lines = [RECORD_HEADER] + [f"{key}: {value}\n" for key, value in fields.items()]
    path.write_text("".join(lines), encoding="utf-8")


def record_is_current(project: Project, record: dict[str, str], accepted: Sequence[str]) -> bool:
    """True when the recorded install is of an accepted kind, intact, and made from current sources."""
    kind = record.get("installed")
    if kind not in accepted:
        return False
    package_dirs = record.get("package_dirs", "").split()
    if not package_dirs or tree_digest(project.install_dir, package_dirs) != record.get("content_sha256"):
        return False  # emptied by dbt deps, partially deleted, or edited in place
    if kind == FALLBACK:
        return tree_digest(project.offline_sources, FALLBACK_PACKAGES) == record.get("fallback_sha256")
    return file_digest(project.packages_yml) == record.get("packages_yml_sha256")


# -- the hub and dbt deps ------------------------------------------------------------------------
def hub_base_url(hub_url: str) -> str | None:
    """The hub root for DBT_PACKAGE_HUB_URL when ``hub_url`` is a hub's ``api/v1/index.json``."""
    return hub_url[: -len(HUB_INDEX_PATH)] if hub_url.endswith(HUB_INDEX_PATH) else None


def probe_hub(url: str, timeout: float) -> str | None:
    """None when ``url`` answers with a JSON package index, else why not."""
    request = urllib.request.Request(url, headers={"User-Agent": "retailrocket-kpi install_packages"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except (TimeoutError, OSError) as exc:
        return str(exc) or type(exc).__name__
    try:
        index = json.loads(body)
    except ValueError:
        return "the answer is not a JSON package index"
    return None if isinstance(index, list) else "the answer is not a JSON package index"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOG_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(?:\.\d+)?\s+")


def last_error_line(output: str) -> str:
    """The line of dbt output that says what went wrong, without colours and log times.

    dbt's handled errors print "Encountered an error:", a heading such as "Runtime Error", then
    the message; a crash ends with a traceback whose last line is "<Exception>: <message>".
    """
    lines = [_LOG_TIME.sub("", _ANSI.sub("", line)).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "no output"
    found = None
    for index, line in enumerate(lines):
        if line.endswith("Encountered an error:"):
            found = next((m for m in lines[index + 1 :] if not re.fullmatch(r"[A-Za-z ]*Error", m)), None)
    if found is None and any(line.startswith("Traceback (most recent call last)") for line in lines):
        found = lines[-1]
    if found is None:
        found = ([line for line in lines if "error" in line.lower()] or lines)[-1]
    return found[:300]


def run_dbt_deps(project: Project, hub_url: str, timeout: float) -> str | None:
    """Run ``dbt deps`` in the project; None on success, else the reason it failed."""
    dbt = Path(sys.executable).parent / ("dbt.exe" if os.name == "nt" else "dbt")
    if not dbt.is_file():
        return f"no dbt executable next to {sys.executable}"
    env = dict(os.environ)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    env["DBT_USE_COLORS"] = "False"
    base = hub_base_url(hub_url)
    if base:
        env["DBT_PACKAGE_HUB_URL"] = base
    try:
        done = subprocess.run(
            [str(dbt), "deps", "--project-dir", str(project.root)],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    except OSError as exc:
        return f"could not start {dbt}: {exc}"
    if done.returncode != 0:
        return f"exit code {done.returncode}: {last_error_line(done.stdout + done.stderr)}"
    missing = [name for name in FALLBACK_PACKAGES if not (project.install_dir / name).is_dir()]
    if missing:
        return f"it succeeded but {project.install_dir.name}/ lacks {', '.join(missing)}"
    return None


def installed_real_versions(project: Project) -> str:
    """'owner/name version' of every package dbt deps resolved (package-lock.yml, else packages.yml)."""
    for source in (project.root / "package-lock.yml", project.packages_yml):
        if not source.is_file():
            continue
        found: list[str] = []
        # entries are "- key: value" blocks; only registry packages have both keys
        for block in re.split(r"^\s*-\s+", source.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]:
            fields = dict(
                re.findall(r"^\s*(package|version):\s*[\"']?([^\s\"'#]+)", block, flags=re.MULTILINE)
            )
            if {"package", "version"} <= fields.keys():
                found.append(f"{fields['package']} {fields['version']}")
        if found:
            return ", ".join(found)
    return "versions unknown"


# -- installs ------------------------------------------------------------------------------------
def package_version(package_dir: Path) -> str:
    project_yml = package_dir / "dbt_project.yml"
    text = project_yml.read_text(encoding="utf-8") if project_yml.is_file() else ""
    match = re.search(r"^version:\s*[\"']?([^\"'\s#]+)", text, flags=re.MULTILINE)
    return match.group(1) if match else "unknown version"


def install_fallback(project: Project, reason: str) -> str:
    """Replace the install directory by a copy of the offline fallback packages; returns the summary."""
    sources = project.offline_sources
    missing = [name for name in FALLBACK_PACKAGES if not (sources / name / "dbt_project.yml").is_file()]
    if missing:
        raise InstallError(
            f"{sources}: the offline fallback package(s) {', '.join(missing)} are missing; "
            "restore dbt_retailrocket/offline_packages/ from git"
        )
    target = project.install_dir
    staging = target.with_name(f".{target.name}.installing-{os.getpid()}")
    retired = target.with_name(f".{target.name}.replaced-{os.getpid()}")
    for leftover in (staging, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for name in FALLBACK_PACKAGES:
            shutil.copytree(sources / name, staging / name, ignore=shutil.ignore_patterns(*IGNORED_NAMES))
        versions = ", ".join(f"{name} {package_version(sources / name)}" for name in FALLBACK_PACKAGES)
        summary = f"dbt packages: OFFLINE FALLBACK installed ({versions}) because {reason}"
        digest = tree_digest(staging, FALLBACK_PACKAGES)
        write_record(
            staging / RECORD_NAME,
            {
                "summary": summary,
                "installed": FALLBACK,
                "packages": versions,
                "reason": reason,
                "installed_at": _now(),
                "package_dirs": " ".join(FALLBACK_PACKAGES),
                "content_sha256": digest,
                "fallback_sha256": tree_digest(sources, FALLBACK_PACKAGES),
            },
        )
        if target.exists() or target.is_symlink():
            target.rename(retired)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
    return summary


def record_real_install(project: Project, hub_url: str) -> str:
    """Write INSTALLED.txt for the packages dbt deps just installed; returns the summary."""
    target = project.install_dir
    package_dirs = sorted(p.name for p in target.iterdir() if p.is_dir() and not p.name.startswith("."))
    versions = installed_real_versions(project)
    summary = f"dbt packages: REAL packages installed by dbt deps ({versions}) from {hub_url}"
    write_record(
        project.record_path,
        {
            "summary": summary,
            "installed": REAL,
            "packages": versions,
            "reason": f"the package hub {hub_url} answered and dbt deps succeeded",
            "installed_at": _now(),
            "package_dirs": " ".join(package_dirs),
            "content_sha256": tree_digest(target, package_dirs),
            "packages_yml_sha256": file_digest(project.packages_yml),
        },
    )
    return summary


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- command line --------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    default_hub = os.environ.get("DBT_PACKAGE_HUB_URL", DEFAULT_HUB_BASE).rstrip("/") + "/" + HUB_INDEX_PATH
    parser = argparse.ArgumentParser(
        description="Install the dbt packages: real ones through dbt deps when the dbt package hub "
        "answers, else the offline fallback from offline_packages/.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--offline", action="store_true", help="install the offline fallback without asking the hub"
    )
    mode.add_argument(
        "--online",
        action="store_true",
        help="run dbt deps without asking the hub first; fail instead of falling back",
    )
    parser.add_argument(
        "--force", action="store_true", help="reinstall even when INSTALLED.txt says all is current"
    )
    parser.add_argument(
        "--hub-url",
        default=default_hub,
        help=f"package index that must answer for dbt deps to be tried (default {default_hub}); "
        f"a URL ending in {HUB_INDEX_PATH} also points dbt deps at that hub",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the hub (default 5)")
    parser.add_argument(
        "--deps-timeout", type=float, default=600.0, help="seconds dbt deps may take (default 600)"
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="the dbt project (default: the folder above this script, dbt_retailrocket/)",
    )
    return parser.parse_args(argv)


def install(args: argparse.Namespace) -> str:
    """Do what the arguments ask; returns the one-line summary. Raises InstallError."""
    project = Project(args.project_dir.resolve())
    if not (project.root / "dbt_project.yml").is_file():
        raise InstallError(
            f"{project.root}: no dbt_project.yml here; pass the dbt project with --project-dir"
        )
    accepted = (FALLBACK,) if args.offline else (REAL,) if args.online else (FALLBACK, REAL)
    record = read_record(project.record_path)
    if not args.force and record_is_current(project, record, accepted):
        return (
            f"{record.get('summary')} [up to date since {record.get('installed_at')}: nothing to do; "
            "--force reinstalls]"
        )

    if args.offline:
        return install_fallback(project, "--offline was given")
    if not args.online:
        unreachable = probe_hub(args.hub_url, args.timeout)
        if unreachable:
            return install_fallback(project, f"the package hub {args.hub_url} did not answer ({unreachable})")
    failure = run_dbt_deps(project, args.hub_url, args.deps_timeout)
    if failure is None:
        return record_real_install(project, args.hub_url)
    if args.online:
        project.record_path.unlink(missing_ok=True)  # whatever dbt deps left is not a known install
        raise InstallError(
            f"dbt deps failed ({failure}); run without --online to install the offline fallback"
        )
    return install_fallback(project, f"dbt deps failed ({failure})")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        print(install(args), flush=True)
    except InstallError as exc:
        print(f"install_packages: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"install_packages: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
