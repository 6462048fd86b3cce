"""The four Kaggle files: their exact layout, the raw tables they feed, and how a load opens them.

A load opens each file once (:func:`open_raw_files`) and does everything through that one open
handle: the format check, the checksum, and the warehouse load itself (DuckDB reads
``/dev/fd/<n>``, PostgreSQL's COPY is fed from the handle). A file renamed into the folder
while a load runs (the way the generator and most delivery tools write) is therefore never
loaded unchecked, and the load log holds the checksum of the bytes that were loaded. A file
rewritten in place while it is loaded is detected (:meth:`RawSource.assert_unchanged`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

SCHEMA = "raw"
LOG_TABLE = "raw_rr_load_log"
READ_SIZE = 1 << 20  # bytes per read and per COPY chunk
MAX_LINE = 1 << 20  # longest accepted line (or quoted record), line ending included


# ---------------------------------------------------------------------------------------------
# the files and tables
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RawFile:
    """One Kaggle file: its exact header, the table it feeds and the column rules."""

    name: str
    table: str
    columns: tuple[str, ...]
    integer: frozenset[str]
    not_null: frozenset[str]

    @property
    def header(self) -> str:
        return ",".join(self.columns)


@dataclass(frozen=True)
class RawTable:
    """One table of schema ``raw``; ``by_timestamp``: stored ordered (DuckDB) / indexed (PostgreSQL).

    ``dated``: the Asia/Seoul date of its ``"timestamp"`` tells which dates a change affects
    (per-date fingerprints); a change of an undated table (the category tree) affects every date.
    """

    name: str
    ddl_columns: str
    files: tuple[str, ...]
    by_timestamp: bool

    @property
    def columns(self) -> tuple[str, ...]:
        return FILES[self.files[0]].columns

    @property
    def index_name(self) -> str:
        return f"{self.name}_timestamp_idx"

    @property
    def dated(self) -> bool:
        return "timestamp" in self.columns


def _raw_file(name: str, table: str, columns: str, integer: str, not_null: str) -> RawFile:
    return RawFile(
        name, table, tuple(columns.split(",")), frozenset(integer.split(",")), frozenset(not_null.split(","))
    )


FILES: dict[str, RawFile] = {
    f.name: f
    for f in (
        _raw_file(
            "events.csv",
            "raw_rr_events",
            "timestamp,visitorid,event,itemid,transactionid",
            integer="timestamp,visitorid,itemid,transactionid",
            not_null="timestamp,visitorid,event,itemid",
        ),
        _raw_file(
            "category_tree.csv",
            "raw_rr_category_tree",
            "categoryid,parentid",
            integer="categoryid,parentid",
            not_null="categoryid",
        ),
        *(
            _raw_file(
                f"item_properties_part{part}.csv",
                "raw_rr_item_properties",
                "timestamp,itemid,property,value",
                integer="timestamp,itemid",
                not_null="timestamp,itemid,property",
            )
            for part in (1, 2)
        ),
    )
}
FILE_NAMES = tuple(FILES)

TABLES: dict[str, RawTable] = {
    t.name: t
    for t in (
        RawTable(
            "raw_rr_events",
            '"timestamp" bigint not null, visitorid bigint not null, event text not null, '
            "itemid bigint not null, transactionid bigint",
            ("events.csv",),
            by_timestamp=True,
        ),
        RawTable(
            "raw_rr_category_tree",
            "categoryid bigint not null, parentid bigint",
            ("category_tree.csv",),
            by_timestamp=False,
        ),
        RawTable(
            "raw_rr_item_properties",
            '"timestamp" bigint not null, itemid bigint not null, property text not null, value text',
            ("item_properties_part1.csv", "item_properties_part2.csv"),
            by_timestamp=True,
        ),
    )
}


def qualified(table: str) -> str:
    return f"{SCHEMA}.{table}"


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
class LoadError(ValueError):
    """A raw file cannot be loaded. ``line`` is the 1-based physical line (header = 1) or None."""

    def __init__(self, file: str, line: int | None, reason: str):
        self.file = file
        self.line = line
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        return f"{where}: {self.reason}"

    def __reduce__(self):  # keep the three attributes through pickling (multiprocessing, Airflow)
        return (type(self), (self.file, self.line, self.reason))


# ---------------------------------------------------------------------------------------------
# one open handle per file
# ---------------------------------------------------------------------------------------------
@dataclass
class RawSource:
    """One raw file, opened once; every reader of the load goes through this handle."""

    name: str
    path: Path
    fd: int
    size: int
    mtime_ns: int
    _closed: bool = field(default=False, repr=False)

    @property
    def reader_path(self) -> str:
        """A path naming this open file (not the folder entry): what DuckDB's reader opens."""
        return f"/dev/fd/{self.fd}"

    @contextlib.contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """A binary reader from the first byte (a duplicate of the handle, closed afterwards)."""
        f = os.fdopen(os.dup(self.fd), "rb", closefd=True)
        try:
            f.seek(0)
            yield f
        finally:
            f.close()

    def blocks(self, size: int = READ_SIZE) -> Iterator[bytes]:
        with self.open() as f:
            while block := f.read(size):
                yield block

    def assert_unchanged(self) -> None:
        """Raise :class:`LoadError` when the file was rewritten in place since it was opened."""
        now = os.fstat(self.fd)
        if (now.st_size, now.st_mtime_ns) != (self.size, self.mtime_ns):
            raise LoadError(
                self.name,
                None,
                f"the file changed while it was being loaded ({self.size:,} -> {now.st_size:,} bytes); "
                "write new deliveries under another name and rename them into place",
            )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.fd)

    def __del__(self) -> None:  # a source opened for a check on its own (check_file(spec, path))
        with contextlib.suppress(Exception):
            self.close()


