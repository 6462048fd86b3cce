"""Load the four raw RetailRocket CSV files into schema ``raw`` of DuckDB or PostgreSQL.

``python -m seeds_loader load`` reads ``events.csv``, ``category_tree.csv`` and
``item_properties_part{1,2}.csv`` from ``RR_DATA_DIR`` and replaces the contents of

=============================  ==================================================================
table                          columns (source names kept)
=============================  ==================================================================
raw.raw_rr_events              "timestamp" bigint not null, visitorid bigint not null,
                               event text not null, itemid bigint not null, transactionid bigint
raw.raw_rr_category_tree       categoryid bigint not null, parentid bigint
raw.raw_rr_item_properties     "timestamp" bigint not null, itemid bigint not null,
                               property text not null, value text   (from both parts)
raw.raw_rr_load_log            one row per file loaded: file_name, table_name, sha256, bytes,
                               rows, loaded_at (UTC), seconds; history is never truncated
=============================  ==================================================================

All tables of one load are replaced in ONE transaction: any failure (a bad row, a missing file, an
interrupted copy) leaves every table exactly as it was. DuckDB reads the files with its own CSV
reader (``read_csv``, explicit options, no sniffing) and stores events and properties ordered by
``"timestamp"`` so that zone maps prune date ranges; PostgreSQL streams them through
``COPY ... FROM STDIN`` in 1 MiB chunks, then rebuilds the ``"timestamp"`` indexes and analyzes.

Format policy: the loader checks *format*, never business rules (an unknown event name, a
transaction without id, a timestamp in seconds, a negative id all load; the dbt quality gates
judge them). It accepts what is harmless and what the real download can contain, and rejects
what it cannot, with the same answer (file, physical line with the header as line 1, reason) on
both warehouses:

* accepted: a UTF-8 byte order mark (skipped and reported); CRLF line endings when every line
  uses them (reported); a last line without line ending; RFC 4180 quoting (``"a,b"``, ``""``
  for a quote, line breaks inside quotes); integers with a sign or surrounding blanks
  (PostgreSQL's bigint syntax); empty fields, which become NULL (a quoted ``""`` is an empty
  string, as in PostgreSQL).
* rejected: a missing file, a 0-byte or header-only file, a header other than the Kaggle one,
  UTF-16/UTF-32 (byte order mark or NUL bytes), invalid UTF-8, mixed or bare-CR line endings,
  blank lines, lines over 1 MiB, a wrong number of fields, an integer column holding anything
  but an optional sign and decimal digits (so no ``5.5``, ``1e3``, ``0x10``, ``1_000``, which
  DuckDB or PostgreSQL 16+ would otherwise read silently), a value outside bigint, an empty
  NOT NULL field, malformed quoting.

How: one streamed pass per file computes the sha256 and checks the bytes (encoding, line
endings, header, number of fields per line, line length) with C-speed bytes operations (about
500 MB/s). Files that contain a double quote also take an exact RFC 4180 pass in Python that
checks every row rule itself (about 90 MB/s; records with doubled quotes or line breaks inside
quotes are split one by one, far slower; the real files contain no quotes at all). Integer syntax and NOT NULL are then checked by the warehouse while it loads:
PostgreSQL's ``COPY`` reports ``line N`` in its error context, DuckDB's checks (SQL ``error()``
in the load query) name the file and column, and the loader turns either into the first bad
physical line and one wording shared by both warehouses.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from seeds_loader.settings import Settings
from seeds_loader.warehouse import Warehouse, WarehouseError, connect

SCHEMA = "raw"
LOG_TABLE = "raw_rr_load_log"
READ_SIZE = 1 << 20  # bytes per read and per COPY chunk
MAX_LINE = 1 << 20  # longest accepted line (or quoted record), line ending included
PG_MAINTENANCE_WORK_MEM = "256MB"  # for the index builds after COPY

_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
# PostgreSQL's bigint input syntax (the same in every version up to 15; 16 added 0x/0o/0b and
# digit underscores, which we keep rejecting so that both warehouses agree).
_BLANKS = " \t\n\v\f\r"
_INT_PATTERN = rf"[{re.escape(_BLANKS)}]*[+-]?[0-9]+[{re.escape(_BLANKS)}]*"
_INT_RE = re.compile(_INT_PATTERN)
_INT_SQL_PATTERN = r"[ \t\n\v\f\r]*[+-]?[0-9]+[ \t\n\v\f\r]*"  # the same, spelled for RE2 (DuckDB)
# Byte sequences that PostgreSQL >= 16 would accept inside an integer; lines holding one are
# checked in Python so that the answer does not depend on the server version.
_PG16_INT_MARKERS = (b"_", b"0x", b"0X", b"0o", b"0O", b"0b", b"0B")

_UTF8_BOM = b"\xef\xbb\xbf"
_FOREIGN_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)
_NOT_SEPARATORS = bytes(b for b in range(256) if b not in b",\n")
_BARE_LINE_ENDING = re.compile(rb"(?<!\r)\n|\r(?!\n)")
_DUCKDB_CHECK_TAG = "rr-load-check"
_DUCKDB_CHECK_RE = re.compile(re.escape(_DUCKDB_CHECK_TAG) + r"\|([^|]+)\|(.*?)\x1f")
_DUCKDB_CSV_LINE_RE = re.compile(r"CSV Error on Line: (\d+)")
_DUCKDB_CSV_FILE_RE = re.compile(r"^\s*file = (.+?)\s*$", re.MULTILINE)
_PG_CONTEXT_LINE_RE = re.compile(r"\bline (\d+)")


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
    """One table of schema ``raw``; ``by_timestamp``: stored ordered (DuckDB) / indexed (PostgreSQL)."""

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
LOG_DDL = (
    "file_name text not null, table_name text not null, sha256 text not null, bytes bigint not null, "
    "rows bigint not null, loaded_at timestamp not null, seconds double precision not null"
)


# ---------------------------------------------------------------------------------------------
# results and errors
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


@dataclass
class FileCheck:
    """What the streamed pass over one file found (the file is valid when this exists)."""

    name: str
    path: Path
    sha256: str
    bytes: int
    rows: int
    bom: bool
    crlf: bool
    quoted: bool
    seconds: float


@dataclass
class FileLoad:
    """One file of a load: loaded, or skipped because its sha256 equals the last load's.

    ``seconds``: the file's own check plus its load; steps shared by the two properties files
    (DuckDB's single ordered insert, PostgreSQL's index build and ANALYZE) are split by size.
    The same figure goes to ``raw.raw_rr_load_log.seconds``.
    """

    file_name: str
    table_name: str
    sha256: str
    bytes: int
    rows: int
    seconds: float
    skipped: bool
    bom: bool = False
    crlf: bool = False

    @property
    def notes(self) -> list[str]:
        notes = []
        if self.bom:
            notes.append("UTF-8 byte order mark skipped")
        if self.crlf:
            notes.append("CRLF line endings")
        return notes


@dataclass
class LoadReport:
    """The outcome of :func:`load`: one :class:`FileLoad` per file name, total wall-clock seconds."""

    target: str
    warehouse: str
    data_dir: Path
    files: dict[str, FileLoad]
    seconds: float

    @property
    def loaded(self) -> list[FileLoad]:
        return [f for f in self.files.values() if not f.skipped]

    @property
    def skipped(self) -> list[FileLoad]:
        return [f for f in self.files.values() if f.skipped]

    def table_rows(self) -> dict[str, int]:
        """Rows per reloaded table."""
        rows: dict[str, int] = {}
        for f in self.loaded:
            rows[f.table_name] = rows.get(f.table_name, 0) + f.rows
        return rows


@dataclass(frozen=True)
class LoadLogRow:
    """One row of ``raw.raw_rr_load_log``."""

    file_name: str
    table_name: str
    sha256: str
    bytes: int
    rows: int
    loaded_at: datetime
    seconds: float


# ---------------------------------------------------------------------------------------------
# row rules (shared by the Python passes and the translation of warehouse errors)
# ---------------------------------------------------------------------------------------------
def _row_problem(spec: RawFile, fields: Sequence[str | None]) -> str | None:
    """The first format problem of one record, in PostgreSQL's order (fields, integers, NOT NULL).

    ``fields`` holds None for an empty unquoted field (NULL) and the text otherwise.
    """
    n = len(spec.columns)
    if len(fields) != n:
        if len(fields) == 1 and fields[0] is None:
            return f"blank line (expected {n} fields)"
        return f"expected {n} fields, found {len(fields)}"
    for column, value in zip(spec.columns, fields, strict=True):
        if value is None or column not in spec.integer:
            continue
        if not _INT_RE.fullmatch(value):
            return f"{column} is not an integer: {value!r}"
        if not _BIGINT_MIN <= int(value) <= _BIGINT_MAX:
            return f"{column} is outside the bigint range: {value!r}"
    for column, value in zip(spec.columns, fields, strict=True):
        if value is None and column in spec.not_null:
            return f"{column} is empty (the column is NOT NULL)"
    return None


def _plain_fields(line: str) -> list[str | None]:
    return [v if v else None for v in line.split(",")]


@dataclass
class _Record:
    """One record, a malformed one (``problem``), or a run of ``count`` plainly valid one-line records."""

    start: int  # physical line where the record starts
    end: int  # physical line where it ends (differs only with line breaks inside quotes)
    fields: list[str | None] | None  # None for a malformed record or a run
    problem: str | None = None  # malformed quoting found while splitting
    count: int = 1


def _quoted_record_re(n: int) -> re.Pattern[str]:
    fld = r'(?:"((?:[^"]|"")*)"|([^",\r\n]*))'
    return re.compile(fld + ("," + fld) * (n - 1) + r"(\r\n|\n|\Z)")


def _byte_blocks(path: Path) -> Iterator[bytes]:
    """The file in blocks that end on a line feed (the last one may not), UTF-8 BOM removed."""
    with open(path, "rb") as f:
        carry = b""
        first = True
        while block := f.read(READ_SIZE):
            if first and block.startswith(_UTF8_BOM):
                block = block[len(_UTF8_BOM) :]
            first = False
            data = carry + block
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            if cut:
                yield data[:cut]
        if carry:
            yield carry


def _text_blocks(path: Path) -> Iterator[str]:
    """:func:`_byte_blocks` decoded (UTF-8 was validated by the byte pass)."""
    for block in _byte_blocks(path):
        yield block.decode("utf-8", errors="replace")


def _plain_line(path: Path, line_no: int) -> str | None:
    """Physical line ``line_no`` without its line ending, found by counting line feeds."""
    done = 0
    for block in _byte_blocks(path):
        breaks = block.count(b"\n")
        if done + breaks + (0 if block.endswith(b"\n") else 1) >= line_no:
            line = block.split(b"\n")[line_no - done - 1]
            return line.removesuffix(b"\r").decode("utf-8", errors="replace")
        done += breaks
    return None


def _canonical_lines_re(spec: RawFile) -> re.Pattern[bytes]:
    """One or more lines that surely pass :func:`_row_problem` (plain digits, no quotes)."""
    fields = []
    for column in spec.columns:
        # an integer of at most 18 digits always fits in a bigint
        value = rb"-?[0-9]{1,18}" if column in spec.integer else rb"[^,\r\n]+"
        fields.append(value if column in spec.not_null else b"(?:" + value + b")?")
    return re.compile(b"(?:" + b",".join(fields) + rb"\r?\n)+")


def _canonical_quoted_lines_re(spec: RawFile) -> re.Pattern[str]:
    """One or more one-line records that surely pass :func:`_row_problem`, fields quoted or not."""
    integer, text = r'-?[0-9]{1,18}|"-?[0-9]{1,18}"', r'[^,"\r\n]+|"[^"\r\n]+"'  # 18 digits fit a bigint
    fields = []
    for column in spec.columns:
        value = integer if column in spec.integer else text
        fields.append(f"(?:{value})" if column in spec.not_null else f"(?:{value})?")
    return re.compile("(?:" + ",".join(fields) + r"\r?\n)+")


def _iter_quoted_records(spec: RawFile, path: Path, *, runs: bool = False) -> Iterator[_Record]:
    """Exact RFC 4180 records (fields may hold commas, doubled quotes and line breaks).

    ``runs``: yield runs of plainly valid one-line records as one :class:`_Record` with ``count``
    (validated by one regex, about ten times faster than splitting each record).
    """
    record_re = _quoted_record_re(len(spec.columns))
    run_re = _canonical_quoted_lines_re(spec) if runs else None
    eol_group = 2 * len(spec.columns) + 1
    blocks = _text_blocks(path)
    buf = next(blocks, "")
    header_end = buf.find("\n")
    pos = len(buf) if header_end < 0 else header_end + 1
    eof = False
    line_no = 2
    while True:
        if pos >= len(buf) and not eof:
            buf, pos = buf[pos:] + next(blocks, ""), 0
            eof = pos >= len(buf)
            continue
        if pos >= len(buf):
            return
        run = run_re.match(buf, pos) if run_re is not None else None
        if run:
            count = buf.count("\n", pos, run.end())
            yield _Record(line_no, line_no + count - 1, None, count=count)
            line_no += count
            pos = run.end()
            continue
        m = record_re.match(buf, pos)
        complete = m is not None and (m.group(eol_group) != "" or eof)
        if not complete and not eof and len(buf) - pos <= MAX_LINE:
            more = next(blocks, "")
            eof = not more
            buf, pos = buf[pos:] + more, 0
            continue
        if m is None or not complete:
            yield _Record(line_no, line_no, None, _diagnose_quoting(spec, buf[pos : pos + MAX_LINE + 1]))
            return
        text = m.group(0)
        if len(text.encode("utf-8")) > MAX_LINE:
            yield _Record(line_no, line_no, None, f"record longer than {MAX_LINE:,} bytes")
            return
        values: list[str | None] = []
        for i in range(len(spec.columns)):
            quoted_value, plain_value = m.group(2 * i + 1), m.group(2 * i + 2)
            if quoted_value is not None:
                values.append(quoted_value.replace('""', '"'))
            else:
                values.append(plain_value or None)
        breaks = text.count("\n")
        end_line = line_no + breaks - (1 if text.endswith("\n") else 0)
        yield _Record(line_no, end_line, values)
        line_no += breaks
        pos = m.end()


def _diagnose_quoting(spec: RawFile, text: str) -> str:
    """Why a record does not parse as RFC 4180 (error path only)."""
    first_line = text.split("\n", 1)[0]
    if len(text.encode("utf-8")) > MAX_LINE and '"' not in first_line:
        return f"line longer than {MAX_LINE:,} bytes"
    try:
        fields = next(csv.reader(io.StringIO(text, newline=""), strict=True), [])
    except csv.Error as exc:
        return f"malformed quoting ({exc})"
    if len(fields) != len(spec.columns):
        return f"expected {len(spec.columns)} fields, found {len(fields)}"
    return "a double quote inside an unquoted field (quote the whole field and double the quote)"


def _first_bad_record(spec: RawFile, check: FileCheck) -> tuple[int, str] | None:
    """The first record that breaks a row rule, as (physical line, reason); error path only.

    Quote-free files skip runs of plainly valid lines with one regex (about 100 MB/s) and check
    the other lines exactly; quoted files are parsed record by record.
    """
    if check.quoted:
        for record in _iter_quoted_records(spec, check.path, runs=True):
            problem = record.problem or (record.fields is not None and _row_problem(spec, record.fields))
            if problem:
                return record.start, problem
        return None
    plain_run = _canonical_lines_re(spec)
    line_no = 0  # lines passed so far
    for block in _byte_blocks(check.path):
        pos = 0
        if line_no == 0:  # skip the header
            pos, line_no = block.find(b"\n") + 1, 1
        while pos < len(block):
            run = plain_run.match(block, pos)
            if run:
                line_no += block.count(b"\n", pos, run.end())
                pos = run.end()
                continue
            end = block.find(b"\n", pos)
            end = len(block) if end < 0 else end + 1
            line = block[pos:end].removesuffix(b"\n").removesuffix(b"\r")
            line_no += 1
            problem = _row_problem(spec, _plain_fields(line.decode("utf-8", errors="replace")))
            if problem:
                return line_no, problem
            pos = end
    return None


def _record_at(
    spec: RawFile, check: FileCheck, *, line: int | None = None, number: int | None = None
) -> _Record | None:
    """The record that spans physical ``line``, or the ``number``-th record counting the header as 1."""
    if not check.quoted:  # one record per line
        line_no = line if line is not None else number
        text = _plain_line(check.path, line_no) if line_no and line_no > 1 else None
        return None if text is None or line_no is None else _Record(line_no, line_no, _plain_fields(text))
    for index, record in enumerate(_iter_quoted_records(spec, check.path), start=2):
        if record.problem is not None:  # nothing after it can be split into records: it is the answer
            return record
        if (line is not None and record.start <= line <= record.end) or index == number:
            return record
        if line is not None and record.start > line:
            return None
    return None


# ---------------------------------------------------------------------------------------------
# the streamed pass: sha256 + byte-level format checks
# ---------------------------------------------------------------------------------------------
class _Scanner:
    """Checks one file block by block; every block handed to :meth:`lines` ends on a line feed."""

    def __init__(self, spec: RawFile, pg16_guard: bool = False):
        self.spec = spec
        self.pg16_guard = pg16_guard
        self.n = len(spec.columns)
        self.lines_done = 0  # physical lines fully checked so far, header included
        self.rows = 0
        self.crlf = False
        self.quoted = False
        self._pattern = (b"," * (self.n - 1) + b"\n") * ((READ_SIZE + MAX_LINE) // self.n + 2)

    def fail(self, data: bytes, offset: int, reason: str) -> LoadError:
        return LoadError(self.spec.name, self.lines_done + data.count(b"\n", 0, offset) + 1, reason)

    def header(self, line: bytes) -> None:
        """``line``: the first line with its line ending (BOM already removed)."""
        self.crlf = line.endswith(b"\r\n")
        raw = line.removesuffix(b"\n").removesuffix(b"\r")
        if b"\0" in raw:
            raise LoadError(
                self.spec.name,
                None,
                "NUL bytes in the first line: the file looks like UTF-16 or UTF-32 (without a byte order "
                "mark); save it as UTF-8",
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LoadError(self.spec.name, 1, f"invalid UTF-8 in the header ({exc.reason})") from None
        if '"' in text:
            try:
                names = next(csv.reader([text], strict=True), [])
            except csv.Error:
                names = []
        else:
            names = text.split(",")
        if names != list(self.spec.columns):
            raise LoadError(self.spec.name, 1, f"expected header {self.spec.header!r}, found {text!r}")
        self.lines_done = 1

    def lines(self, data: bytes, *, final: bool = False) -> None:
        """Check whole lines; ``final``: the last line of the file, without a line ending."""
        problems: list[tuple[int, str]] = []
        nul = data.find(b"\0")
        if nul >= 0:
            problems.append((nul, "NUL byte (is the file UTF-16 or UTF-32, or corrupt?)"))
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append((exc.start, f"invalid UTF-8 (byte 0x{data[exc.start]:02x})"))
        if not self.crlf:
            cr = data.find(b"\r")
            if cr >= 0:
                problems.append((cr, "carriage return in a file with LF line endings (mixed line endings)"))
        else:
            crlf = data.count(b"\r\n")
            if crlf != data.count(b"\n") or crlf != data.count(b"\r"):
                m = _BARE_LINE_ENDING.search(data)
                assert m is not None
                problems.append((m.start(), "line ending other than CRLF in a file with CRLF line endings"))
        if not self.quoted and b'"' in data:
            self.quoted = True  # fields and line counts come from the exact pass instead
        if self.quoted:
            breaks = data.count(b"\n")
        else:
            seps = data.translate(None, _NOT_SEPARATORS)
            breaks = seps.count(b"\n")
            tail = len(seps) % self.n
            if not self._pattern.startswith(seps) or (final and tail != self.n - 1):
                problems.append(self._structure_problem(data))
            elif self.pg16_guard and any(marker in data for marker in _PG16_INT_MARKERS):
                problems.extend(self._pg16_problems(data))
        if problems:
            offset, reason = min(problems)
            raise self.fail(data, offset, reason)
        self.lines_done += breaks
        self.rows += breaks + (1 if final and data else 0)

    def _split(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end
            line = data[start:end]
            yield start, line[:-1] if line.endswith(b"\r") else line
            start = end + 1

    def _structure_problem(self, data: bytes) -> tuple[int, str]:
        for start, line in self._split(data):
            if not line:
                return start, f"blank line (expected {self.n} fields)"
            if line.count(b",") != self.n - 1:
                return start, f"expected {self.n} fields, found {line.count(b',') + 1}"
        raise AssertionError("separator pattern mismatch without a bad line")

    def _pg16_problems(self, data: bytes) -> list[tuple[int, str]]:
        for start, line in self._split(data):
            if any(marker in line for marker in _PG16_INT_MARKERS):
                problem = _row_problem(self.spec, _plain_fields(line.decode("utf-8", errors="replace")))
                if problem:
                    return [(start, problem)]
        return []


def check_file(
    spec: RawFile, path: Path, on_bytes: Callable[[int], None] | None = None, *, pg16_guard: bool = False
) -> FileCheck:
    """Hash ``path`` and check its format in one streamed pass; raise :class:`LoadError` when bad.

    ``pg16_guard``: also check the integers of every line holding ``_``, ``0x``, ``0o`` or ``0b``
    (PostgreSQL 16+ would read ``0x10`` or ``1_000`` as numbers; older servers and the DuckDB
    load query reject them on their own). It costs a few milliseconds per MiB.
    """
    started = time.perf_counter()
    name = spec.name
    size = path.stat().st_size
    if size == 0:
        raise LoadError(name, None, "empty file (0 bytes)")
    digest = hashlib.sha256()
    scanner = _Scanner(spec, pg16_guard)
    bom = False
    header_done = False
    carry = b""
    with open(path, "rb") as f:
        first = True
        while block := f.read(READ_SIZE):
            digest.update(block)
            if on_bytes:
                on_bytes(len(block))
            if first:
                first = False
                for mark, encoding in _FOREIGN_BOMS:
                    if block.startswith(mark):
                        raise LoadError(
                            name, None, f"{encoding} text (byte order mark); save the file as UTF-8"
                        )
                if block.startswith(_UTF8_BOM):
                    bom, block = True, block[len(_UTF8_BOM) :]
            data = carry + block if carry else block
            last_break = data.rfind(b"\n")
            if last_break < 0:
                carry = data
                if len(carry) > MAX_LINE:
                    raise LoadError(name, scanner.lines_done + 1, f"line longer than {MAX_LINE:,} bytes")
                continue
            if data.find(b"\n") + 1 > MAX_LINE:
                raise LoadError(name, scanner.lines_done + 1, f"line longer than {MAX_LINE:,} bytes")
            carry = data[last_break + 1 :]
            data = data[: last_break + 1]
            if not header_done:
                header_end = data.find(b"\n") + 1
                scanner.header(data[:header_end])
                header_done = True
                data = data[header_end:]
            if data:
                scanner.lines(data)
    if not header_done:
        if not carry:
            raise LoadError(name, None, "empty file (only a UTF-8 byte order mark)")
        scanner.header(carry)
        carry = b""
    if carry:
        scanner.lines(carry, final=True)
    rows = scanner.rows
    if scanner.quoted:
        rows = 0
        for record in _iter_quoted_records(spec, path, runs=True):
            problem = record.problem or (record.fields is not None and _row_problem(spec, record.fields))
            if problem:
                raise LoadError(name, record.start, problem)
            rows += record.count
    if rows == 0:
        raise LoadError(name, None, "header only: no data rows")
    return FileCheck(
        name=name,
        path=path,
        sha256=digest.hexdigest(),
        bytes=size,
        rows=rows,
        bom=bom,
        crlf=scanner.crlf,
        quoted=scanner.quoted,
        seconds=time.perf_counter() - started,
    )


def _find_files(data_dir: Path) -> dict[str, Path]:
    paths = {name: data_dir / name for name in FILE_NAMES}
    missing = [name for name, p in paths.items() if not p.is_file()]
    if missing:
        expected = ", ".join(FILE_NAMES)
        if not data_dir.is_dir():
            reason = f"not found: folder {data_dir} does not exist (it must hold {expected})"
        else:
            reason = (
                f"not found in {data_dir} (missing: {', '.join(missing)}; the folder must hold {expected})"
            )
        raise LoadError(missing[0], None, reason)
    return paths


# ---------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------
class _Progress:
    """Byte progress bars on stderr (rich), or nothing."""

    def __init__(self, enabled: bool):
        self._bars: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bars = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=None),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
                expand=True,
            )

    def __enter__(self) -> _Progress:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()

    def task(self, description: str, total: int) -> Callable[..., None]:
        """A callback: ``cb(n)`` advances by n bytes, ``cb(completed=x)`` sets the position."""
        if self._bars is None:
            return lambda *a, **k: None
        task_id = self._bars.add_task(description, total=total)

        def update(advance: int = 0, *, completed: float | None = None) -> None:
            if completed is None:
                self._bars.update(task_id, advance=advance)
            else:
                self._bars.update(task_id, completed=completed)

        return update


@contextlib.contextmanager
def _poll_duckdb_progress(
    conn: Any, total: int, update: Callable[..., None], enabled: bool
) -> Iterator[None]:
    """Follow a running DuckDB statement through ``query_progress()`` (percent) from a thread."""
    if not enabled:
        yield
        return
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.1):
            try:
                percent = conn.query_progress()
            except Exception:  # the connection is closed or busy: stop polling
                return
            if percent >= 0:
                update(completed=total * min(percent, 100.0) / 100.0)

    poller = threading.Thread(target=run, name="duckdb-progress", daemon=True)
    poller.start()
    try:
        yield
    finally:
        stop.set()
        poller.join()
    update(completed=total)


# ---------------------------------------------------------------------------------------------
# warehouse side
# ---------------------------------------------------------------------------------------------
def _qualified(table: str) -> str:
    return f"{SCHEMA}.{table}"


def _ensure_tables(wh: Warehouse) -> None:
    """Schema and tables (inside the load's transaction: a failed first load leaves nothing)."""
    wh.execute(f"create schema if not exists {SCHEMA}")
    for table in TABLES.values():
        wh.execute(f"create table if not exists {_qualified(table.name)} ({table.ddl_columns})")
        found = wh.columns(SCHEMA, table.name)
        if found != list(table.columns):
            raise WarehouseError(
                f"{_qualified(table.name)} has columns {found}, expected {list(table.columns)}; "
                f"drop it (drop table {_qualified(table.name)}) and load again"
            )
    wh.execute(f"create table if not exists {_qualified(LOG_TABLE)} ({LOG_DDL})")


def _latest_log_rows(wh: Warehouse) -> dict[str, LoadLogRow]:
    if not wh.table_exists(SCHEMA, LOG_TABLE):
        return {}
    rows = wh.query(
        "select file_name, table_name, sha256, bytes, rows, loaded_at, seconds from ("
        "  select *, row_number() over (partition by file_name order by loaded_at desc) as rank_desc"
        f"  from {_qualified(LOG_TABLE)}"
        ") as ranked where rank_desc = 1 order by file_name"
    )
    return {r[0]: LoadLogRow(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5], float(r[6])) for r in rows}


