"""The manifest of a report set: the sha256 of every file the export wrote for one date.

Why: the summary lists its CSVs' checksums, but nothing covered the HTML page, the summary
itself or an older CSV, so a file edited after the export went unnoticed. The manifest
``rr_report_files_<D>.sha256`` sits beside the report set of D and carries the sha256 of all its
files, HTML and summary included; :func:`verify_folder` (``make check``) names any file that was
edited, removed or added after the export.

Format: GNU ``sha256sum`` text mode, so ``sha256sum -c rr_report_files_<D>.sha256`` run inside
the folder checks it too. UTF-8, LF line endings, first ``# `` comment lines saying what the
file is (``sha256sum`` skips lines starting with ``#``, also under ``--strict``), then one line
per file, sorted by name::

    # retailrocket-kpi report files of 2015-09-17: `sha256sum -c rr_report_files_2015-09-17.sha256` in this folder checks them
    # format: <sha256 hex>  <file name> (GNU sha256sum text mode), one line per file
    0c5e...  rr_cohort_weekly_2015-09-17.csv

File names are plain names in the folder: no ``/`` or ``\\``, no control character (newline
included), not ``.`` or ``..``; a manifest naming anything else is refused, so verifying never
reads a file outside the folder (nor a symbolic link).

Dates in file names: :func:`report_dates` raises :class:`ManifestError` naming every file that is
named like a report file (or manifest) but whose date part is not a real ``YYYY-MM-DD`` date
(``rr_report_2015-02-30.html``): the export never writes such a name, so a person has to look
at the folder before it can be checked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from seeds_loader.processes import alive
from seeds_loader.rules import DateError, parse_date

_LINE_RE = re.compile(r"([0-9a-fA-F]{64})  (.+)")


class ManifestError(ValueError):
    """A manifest (or a report file name) that cannot be read as one; one line, naming the file."""


def report_names(target_date: dt.date) -> dict[str, str]:
    """The files of the report set of a date (the manifest lists them)."""
    d = target_date.isoformat()
    return {
        "funnel": f"rr_funnel_daily_{d}.csv",
        "cohort": f"rr_cohort_weekly_{d}.csv",
        "crm": f"rr_crm_targets_{d}.csv",
        "html": f"rr_report_{d}.html",
        "summary": f"rr_pipeline_summary_{d}.txt",
    }


def manifest_name(d: dt.date) -> str:
    return f"rr_report_files_{d.isoformat()}.sha256"


def _name_problem(name: str) -> str | None:
    """Why ``name`` is not a plain file name in the folder, or None."""
    if name in ("", ".", ".."):
        return f"{name!r} is not a file name"
    if "/" in name or "\\" in name:
        return f"{name!r} has a path separator"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return f"{name!r} has a control character"
    return None


def render_manifest(files: Mapping[str, bytes], *, report_date: dt.date | None = None) -> bytes:
    """The manifest of ``files`` (file name -> contents); ``report_date`` goes into the comment."""
    if not files:
        raise ValueError("a manifest lists at least one file (sha256sum -c fails on none)")
    for name in files:
        if problem := _name_problem(name):
            raise ValueError(f"cannot list {problem}: only plain file names of the report folder")
    if report_date is None:
        what = "# retailrocket-kpi report files: `sha256sum -c <this file>` in this folder checks them"
    else:
        what = (
            f"# retailrocket-kpi report files of {report_date.isoformat()}: "
            f"`sha256sum -c {manifest_name(report_date)}` in this folder checks them"
        )
    lines = [what, "# format: <sha256 hex>  <file name> (GNU sha256sum text mode), one line per file"]
    lines += [f"{hashlib.sha256(files[name]).hexdigest()}  {name}" for name in sorted(files)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def parse_manifest(data: bytes, source: str) -> dict[str, str]:
    """File name -> lowercase sha256 hex; :class:`ManifestError` on any malformed line."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    entries: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        where = f"{source} line {number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ManifestError(f"{where}: not UTF-8") from None
        if line.startswith("#"):
            continue
        match = _LINE_RE.fullmatch(line)
        if match is None:
            raise ManifestError(f"{where}: expected '<64 hex digits>  <file name>'")
        digest, name = match.group(1).lower(), match.group(2)
        if problem := _name_problem(name):
            raise ManifestError(f"{where}: {problem}, not a plain file name of the folder")
        if name in entries:
            raise ManifestError(f"{where}: {name} is listed twice")
        entries[name] = digest
    if not entries:
        raise ManifestError(f"{source}: lists no files")
    return entries


@dataclass(frozen=True)
class Mismatch:
    name: str
    expected: str
    actual: str


@dataclass(frozen=True)
class ReportSetCheck:
    """What :func:`verify_report_set` found for the report set of ``date``; one entry a problem."""

    date: dt.date
    manifest: Path
    manifest_missing: bool = False
    manifest_error: str | None = None  # malformed or unreadable manifest: the one-line reason
    differ: tuple[Mismatch, ...] = ()
    missing: tuple[str, ...] = ()  # listed, not in the folder
    unreadable: tuple[tuple[str, str], ...] = ()  # listed, present, cannot be read: (name, why)
    unlisted: tuple[str, ...] = ()  # report files of the date present but not listed

    @property
    def ok(self) -> bool:
        return not self.problems()

    def problems(self) -> list[str]:
        m = self.manifest.name
        out: list[str] = []
        if self.manifest_missing:
            out += [
                f"{name} has no manifest ({m} is missing): it was not written by this version's "
                "export, or the manifest was removed"
                for name in self.unlisted
            ]
            if not self.unlisted:
                out.append(f"{m} is missing, and so is every report file of {self.date.isoformat()}")
            return out
        if self.manifest_error is not None:
            return [self.manifest_error]
        out += [
            f"{x.name} differs from its manifest (sha256 {x.actual} expected {x.expected})"
            for x in self.differ
        ]
        out += [f"{name} is listed in {m} but missing" for name in self.missing]
        out += [f"{name} is listed in {m} but cannot be read: {why}" for name, why in self.unreadable]
        out += [
            f"{name} is a report file of {self.date.isoformat()} but {m} does not list it"
            for name in self.unlisted
        ]
        return out


def verify_report_set(folder: Path, d: dt.date) -> ReportSetCheck:
    """Check the files of D in ``folder`` against D's manifest."""
    folder = Path(folder)
    manifest = folder / manifest_name(d)
    present = sorted(n for n in report_names(d).values() if (folder / n).exists())
    if not manifest.exists():
        return ReportSetCheck(d, manifest, manifest_missing=True, unlisted=tuple(present))
    try:
        entries = parse_manifest(manifest.read_bytes(), manifest.name)
    except ManifestError as error:
        return ReportSetCheck(d, manifest, manifest_error=str(error))
    except OSError as error:
        return ReportSetCheck(d, manifest, manifest_error=f"{manifest.name} cannot be read: {error}")
    differ, missing, unreadable = [], [], []
    for name, expected in sorted(entries.items()):
        path = folder / name
        if path.is_symlink():
            unreadable.append((name, "it is a symbolic link"))
            continue
        try:
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            missing.append(name)
            continue
        except OSError as error:
            unreadable.append((name, error.strerror or str(error)))
            continue
        if actual != expected:
            differ.append(Mismatch(name, expected, actual))
    return ReportSetCheck(
        d,
        manifest,
        differ=tuple(differ),
        missing=tuple(missing),
        unreadable=tuple(unreadable),
        unlisted=tuple(n for n in present if n not in entries),
    )


def _name_patterns() -> list[re.Pattern[str]]:
    """``prefix(.+)suffix`` of every report file name and of the manifest's, from their one
    definition (:func:`exports.report.report_names`, :func:`manifest_name`)."""
    sample = dt.date(2000, 1, 1)
    names = [*report_names(sample).values(), manifest_name(sample)]
    patterns = []
    for name in names:
        prefix, suffix = name.split(sample.isoformat())
        patterns.append(re.compile(re.escape(prefix) + r"(.+)" + re.escape(suffix)))
    return patterns


def report_dates(folder: Path) -> list[dt.date]:
    """Every date with a report file or a manifest in ``folder``, sorted.

    Anything not named like one is ignored (temporary files ``.rr_*.tmp-*`` included). A name like
    one whose date part is not a real ``YYYY-MM-DD`` date raises :class:`ManifestError` naming
    every such file."""
    dates: set[dt.date] = set()
    bad: list[str] = []
    patterns = _name_patterns()
    for path in sorted(Path(folder).iterdir()):
        for pattern in patterns:
            match = pattern.fullmatch(path.name)
            if match is None:
                continue
            try:
                dates.add(parse_date(match.group(1), f"the date in {path.name}"))
            except DateError as error:
                bad.append(str(error))
            break
    if bad:
        raise ManifestError(f"{folder}: not a report file name: " + "; ".join(bad))
    return sorted(dates)


def verify_folder(folder: Path) -> list[ReportSetCheck]:
    """:func:`verify_report_set` for every date of :func:`report_dates`."""
    return [verify_report_set(folder, d) for d in report_dates(folder)]


# -----------------------------------------------------------------------------------------------
# temporary files of exports: written under a hidden name, renamed when the whole set is written
# -----------------------------------------------------------------------------------------------
_TEMP_RE = re.compile(r"\.(.+)\.tmp-(?:([A-Za-z0-9.-]+)-)?([0-9]+)")


def _this_host() -> str:
    """This machine's name as it may appear in a file name (containers of one stack differ)."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"


def temp_name(name: str) -> str:
    """The hidden name an export writes ``name`` under until its set is complete: it carries the
    host and the process, so a later export can tell the leftovers of a killed one."""
    return f".{name}.tmp-{_this_host()}-{os.getpid()}"


@dataclass(frozen=True)
class TempFile:
    path: Path
    host: str  # "" for the names of earlier versions (no host part: this machine's)
    pid: int

    @property
    def here(self) -> bool:
        return self.host in ("", _this_host())

    @property
    def abandoned(self) -> bool:
        """Left by a process of this machine that has ended (killed during an export)."""
        return self.here and not alive(self.pid)

    def describe(self) -> str:
        """``name (pid N, ended)``, ``(pid N, an export under way)`` or ``(pid N on HOST, another machine)``."""
        where = f"pid {self.pid}" + ("" if self.here else f" on {self.host}")
        state = "ended" if self.abandoned else ("an export under way" if self.here else "another machine")
        return f"{self.path.name} ({where}, {state})"


def temp_files(folder: Path) -> list[TempFile]:
    """The temporary files of exports in ``folder``: hidden names of a report file or manifest
    (nothing else in the folder is ever taken for one, nor removed)."""
    found = []
    patterns = _name_patterns()
    for path in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
        match = _TEMP_RE.fullmatch(path.name)
        if match and path.is_file() and any(p.fullmatch(match.group(1)) for p in patterns):
            found.append(TempFile(path, match.group(2) or "", int(match.group(3))))
    return found


def sweep_abandoned(folder: Path) -> list[TempFile]:
    """Remove the temporary files that exports killed on this machine left behind (a process that
    has ended renames nothing more); those of a live process or of another machine stay. Returns
    what was removed, for the caller to report."""
    removed = []
    for temp in temp_files(folder):
        if temp.abandoned:
            temp.path.unlink(missing_ok=True)
            removed.append(temp)
    return removed
