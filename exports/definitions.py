"""The definitions lock: what makes every reported number, pinned like a dependency lock.

``make lock-definitions REASON="..."`` (``python -m exports.definitions lock --reason ...``) writes
``dbt_retailrocket/models/qa/_qa__definitions_lock.yml``; ``python -m exports.definitions check``
exits 1 naming what differs when the lock is stale (a test runs it, so a definition changes only
on purpose, in a reviewed commit).

The definitions themselves are computed by the dbt project (macro ``rr_definitions_current``,
docs block ``rr_definitions``): each model, test and source in the lineage of the reports, the
project's macros they can call, every var but the run's own, the texts the reports show (column
descriptions, metrics), and dbt's version, each with an md5 fingerprint of its text. The whole is
named by the sha256 of the sorted listing of those fingerprints: every dbt invocation computes it
again (its on-run-start) and certifies nothing when it is not the lock's. This module only asks
dbt for them (``dbt run-operation rr_print_definitions``) and keeps the book: a version number
per entry and per whole, and one line of reason per version. A change reverted gives the same
sha256, and gets its old version number back.

The lock also pins what dbt cannot see from inside: the versions of dbt-core, the adapters and
the dbt packages (the same dbt_utils comes from the hub or from the offline fallback, with other
texts); :func:`version_problems` compares them with what is installed (the export refuses on a
difference).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from seeds_loader.settings import project_root

LOCK_MODEL = "rr_definitions_lock"
DBT_DIR = project_root() / "dbt_retailrocket"
LOCK_PATH = DBT_DIR / "models" / "qa" / "_qa__definitions_lock.yml"
# the Python packages and dbt packages whose versions the lock pins (an adapter that is not
# installed is not compared: a machine without the spark extra can still check DuckDB)
PYTHON_PACKAGES = ("dbt-core", "dbt-duckdb", "dbt-postgres", "dbt-spark")
DBT_PACKAGES = ("dbt_utils", "dbt_expectations")
ADAPTER_PACKAGE = {"duckdb": "dbt-duckdb", "postgres": "dbt-postgres", "spark": "dbt-spark"}
# the offline fallback of a dbt package carries its upstream version with this suffix
FALLBACK_SUFFIX = re.compile(r"\+retailrocket\.offline\.fallback$")

HEADER = """\
# The definitions lock: what makes every reported number (docs block rr_definitions).
#
# Written by `make lock-definitions REASON="..."`; never edit it by hand. A dbt run whose
# definitions differ from this lock certifies nothing, and names what differs; a test fails when
# the lock is stale. Each entry (a model, test, source or macro's SQL, a var's value, a column's
# or metric's definition, dbt's version) has a version and one line of reason per version; the
# whole is named by definitions_sha256 (the sha256 of the sorted `kind|name|md5` lines), which
# every report of a date certified under it carries.
"""


class DefinitionsError(RuntimeError):
    """The definitions cannot be read or locked."""


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
def read_lock(path: Path = LOCK_PATH) -> dict[str, Any] | None:
    """The lock (the meta ``rr_lock`` of model rr_definitions_lock), or None when there is none."""
    if not path.exists():
        return None
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for model in content.get("models") or []:
        if model.get("name") == LOCK_MODEL:
            lock = ((model.get("config") or {}).get("meta") or {}).get("rr_lock")
            if isinstance(lock, dict):
                return lock
    raise DefinitionsError(f"{path}: no meta rr_lock on model {LOCK_MODEL}")


def sha256_of(listing: str) -> str:
    """The definitions' name: the sha256 of their listing's UTF-8 bytes (SQL gives the same:
    macro rr_sha256_sql)."""
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def project_var_names(dbt_dir: Path = DBT_DIR) -> list[str]:
    """Every var of dbt_project.yml (the project's macro rr_run_vars leaves out the run's own)."""
    with open(dbt_dir / "dbt_project.yml", encoding="utf-8") as fh:
        return sorted((yaml.safe_load(fh).get("vars") or {}).keys())


def current_definitions(dbt_dir: Path = DBT_DIR, dbt: Path | None = None) -> dict[str, Any]:
    """The definitions of the project as it is now: ``{listing, entries, rules}`` from ``dbt
    run-operation rr_print_definitions``, run on a throw-away DuckDB file with its own target
    folder (no warehouse is read: the definitions are the project's files and the installed
    dbt)."""
    dbt = dbt or Path(sys.executable).parent / "dbt"
    target = dbt_dir / "target" / "definitions"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "RR_TARGET": "duckdb",
            "RR_DUCKDB_PATH": str(Path(tmp) / "definitions.duckdb"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        }
        env.pop("DBT_PROFILES_DIR", None)
        args = json.dumps({"var_names": project_var_names(dbt_dir)})
        command = [
            str(dbt), "run-operation", "rr_print_definitions", "--args", args, "--project-dir", str(dbt_dir),
            "--profiles-dir", str(dbt_dir), "--target-path", str(target), "--log-path", str(target / "logs"),
        ]  # fmt: skip
        proc = subprocess.run(command, env=env, cwd=dbt_dir, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RR_DEFINITIONS "):
            return json.loads(line.removeprefix("RR_DEFINITIONS "))
    tail = " ".join((proc.stdout + proc.stderr).split()[-60:])
    raise DefinitionsError(
        f"dbt run-operation rr_print_definitions printed no definitions (exit {proc.returncode}): {tail}"
    )


def installed_versions(dbt_dir: Path = DBT_DIR) -> dict[str, str]:
    """The installed versions the lock pins: dbt-core and the adapters (Python packages), and the
    dbt packages (their dbt_project.yml; the offline fallback's suffix removed)."""
    found: dict[str, str] = {}
    for name in PYTHON_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    for name in DBT_PACKAGES:
        project = dbt_dir / "dbt_packages" / name / "dbt_project.yml"
        if project.exists():
            version = str((yaml.safe_load(project.read_text(encoding="utf-8")) or {}).get("version", ""))
            found[name] = FALLBACK_SUFFIX.sub("", version)
    return found


def version_problems(
    lock: Mapping[str, Any], target: str | None = None, dbt_dir: Path = DBT_DIR
) -> list[str]:
    """What is installed but not as the lock pins it: ``dbt-duckdb 1.11.2 is installed, the lock
    says 1.11.1``. With ``target``, only dbt-core, that warehouse's adapter and the dbt packages."""
    locked = lock.get("versions") or {}
    installed = installed_versions(dbt_dir)
    names = sorted(locked)
    if target is not None:
        names = [n for n in names if n not in ADAPTER_PACKAGE.values() or n == ADAPTER_PACKAGE.get(target)]
    return [
        f"{name} {installed[name]} is installed, the lock says {locked[name]}"
        for name in names
        if name in installed and str(installed[name]) != str(locked[name])
    ]


# ---------------------------------------------------------------------------------------------
# the book: versions and reasons
# ---------------------------------------------------------------------------------------------
def differences(current: Mapping[str, Any], lock: Mapping[str, Any] | None) -> list[str]:
    """What differs between the definitions ``current`` and the ``lock``, one phrase each (the
    entries and the rules; the dbt project words a refusal the same way, rr_definitions_diff)."""
    if lock is None:
        return ["there is no lock yet"]
    out = []
    for key, value in sorted(current["rules"].items()):
        locked = (lock.get("rules") or {}).get(key)
        if locked != value:
            out.append(f"{key.replace('_', ' ')} {_text(locked)} → {_text(value)}")
    entries, locked_entries = current["entries"], lock.get("entries") or {}
    for key in sorted(set(entries) | set(locked_entries)):
        now, then = entries.get(key), locked_entries.get(key)
        if then is None:
            out.append(f"{key}: not in the lock")
        elif now is None:
            out.append(f"{key}: in the lock, missing here")
        elif now["md5"] != then.get("md5"):
            if now["kind"] in ("var", "dbt"):
                out.append(f"{key} {_text(then.get('value'))} → {_text(now.get('value'))}")
            elif now["kind"] in ("model", "test", "source", "macro"):
                out.append(f"{key}: SQL changed")
            else:
                out.append(f"{key}: text changed")
    if sha256_of(current["listing"]) != lock.get("definitions_sha256") and not out:
        out.append("the lock's definitions_sha256 does not match its entries")
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def new_lock(
    current: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    reason: str,
    versions: Mapping[str, str],
    today: dt.date | None = None,
) -> dict[str, Any]:
    """The lock of ``current``: unchanged entries keep their version; a changed one gets the
    version it had under the same fingerprint before (a revert), else the next; a new one
    version 1. The whole likewise: the sha256 it had before keeps its version number."""
    old = old or {}
    today = today or dt.datetime.now(dt.UTC).date()
    sha256 = sha256_of(current["listing"])
    history = list(old.get("history") or [])
    known = {item["sha256"]: int(item["version"]) for item in history}
    version = known.get(sha256, max((int(i["version"]) for i in history), default=0) + 1)
    if old.get("definitions_sha256") != sha256 or not history:
        history.append({"version": version, "sha256": sha256, "date": today.isoformat(), "reason": reason})
    entries: dict[str, Any] = {}
    old_entries = old.get("entries") or {}
    for key in sorted(current["entries"]):
        now = current["entries"][key]
        before = old_entries.get(key) or {}
        changes = list(before.get("history") or [])
        if before.get("md5") == now["md5"] and changes:
            entry_version = int(before["version"])
        else:
            seen = {item["md5"]: int(item["version"]) for item in changes}
            entry_version = seen.get(now["md5"], max((int(i["version"]) for i in changes), default=0) + 1)
            changes.append(
                {"version": entry_version, "md5": now["md5"], "definitions": version, "reason": reason}
            )
        entry: dict[str, Any] = {"version": entry_version, "md5": now["md5"]}
        if now["kind"] in ("var", "dbt"):
            entry["value"] = now.get("value")
        entry["history"] = changes
        entries[key] = entry
    return {
        "definitions_version": version,
        "definitions_sha256": sha256,
        "rules": dict(sorted(current["rules"].items())),
        "versions": dict(sorted(versions.items())),
        "history": history,
        "entries": entries,
    }


# the columns of model rr_definitions_lock (models/qa/rr_definitions_lock.sql), described here
# because this file is the model's properties file
LOCK_COLUMNS = (
    ("kind", "The entry's kind: model, test, source, macro, var, column, doc, metric or dbt."),
    ("name", "Its name."),
    ("entry_version", "Its version: 1, plus one for each locked change of its text."),
    ("md5", "The md5 of its text (rr_definitions_current)."),
    ("last_change", "The reason given for its current version."),
    ("definitions_version", "The lock's version of the whole (every row the same)."),
    (
        "definitions_sha256",
        "The lock's sha256 of the whole, which reports of dates certified under it carry.",
    ),
)


def render_lock(lock: Mapping[str, Any]) -> str:
    """The lock file: a dbt properties file (dbt parses it: the meta rr_lock of model
    rr_definitions_lock), one entry per line group, diffable."""
    document = {
        "version": 2,
        "models": [
            {
                "name": LOCK_MODEL,
                "description": (
                    "The committed definitions lock, one row per entry: its version, fingerprint and the "
                    "reason of its last change. {{ doc('rr_definitions') }}"
                ),
                "config": {"meta": {"rr_lock": dict(lock)}},
                "columns": [{"name": name, "description": text} for name, text in LOCK_COLUMNS],
            }
        ],
    }
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=250, default_flow_style=None)
    return HEADER + body