def last_loads(settings: Settings) -> dict[str, LoadLogRow]:
    """The latest ``raw.raw_rr_load_log`` row per file name ({} before the first load)."""
    if settings.target == "duckdb" and not settings.duckdb_path.exists():
        return {}
    with connect(settings) as wh:
        return _latest_log_rows(wh)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duckdb_select(table: RawTable, checks: dict[str, FileCheck]) -> str:
    """SELECT over DuckDB's CSV reader (all files of the table) that enforces the row rules.

    A rule broken anywhere raises ``rr-load-check|<column>|<file path>``; the line is then found
    by :func:`_first_bad_record` (DuckDB cannot tell which line a value came from).
    """
    spec = FILES[table.files[0]]

    def fail(column: str) -> str:
        return f"error(concat({_sql_text(f'{_DUCKDB_CHECK_TAG}|{column}|')}, filename, chr(31)))"

    exprs = []
    for column in spec.columns:
        ident = f'"{column}"'
        if column in spec.integer:
            on_null = fail(column) if column in spec.not_null else "null"
            expr = (
                f"case when {ident} is null then {on_null} "
                f"when regexp_full_match({ident}, {_sql_text(_INT_SQL_PATTERN)}) "
                f"then coalesce(try_cast({ident} as bigint), {fail(column)}) "  # the cast skips the same blanks
                f"else {fail(column)} end"
            )
        elif column in spec.not_null:
            expr = f"coalesce({ident}, {fail(column)})"
        else:
            expr = ident
        exprs.append(f"{expr} as {ident}")
    paths = ", ".join(_sql_text(str(checks[n].path)) for n in table.files)
    columns = ", ".join(f"{_sql_text(c)}: 'VARCHAR'" for c in spec.columns)
    # new_line is left to DuckDB on purpose: the byte pass has proven each file's line endings
    # consistent, and an explicit new_line = '\r\n' makes DuckDB 2.0 return no rows at all.
    reader = (
        f"read_csv([{paths}], columns = {{{columns}}}, auto_detect = false, header = true, skip = 0, "
        "delim = ',', quote = '\"', escape = '\"', comment = '', allow_quoted_nulls = false, "
        "strict_mode = true, null_padding = false, ignore_errors = false, encoding = 'utf-8', "
        f"filename = true, max_line_size = {2 * MAX_LINE})"
    )
    return f"select {', '.join(exprs)} from {reader}"


