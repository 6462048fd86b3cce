"""Format checks of the raw files: one streamed pass per file (sha256 + byte-level rules), the
exact RFC 4180 pass for files with quotes, and the search for the first bad record when the
warehouse refuses a value.

The loader checks *format*, never business rules (an unknown event name, a transaction without
id, a timestamp in seconds, a negative id all load; the dbt quality gates judge them). It accepts
what is harmless and what the real download can contain, and rejects what it cannot, with the
same answer (file, physical line with the header as line 1, reason) on both warehouses:

* accepted: a UTF-8 byte order mark (skipped and reported); CRLF line endings when every line
  uses them (reported); RFC 4180 quoting (``"a,b"``, ``""`` for a quote, line breaks inside
  quotes); integers with a sign or surrounding blanks (PostgreSQL's bigint syntax); empty
  fields, which become NULL (a quoted ``""`` is an empty string, as in PostgreSQL). A last line
  without a line ending is loaded but reported (the file may have been cut inside that line) and
  recorded in ``raw.raw_rr_load_log.notes``.
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
quotes are split one by one, far slower; the real files contain no quotes at all). Integer
syntax and NOT NULL are then checked by the warehouse while it loads; the warehouse loaders turn
its error into the first bad physical line with :func:`first_bad_record` / :func:`record_at`.
Every pass reads through the file's one open handle (:class:`~seeds_loader.raw_files.RawSource`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from seeds_loader.raw_files import MAX_LINE, READ_SIZE, LoadError, RawFile, RawSource, open_source

_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
# PostgreSQL's bigint input syntax (the same in every version up to 15; 16 added 0x/0o/0b and
# digit underscores, which we keep rejecting so that both warehouses agree).
_BLANKS = " \t\n\v\f\r"
_INT_PATTERN = rf"[{re.escape(_BLANKS)}]*[+-]?[0-9]+[{re.escape(_BLANKS)}]*"
_INT_RE = re.compile(_INT_PATTERN)
INT_SQL_PATTERN = r"[ \t\n\v\f\r]*[+-]?[0-9]+[ \t\n\v\f\r]*"  # the same, spelled for RE2 (DuckDB)
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


@dataclass
class FileCheck:
    """What the streamed pass over one file found (the file is valid when this exists).

    ``unterminated``: the last line has no line ending (loaded, but the file may have been cut
    inside that line: reported and recorded in the load log).
    """

    name: str
    source: RawSource
    sha256: str
    bytes: int
    rows: int
    bom: bool
    crlf: bool
    quoted: bool
    seconds: float
    unterminated: bool = False
    lines: int = 0

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def notes(self) -> list[str]:
        notes = []
        if self.bom:
            notes.append("UTF-8 byte order mark skipped")
        if self.crlf:
            notes.append("CRLF line endings")
        if self.unterminated:
            notes.append(f"no line ending after the last line (line {self.lines}): was the file cut?")
        return notes


# ---------------------------------------------------------------------------------------------
# row rules (shared by the Python passes and the translation of warehouse errors)
# ---------------------------------------------------------------------------------------------
def row_problem(spec: RawFile, fields: Sequence[str | None]) -> str | None:
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


def plain_fields(line: str) -> list[str | None]:
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


def _byte_blocks(source: RawSource) -> Iterator[bytes]:
    """The file in blocks that end on a line feed (the last one may not), UTF-8 BOM removed."""
    with source.open() as f:
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


def _text_blocks(source: RawSource) -> Iterator[str]:
    """:func:`_byte_blocks` decoded (UTF-8 was validated by the byte pass)."""
    for block in _byte_blocks(source):
        yield block.decode("utf-8", errors="replace")


def _plain_line(source: RawSource, line_no: int) -> str | None:
    """Physical line ``line_no`` without its line ending, found by counting line feeds."""
    done = 0
    for block in _byte_blocks(source):
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


def iter_quoted_records(spec: RawFile, source: RawSource, *, runs: bool = False) -> Iterator[_Record]:
    """Exact RFC 4180 records (fields may hold commas, doubled quotes and line breaks).

    ``runs``: yield runs of plainly valid one-line records as one :class:`_Record` with ``count``
    (validated by one regex, about ten times faster than splitting each record).
    """
    record_re = _quoted_record_re(len(spec.columns))
    run_re = _canonical_quoted_lines_re(spec) if runs else None
    eol_group = 2 * len(spec.columns) + 1
    blocks = _text_blocks(source)
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


def first_bad_record(spec: RawFile, check: FileCheck) -> tuple[int, str] | None:
    """The first record that breaks a row rule, as (physical line, reason); error path only.

    Quote-free files skip runs of plainly valid lines with one regex (about 100 MB/s) and check
    the other lines exactly; quoted files are parsed record by record.
    """
    if check.quoted:
        for record in iter_quoted_records(spec, check.source, runs=True):
            problem = record.problem or (record.fields is not None and row_problem(spec, record.fields))
            if problem:
                return record.start, problem
        return None
    plain_run = _canonical_lines_re(spec)
    line_no = 0  # lines passed so far
    for block in _byte_blocks(check.source):
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
            problem = row_problem(spec, plain_fields(line.decode("utf-8", errors="replace")))
            if problem:
                return line_no, problem
            pos = end
    return None


def record_at(
    spec: RawFile, check: FileCheck, *, line: int | None = None, number: int | None = None
) -> _Record | None:
    """The record that spans physical ``line``, or the ``number``-th record counting the header as 1."""
    if not check.quoted:  # one record per line
        line_no = line if line is not None else number
        text = _plain_line(check.source, line_no) if line_no and line_no > 1 else None
        return None if text is None or line_no is None else _Record(line_no, line_no, plain_fields(text))
    for index, record in enumerate(iter_quoted_records(spec, check.source), start=2):
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
                problem = row_problem(self.spec, plain_fields(line.decode("utf-8", errors="replace")))
                if problem:
                    return [(start, problem)]
        return []


def check_file(
    spec: RawFile,
    source: RawSource | Path,
    on_bytes: Callable[[int], None] | None = None,
    *,
    pg16_guard: bool = False,
) -> FileCheck:
    """Hash the file and check its format in one streamed pass; raise :class:`LoadError` when bad.

    ``source``: the file's open handle (a load), or a path, opened here (checks on their own).

    ``pg16_guard``: also check the integers of every line holding ``_``, ``0x``, ``0o`` or ``0b``
    (PostgreSQL 16+ would read ``0x10`` or ``1_000`` as numbers; older servers and the DuckDB
    load query reject them on their own). It costs a few milliseconds per MiB.
    """
    if isinstance(source, Path):
        source = open_source(spec.name, source)
    started = time.perf_counter()
    name = spec.name
    size = source.size
    if size == 0:
        raise LoadError(name, None, "empty file (0 bytes)")
    digest = hashlib.sha256()
    scanner = _Scanner(spec, pg16_guard)
    bom = False
    header_done = False
    carry = b""
    read = 0
    with source.open() as f:
        first = True
        while block := f.read(READ_SIZE):
            read += len(block)
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
    if read != size:
        raise LoadError(
            name, None, f"the file changed while it was being checked ({size:,} -> {read:,} bytes)"
        )
    unterminated = bool(carry)
    if carry:
        scanner.lines(carry, final=True)
    lines = scanner.lines_done + (1 if unterminated else 0)
    rows = scanner.rows
    if scanner.quoted:
        rows = 0
        for record in iter_quoted_records(spec, source, runs=True):
            problem = record.problem or (record.fields is not None and row_problem(spec, record.fields))
            if problem:
                raise LoadError(name, record.start, problem)
            rows += record.count
    if rows == 0:
        raise LoadError(name, None, "header only: no data rows")
    return FileCheck(
        name=name,
        source=source,
        sha256=digest.hexdigest(),
        bytes=size,
        rows=rows,
        bom=bom,
        crlf=scanner.crlf,
        quoted=scanner.quoted,
        seconds=time.perf_counter() - started,
        unterminated=unterminated,
        lines=lines,
    )
