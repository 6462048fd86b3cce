"""The raw load on DuckDB: its own CSV reader over the files' open handles, with the row rules
enforced in the load query, and its errors turned into the first bad physical line."""

from __future__ import annotations

import re
import time

from seeds_loader.format_check import INT_SQL_PATTERN, FileCheck, first_bad_record, record_at, row_problem
from seeds_loader.progress import Progress, poll_duckdb_progress
from seeds_loader.raw_files import FILES, MAX_LINE, LoadError, RawTable, qualified
from seeds_loader.warehouse import Warehouse

_CHECK_TAG = "rr-load-check"
_CHECK_RE = re.compile(re.escape(_CHECK_TAG) + r"\|([^|]+)\|(.*?)\x1f")
_CSV_LINE_RE = re.compile(r"CSV Error on Line: (\d+)")
_CSV_FILE_RE = re.compile(r"^\s*file = (.+?)\s*$", re.MULTILINE)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_select(table: RawTable, checks: dict[str, FileCheck]) -> str:
    """SELECT over DuckDB's CSV reader (all files of the table) that enforces the row rules.

    The reader opens each file's handle (``/dev/fd/<n>``), not its folder entry: it reads the
    bytes the check read. A rule broken anywhere raises ``rr-load-check|<column>|<reader path>``;
    the line is then found by :func:`first_bad_record` (DuckDB cannot tell which line a value
    came from).
    """
    spec = FILES[table.files[0]]

    def fail(column: str) -> str:
        return f"error(concat({_sql_text(f'{_CHECK_TAG}|{column}|')}, filename, chr(31)))"

    exprs = []
    for column in spec.columns:
        ident = f'"{column}"'
        if column in spec.integer:
            on_null = fail(column) if column in spec.not_null else "null"
            expr = (
                f"case when {ident} is null then {on_null} "
                f"when regexp_full_match({ident}, {_sql_text(INT_SQL_PATTERN)}) "
                f"then coalesce(try_cast({ident} as bigint), {fail(column)}) "  # the cast skips the same blanks
                f"else {fail(column)} end"
            )
        elif column in spec.not_null:
            expr = f"coalesce({ident}, {fail(column)})"
        else:
            expr = ident
        exprs.append(f"{expr} as {ident}")
    paths = ", ".join(_sql_text(checks[n].source.reader_path) for n in table.files)
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


def _file_of(reader_path: str, table: RawTable, checks: dict[str, FileCheck]) -> str:
    """The file name behind a path DuckDB reports (a handle path, or a file path in tests)."""
    for name in table.files:
        if reader_path in (checks[name].source.reader_path, str(checks[name].path)):
            return name
    return table.files[0]


def duckdb_error(exc: Exception, table: RawTable, checks: dict[str, FileCheck]) -> LoadError | None:
    """Turn a DuckDB load failure into a LoadError on the first bad physical line (None: not ours)."""
    message = str(exc)
    tagged = _CHECK_RE.search(message)
    if tagged:
        column, name = tagged.group(1), _file_of(tagged.group(2), table, checks)
        found = first_bad_record(FILES[name], checks[name])
        if found:
            return LoadError(name, *found)
        return LoadError(
            name, None, f"DuckDB rejected a value of {column}, the file check found none: {message}"
        )
    line = _CSV_LINE_RE.search(message)
    if line is None:
        return None
    file_match = _CSV_FILE_RE.search(message)
    name = _file_of(file_match.group(1), table, checks) if file_match else table.files[0]
    detail = next((x.strip() for x in message.splitlines()[2:] if x.strip()), message)
    record = record_at(FILES[name], checks[name], number=int(line.group(1)))
    if record is None:
        return LoadError(name, None, f"DuckDB: {detail}")
    problem = record.problem or row_problem(FILES[name], record.fields or [])
    return LoadError(name, record.start, problem or f"DuckDB: {detail}")


def load_duckdb(
    wh: Warehouse, table: RawTable, checks: dict[str, FileCheck], progress: Progress, show: bool
) -> dict[str, float]:
    """Insert one table from its files (ordered by timestamp when asked); seconds per file."""
    started = time.perf_counter()
    order = ' order by "timestamp"' if table.by_timestamp else ""
    columns = ", ".join(f'"{c}"' for c in table.columns)
    statement = (
        f"insert into {qualified(table.name)} ({columns}) "
        f"select * from ({duckdb_select(table, checks)}) as src{order}"
    )
    total = sum(checks[n].bytes for n in table.files)
    update = progress.task(f"load {qualified(table.name)}", total)
    wh.execute(f"delete from {qualified(table.name)}")
    try:
        with poll_duckdb_progress(wh.conn, total, update, show):
            inserted = int(wh.scalar(statement))
    except Exception as exc:  # translated into a LoadError, or re-raised as is
        error = duckdb_error(exc, table, checks)
        if error is None:
            raise
        raise error from exc
    expected = sum(checks[n].rows for n in table.files)
    if inserted != expected:
        raise LoadError(
            table.files[0], None, f"DuckDB read {inserted} rows but the file check counted {expected}"
        )
    for name in table.files:
        checks[name].source.assert_unchanged()
    elapsed = time.perf_counter() - started
    return {n: elapsed * checks[n].bytes / total for n in table.files}