def _open_error(name: str, path: Path, exc: OSError) -> LoadError:
    if exc.errno == errno.ENOENT:
        if path.is_symlink():
            return LoadError(name, None, f"{path} is a symbolic link to a missing file ({os.readlink(path)})")
        return LoadError(name, None, f"not found: {path} does not exist")
    if exc.errno == errno.ELOOP:
        return LoadError(name, None, f"{path} is a symbolic link loop, not a file")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return LoadError(name, None, f"{path} cannot be read: permission denied")
    if exc.errno == errno.EISDIR:
        return LoadError(name, None, f"{path} is a directory, not a regular file")
    return LoadError(name, None, f"{path} cannot be opened: {exc.strerror or exc}")


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def open_source(name: str, path: Path) -> RawSource:
    """Open ``path`` for reading as the raw file ``name``; only a regular file is accepted."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _open_error(name, path, exc) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = next((label for test, label in _KINDS if test(info.st_mode)), "not a regular file")
        raise LoadError(name, None, f"{path} is {kind}, not a regular file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return RawSource(name, path, fd, info.st_size, info.st_mtime_ns)


@contextlib.contextmanager
def open_raw_files(data_dir: Path) -> Iterator[dict[str, RawSource]]:
    """The four files of ``data_dir``, each opened once; every problem named in one line."""
    if not data_dir.exists():
        raise LoadError(
            FILE_NAMES[0],
            None,
            f"not found: folder {data_dir} does not exist (it must hold {', '.join(FILE_NAMES)})",
        )
    if not data_dir.is_dir():
        raise LoadError(
            FILE_NAMES[0], None, f"{data_dir} is not a folder (it must hold {', '.join(FILE_NAMES)})"
        )
    missing = [n for n in FILE_NAMES if not os.path.lexists(data_dir / n)]
    if missing:
        raise LoadError(
            missing[0],
            None,
            f"not found in {data_dir} (missing: {', '.join(missing)}; the folder must hold {', '.join(FILE_NAMES)})",
        )
    sources: dict[str, RawSource] = {}
    try:
        for name in FILE_NAMES:
            sources[name] = open_source(name, data_dir / name)
        yield sources
    finally:
        for source in sources.values():
            source.close()