def write_lock(lock: Mapping[str, Any], path: Path = LOCK_PATH) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(render_lock(lock), encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exports.definitions", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    lock_cmd = sub.add_parser("lock", help="rewrite the lock from the project as it is now")
    lock_cmd.add_argument("--reason", default="", help="one line: why the definitions changed")
    sub.add_parser("check", help="exit 1, naming what differs, when the lock is stale")
    args = parser.parse_args(argv)
    try:
        current = current_definitions()
        lock = read_lock()
        versions = installed_versions()
        changed = differences(current, lock)
        version_changes = [] if lock is None else version_problems(lock)
        if args.command == "check":
            if changed or version_changes:
                print(
                    f"the definitions lock {LOCK_PATH.relative_to(project_root())} is stale: "
                    + "; ".join(changed + version_changes)
                    + ' (make lock-definitions REASON="...")',
                    file=sys.stderr,
                )
                return 1
            print(
                f"definitions v{lock['definitions_version']} ({lock['definitions_sha256']}): the lock is current"
            )
            return 0
        if not changed and not version_changes:
            print(
                f"definitions v{lock['definitions_version']} ({lock['definitions_sha256']}): nothing to lock"
            )
            return 0
        reason = " ".join(args.reason.split())
        if not reason:
            raise DefinitionsError(
                'REASON is required: make lock-definitions REASON="why the definitions changed"'
            )
        if len(reason) > 200:
            raise DefinitionsError(f"REASON must be one line of at most 200 characters; got {len(reason)}")
        updated = new_lock(current, lock, reason, versions)
        write_lock(updated)
    except (DefinitionsError, OSError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"definitions v{updated['definitions_version']} ({updated['definitions_sha256']}) locked in {LOCK_PATH}:"
    )
    for line in changed + version_changes:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
