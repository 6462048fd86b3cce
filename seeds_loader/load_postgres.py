"""The raw load on PostgreSQL: ``COPY ... FROM STDIN`` fed from the files' open handles (and
hashed on the way, so what was copied is what was checked), then the timestamp index and
ANALYZE; COPY's ``line N`` errors turned into the first bad physical line."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator

from seeds_loader.format_check import FileCheck, record_at, row_problem
from seeds_loader.progress import Progress
from seeds_loader.raw_files import (
    FILES,
    READ_SIZE,
    SCHEMA,
    LoadError,
    RawFile,
    RawSource,
    RawTable,
    qualified,
)
from seeds_loader.warehouse import Warehouse

PG_MAINTENANCE_WORK_MEM = "256MB"  # for the index builds after COPY
_UTF8_BOM = b"\xef\xbb\xbf"
_CONTEXT_LINE_RE = re.compile(r"\bline (\d+)")


def copy_blocks(source: RawSource, update: Callable[..., None], digest=None) -> Iterator[bytes]:
    """The file in READ_SIZE blocks for COPY, without its UTF-8 byte order mark (``digest``:
    updated with every byte read, the mark included, like the check's sha256)."""
    first = True
    for block in source.blocks(READ_SIZE):
        update(len(block))
        if digest is not None:
            digest.update(block)
        if first and block.startswith(_UTF8_BOM):
            block = block[len(_UTF8_BOM) :]
        first = False
        yield block


def pg_error(exc: Exception, spec: RawFile, check: FileCheck) -> LoadError | None:
    """Turn a PostgreSQL COPY failure (CONTEXT ``line N``) into a LoadError (None: not a row error)."""
    diag = getattr(exc, "diag", None)
    context = getattr(diag, "context", None) or ""
    primary = getattr(diag, "message_primary", None) or str(exc).strip()
    line = _CONTEXT_LINE_RE.search(context)
    if line is None:
        return None
    record = record_at(spec, check, line=int(line.group(1)))
    if record is None:
        return LoadError(spec.name, int(line.group(1)), f"PostgreSQL: {primary}")
    problem = record.problem or row_problem(spec, record.fields or [])
    return LoadError(spec.name, record.start, problem or f"PostgreSQL: {primary}")


def load_postgres(
    wh: Warehouse, table: RawTable, checks: dict[str, FileCheck], progress: Progress, show: bool
) -> dict[str, float]:
    """TRUNCATE, COPY each file, rebuild the timestamp index, ANALYZE; seconds per file.

    ``show`` is unused: COPY progress comes from the bytes sent (same signature as the DuckDB loader).
    """
    import psycopg

    target = qualified(table.name)
    columns = ", ".join(f'"{c}"' for c in table.columns)
    copy_sql = (
        f"copy {target} ({columns}) from stdin with (format csv, header true, delimiter ',', "
        "quote '\"', escape '\"', null '', encoding 'UTF8')"
    )
    wh.execute(f"truncate {target}")
    if table.by_timestamp:
        wh.execute(f"drop index if exists {SCHEMA}.{table.index_name}")
    seconds: dict[str, float] = {}
    with wh.conn.cursor() as cur:
        for name in table.files:
            started = time.perf_counter()
            check = checks[name]
            update = progress.task(f"copy {name}", check.bytes)
            digest = hashlib.sha256()
            try:
                with cur.copy(copy_sql) as copy:
                    for block in copy_blocks(check.source, update, digest):
                        copy.write(block)
            except psycopg.Error as exc:
                error = pg_error(exc, FILES[name], check)
                if error is None:
                    raise
                raise error from exc
            if digest.hexdigest() != check.sha256:
                raise LoadError(
                    name, None, "the file changed between its check and its load (sha256 differs)"
                )
            if cur.rowcount != check.rows:
                reason = f"PostgreSQL copied {cur.rowcount} rows but the file check counted {check.rows}"
                raise LoadError(name, None, reason)
            seconds[name] = time.perf_counter() - started
    started = time.perf_counter()
    if table.by_timestamp:
        wh.execute(f"set local maintenance_work_mem = '{PG_MAINTENANCE_WORK_MEM}'")
        wh.execute(f'create index {table.index_name} on {target} ("timestamp")')
    wh.execute(f"analyze {target}")
    after = time.perf_counter() - started
    total = sum(checks[n].bytes for n in table.files)
    return {n: seconds[n] + after * checks[n].bytes / total for n in table.files}