def _duckdb_error(exc: Exception, table: RawTable, checks: dict[str, FileCheck]) -> LoadError | None:
    """Turn a DuckDB load failure into a LoadError on the first bad physical line (None: not ours)."""
    message = str(exc)
    tagged = _DUCKDB_CHECK_RE.search(message)
    if tagged:
        column, name = tagged.group(1), Path(tagged.group(2)).name
        found = _first_bad_record(FILES[name], checks[name])
        if found:
            return LoadError(name, *found)
        return LoadError(
            name, None, f"DuckDB rejected a value of {column}, the file check found none: {message}"
        )
    line = _DUCKDB_CSV_LINE_RE.search(message)
    if line is None:
        return None
    file_match = _DUCKDB_CSV_FILE_RE.search(message)
    names = [n for n in table.files if file_match is None or Path(file_match.group(1)).name == n]
    name = names[0] if names else table.files[0]
    detail = next((x.strip() for x in message.splitlines()[2:] if x.strip()), message)
    record = _record_at(FILES[name], checks[name], number=int(line.group(1)))
    if record is None:
        return LoadError(name, None, f"DuckDB: {detail}")
    problem = record.problem or _row_problem(FILES[name], record.fields or [])
    return LoadError(name, record.start, problem or f"DuckDB: {detail}")


