"""The raw load on Spark: Spark's own CSV reader, the row rules enforced in the load query, its
errors turned into the first bad physical line, and the tables replaced by a rename.

Spark has no transactions. Each reloaded table is first written whole as
``raw.<table>__rr_new`` (the old table untouched: a bad row, a wrong count or a file changed
meanwhile drops the new table and leaves everything as it was); only when every table of the
load is written is the load recorded, measured on the new tables (fingerprints, load log, then
``raw.raw_rr_loads``, which withdraws the certification of the dates it changed), and then the
tables are swapped in (:func:`swap_in`: two metastore renames per table). A marker table,
``raw.raw_rr_load_unfinished``, stands from before the record until the swap is done: dbt
refuses to start while it exists, and a load killed in between leaves it for the next load,
which then reloads every table. A dbt run that straddles the load sees a new raw load id at its
end and certifies nothing.

Spark reads the files by path (the server's file system: the same machine for ``make spark-up``
and a session; a shared mount or the cluster's storage otherwise, docs/spark.md). The format
pass has read the same files through their open handles just before; the load then checks that
no file changed since (:meth:`RawSource.assert_unchanged`) and that Spark read as many rows as
the pass counted.
"""

from __future__ import annotations

import re
import time

from seeds_loader.format_check import FileCheck, first_bad_record
from seeds_loader.progress import Progress
from seeds_loader.raw_files import FILES, LoadError, RawTable, qualified
from seeds_loader.warehouse import Warehouse

_CHECK_TAG = "rr-load-check"
_CHECK_RE = re.compile(re.escape(_CHECK_TAG) + r"\|([^|]+)\|([^|]+)\|")
# the integer syntax of format_check.INT_SQL_PATTERN, for Java's regex inside a Spark SQL literal
_INT_REGEX = r"^[ \\t\\n\\x0B\\f\\r]*[+-]?[0-9]+[ \\t\\n\\x0B\\f\\r]*$"
_BLANKS_REGEX = r"[ \\t\\n\\x0B\\f\\r]"


def new_name(table: str) -> str:
    return f"{table}__rr_new"


def _text(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _view(index: int) -> str:
    return f"rr_load_csv_{index}"


def spark_select(table: RawTable, checks: dict[str, FileCheck]) -> tuple[list[str], str]:
    """(statements creating one CSV view per file, SELECT over them enforcing the row rules)."""
    spec = FILES[table.files[0]]
    views, selects = [], []
    for index, name in enumerate(table.files):
        check = checks[name]
        schema = ", ".join(f"`{c}` string" for c in spec.columns)
        multiline = "true" if check.quoted else "false"
        views.append(
            f"create or replace temporary view {_view(index)} ({schema}) using csv options ("
            f"path {_text(str(check.path))}, header 'true', mode 'FAILFAST', sep ',', quote '\"', "
            f"escape '\"', multiLine '{multiline}', encoding 'UTF-8', nullValue '', emptyValue '', "
            "ignoreLeadingWhiteSpace 'false', ignoreTrailingWhiteSpace 'false', enforceSchema 'true', "
            "inferSchema 'false', comment '\\u0000')"
        )

        def fail(column: str, file_name: str = name) -> str:
            return f"raise_error({_text(f'{_CHECK_TAG}|{column}|{file_name}|')})"

        exprs = []
        for column in spec.columns:
            ident = f"`{column}`"
            if column in spec.integer:
                on_null = fail(column) if column in spec.not_null else "cast(null as bigint)"
                expr = (
                    f"case when {ident} is null then {on_null} "
                    f"when {ident} rlike '{_INT_REGEX}' "
                    f"then coalesce(cast(regexp_replace({ident}, '{_BLANKS_REGEX}', '') as bigint), {fail(column)}) "
                    f"else cast({fail(column)} as bigint) end"
                )
            elif column in spec.not_null:
                expr = f"coalesce({ident}, cast({fail(column)} as string))"
            else:
                expr = ident
            exprs.append(f"{expr} as {ident}")
        selects.append(f"select {', '.join(exprs)} from {_view(index)}")
    return views, " union all ".join(selects)


def spark_error(exc: Exception, table: RawTable, checks: dict[str, FileCheck]) -> LoadError | None:
    """A Spark load failure as a LoadError on the first bad physical line (None: not ours)."""
    message = str(exc)
    tagged = _CHECK_RE.search(message)
    if tagged:
        column, name = tagged.group(1), tagged.group(2)
        found = first_bad_record(FILES[name], checks[name])
        if found:
            return LoadError(name, *found)
        return LoadError(name, None, f"Spark rejected a value of {column}, the file check found none")
    if "MALFORMED_RECORD" in message or "Malformed" in message or "FAILFAST" in message:
        for name in table.files:
            found = first_bad_record(FILES[name], checks[name])
            if found:
                return LoadError(name, *found)
        return LoadError(table.files[0], None, f"Spark could not parse the file: {message[:300]}")
    return None


def load_spark(
    wh: Warehouse, table: RawTable, checks: dict[str, FileCheck], progress: Progress, show: bool
) -> dict[str, float]:
    """Write ``raw.<table>__rr_new`` from its files (see the module doc); seconds per file."""
    started = time.perf_counter()
    total = sum(checks[n].bytes for n in table.files)
    update = progress.task(f"load {qualified(table.name)} (Spark)", total)
    target = qualified(new_name(table.name))
    views, select = spark_select(table, checks)
    wh.execute(f"drop table if exists {target}")
    try:
        for statement in views:
            wh.execute(statement)
        wh.execute(f"create table {target} using parquet as {select}")
        inserted = int(wh.scalar(f"select count(*) from {target}"))
        expected = sum(checks[n].rows for n in table.files)
        if inserted != expected:
            raise LoadError(
                table.files[0], None, f"Spark read {inserted} rows but the file check counted {expected}"
            )
        for name in table.files:
            checks[name].source.assert_unchanged()
    except Exception as exc:
        wh.execute(f"drop table if exists {target}")
        if isinstance(exc, LoadError):
            raise
        error = spark_error(exc, table, checks)
        if error is None:
            raise
        raise error from exc
    update(total)
    elapsed = time.perf_counter() - started
    return {n: elapsed * checks[n].bytes / total for n in table.files}


def swap_in(wh: Warehouse, tables: list[str]) -> None:
    """Put every ``raw.<table>__rr_new`` in the place of ``raw.<table>`` (the old one dropped)."""
    for name in tables:
        old = qualified(f"{name}__rr_old")
        wh.execute(f"drop table if exists {old}")
        if wh.table_exists("raw", name):
            wh.execute(f"alter table {qualified(name)} rename to {old}")
        wh.execute(f"alter table {qualified(new_name(name))} rename to {qualified(name)}")
        wh.execute(f"drop table if exists {old}")


def drop_new(wh: Warehouse, tables: list[str]) -> None:
    """Drop what a failed load wrote (the old tables stay)."""
    for name in tables:
        wh.execute(f"drop table if exists {qualified(new_name(name))}")