def _load_duckdb(
    wh: Warehouse, table: RawTable, checks: dict[str, FileCheck], progress: _Progress, show: bool
) -> dict[str, float]:
    """Insert one table from its files (ordered by timestamp when asked); seconds per file."""
    started = time.perf_counter()
    order = ' order by "timestamp"' if table.by_timestamp else ""
    columns = ", ".join(f'"{c}"' for c in table.columns)
    statement = (
        f"insert into {_qualified(table.name)} ({columns}) "
        f"select * from ({_duckdb_select(table, checks)}) as src{order}"
    )
    total = sum(checks[n].bytes for n in table.files)
    update = progress.task(f"load {_qualified(table.name)}", total)
    wh.execute(f"delete from {_qualified(table.name)}")
    try:
        with _poll_duckdb_progress(wh.conn, total, update, show):
            inserted = int(wh.scalar(statement))
    except Exception as exc:  # translated into a LoadError, or re-raised as is
        error = _duckdb_error(exc, table, checks)
        if error is None:
            raise
        raise error from exc
    expected = sum(checks[n].rows for n in table.files)
    if inserted != expected:
        raise LoadError(
            table.files[0], None, f"DuckDB read {inserted} rows but the file check counted {expected}"
        )
    elapsed = time.perf_counter() - started
    return {n: elapsed * checks[n].bytes / total for n in table.files}


def _copy_blocks(path: Path, update: Callable[..., None]) -> Iterator[bytes]:
    """The file in READ_SIZE blocks for COPY, without its UTF-8 byte order mark."""
    with open(path, "rb") as f:
        first = True
        while block := f.read(READ_SIZE):
            update(len(block))
            if first and block.startswith(_UTF8_BOM):
                block = block[len(_UTF8_BOM) :]
            first = False
            yield block


def _pg_error(exc: Exception, spec: RawFile, check: FileCheck) -> LoadError | None:
    """Turn a PostgreSQL COPY failure (CONTEXT ``line N``) into a LoadError (None: not a row error)."""
    diag = getattr(exc, "diag", None)
    context = getattr(diag, "context", None) or ""
    primary = getattr(diag, "message_primary", None) or str(exc).strip()
    line = _PG_CONTEXT_LINE_RE.search(context)
    if line is None:
        return None
    record = _record_at(spec, check, line=int(line.group(1)))
    if record is None:
        return LoadError(spec.name, int(line.group(1)), f"PostgreSQL: {primary}")
    problem = record.problem or _row_problem(spec, record.fields or [])
    return LoadError(spec.name, record.start, problem or f"PostgreSQL: {primary}")


def _load_postgres(
    wh: Warehouse, table: RawTable, checks: dict[str, FileCheck], progress: _Progress, show: bool
) -> dict[str, float]:
    """TRUNCATE, COPY each file, rebuild the timestamp index, ANALYZE; seconds per file.

    ``show`` is unused: COPY progress comes from the bytes sent (same signature as the DuckDB loader).
    """
    import psycopg

    qualified = _qualified(table.name)
    columns = ", ".join(f'"{c}"' for c in table.columns)
    copy_sql = (
        f"copy {qualified} ({columns}) from stdin with (format csv, header true, delimiter ',', "
        "quote '\"', escape '\"', null '', encoding 'UTF8')"
    )
    wh.execute(f"truncate {qualified}")
    if table.by_timestamp:
        wh.execute(f"drop index if exists {SCHEMA}.{table.index_name}")
    seconds: dict[str, float] = {}
    with wh.conn.cursor() as cur:
        for name in table.files:
            started = time.perf_counter()
            check = checks[name]
            update = progress.task(f"copy {name}", check.bytes)
            try:
                with cur.copy(copy_sql) as copy:
                    for block in _copy_blocks(check.path, update):
                        copy.write(block)
            except psycopg.Error as exc:
                error = _pg_error(exc, FILES[name], check)
                if error is None:
                    raise
                raise error from exc
            if cur.rowcount != check.rows:
                reason = f"PostgreSQL copied {cur.rowcount} rows but the file check counted {check.rows}"
                raise LoadError(name, None, reason)
            seconds[name] = time.perf_counter() - started
    started = time.perf_counter()
    if table.by_timestamp:
        wh.execute(f"set local maintenance_work_mem = '{PG_MAINTENANCE_WORK_MEM}'")
        wh.execute(f'create index {table.index_name} on {qualified} ("timestamp")')
    wh.execute(f"analyze {qualified}")
    after = time.perf_counter() - started
    total = sum(checks[n].bytes for n in table.files)
    return {n: seconds[n] + after * checks[n].bytes / total for n in table.files}


# ---------------------------------------------------------------------------------------------
# the load
# ---------------------------------------------------------------------------------------------
def _tables_to_reload(wh: Warehouse, checks: dict[str, FileCheck], only_changed: bool) -> list[str]:
    """All tables, or with ``only_changed`` those whose files differ from their latest log row."""
    if not only_changed:
        return list(TABLES)
    previous = _latest_log_rows(wh)
    return [
        table.name
        for table in TABLES.values()
        if not wh.table_exists(SCHEMA, table.name)
        or any(n not in previous or previous[n].sha256 != checks[n].sha256 for n in table.files)
    ]


def _replace_tables(
    wh: Warehouse, tables: list[str], checks: dict[str, FileCheck], bars: _Progress, show: bool
) -> dict[str, float]:
    """Reload ``tables`` and append their log rows, all in one transaction; seconds per file."""
    duckdb = wh.target == "duckdb"
    if duckdb:
        wh.execute("set preserve_insertion_order = true")
        wh.execute(f"set enable_progress_bar = {'true' if show else 'false'}")
        wh.execute("set enable_progress_bar_print = false")
    seconds: dict[str, float] = {}
    with wh.transaction():
        _ensure_tables(wh)
        for name in tables:
            loader = _load_duckdb if duckdb else _load_postgres
            seconds.update(loader(wh, TABLES[name], checks, bars, show))
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        for name in tables:
            for file_name in TABLES[name].files:
                check = checks[file_name]
                wh.execute(
                    f"insert into {_qualified(LOG_TABLE)} "
                    "(file_name, table_name, sha256, bytes, rows, loaded_at, seconds) "
                    "values (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        file_name,
                        name,
                        check.sha256,
                        check.bytes,
                        check.rows,
                        loaded_at,
                        check.seconds + seconds[file_name],
                    ),
                )
    return seconds


def load(
    settings: Settings, data_dir: Path | None = None, *, only_changed: bool = False, progress: bool = True
) -> LoadReport:
    """Check the four files, then replace the raw tables in one transaction (see the module doc).

    ``only_changed``: reload only the tables whose file(s) differ (sha256) from the latest
    ``raw.raw_rr_load_log`` row of that file name; with nothing changed nothing is written.
    ``progress``: byte progress bars on stderr.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir) if data_dir is not None else settings.data_dir
    paths = _find_files(data_dir)
    checks: dict[str, FileCheck] = {}
    with _Progress(progress) as bars, connect(settings) as wh:
        pg16_guard = wh.target == "postgres" and wh.conn.info.server_version >= 160000
        for name, path in paths.items():
            update = bars.task(f"check {name}", path.stat().st_size)
            checks[name] = check_file(FILES[name], path, update, pg16_guard=pg16_guard)
        reload = _tables_to_reload(wh, checks, only_changed)
        seconds = _replace_tables(wh, reload, checks, bars, progress) if reload else {}

    files = {
        name: FileLoad(
            file_name=name,
            table_name=FILES[name].table,
            sha256=check.sha256,
            bytes=check.bytes,
            rows=check.rows,
            seconds=check.seconds + seconds.get(name, 0.0),
            skipped=FILES[name].table not in reload,
            bom=check.bom,
            crlf=check.crlf,
        )
        for name, check in checks.items()
    }
    return LoadReport(
        target=settings.target,
        warehouse=settings.describe(),
        data_dir=data_dir,
        files=files,
        seconds=time.perf_counter() - started,
    )


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def _print_report(report: LoadReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: never truncate a cell
        console = Console(highlight=False, width=200)
    table = Table(title=f"raw load into {report.warehouse}", title_justify="left")
    for header in ("file", "table", "rows", "bytes", "sha256", "seconds", "status"):
        justify = "right" if header in ("rows", "bytes", "seconds") else "left"
        table.add_column(header, justify=justify, no_wrap=True)
    for f in report.files.values():
        table.add_row(
            f.file_name,
            f"{SCHEMA}.{f.table_name}",
            f"{f.rows:,}",
            f"{f.bytes:,}",
            f.sha256[:12],
            f"{f.seconds:.2f}",
            "; ".join(["unchanged, skipped" if f.skipped else "loaded", *f.notes]),
        )
    console.print(table)
    rows = report.table_rows()
    if rows:
        parts = ", ".join(f"{SCHEMA}.{t} {n:,} rows" for t, n in rows.items())
        console.print(f"loaded {parts} in {report.seconds:.2f} s", markup=False)
    else:
        console.print(f"nothing changed: no table reloaded ({report.seconds:.2f} s)", markup=False)


def main(args: Any, settings: Settings) -> int:
    """``python -m seeds_loader load``: load, print what was loaded; 1 with one error line on failure."""
    settings = settings.with_target(args.target)
    data_dir = args.data_dir if args.data_dir is not None else settings.data_dir
    try:
        report = load(settings, data_dir, only_changed=args.only_changed, progress=not args.quiet)
    except (LoadError, WarehouseError) as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)  # always one line
        return 1
    _print_report(report)
    return 0


__all__ = [
    "FILES",
    "FILE_NAMES",
    "TABLES",
    "FileCheck",
    "FileLoad",
    "LoadError",
    "LoadLogRow",
    "LoadReport",
    "RawFile",
    "RawTable",
    "check_file",
    "last_loads",
    "load",
    "main",
]
