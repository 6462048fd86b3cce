"""The raw loader (seeds_loader.load) on DuckDB and PostgreSQL.

Expected table contents come from an independent parse of the CSV files with the ``csv`` module;
expected line numbers and reasons are written by hand against ``tests/fixtures/raw_small``.
Every bad input is loaded over a good load, which must survive untouched.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import pickle
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import seeds_loader.load as loader
from seeds_loader import load_duckdb, load_postgres
from seeds_loader.format_check import FileCheck
from seeds_loader.load import FILES, LoadError, check_file, last_loads, load
from seeds_loader.raw_files import READ_SIZE, TABLES, open_source
from seeds_loader.warehouse import WarehouseError, connect

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "raw_small"
TABLE_COLUMNS = {
    "raw_rr_events": '"timestamp", visitorid, event, itemid, transactionid',
    "raw_rr_category_tree": "categoryid, parentid",
    "raw_rr_item_properties": '"timestamp", itemid, property, value',
}
RAW_TABLES = {*TABLE_COLUMNS, "raw_rr_load_log", "raw_rr_loads", "raw_rr_date_fingerprints"}


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def copy_fixtures(dst: Path) -> Path:
    shutil.copytree(FIXTURES, dst)
    return dst


def parse_independently(data_dir: Path) -> dict[str, Counter]:
    """Table contents as multisets, parsed with the csv module (empty field = NULL)."""

    def rows(name: str) -> list[list[str]]:
        with open(data_dir / name, encoding="utf-8-sig", newline="") as f:
            return list(csv.reader(f))[1:]

    def num(v: str) -> int | None:
        return int(v) if v != "" else None

    events = Counter((int(t), int(v), e, int(i), num(x)) for t, v, e, i, x in rows("events.csv"))
    tree = Counter((int(c), num(p)) for c, p in rows("category_tree.csv"))
    props = Counter(
        (int(t), int(i), p, v if v != "" else None)
        for name in ("item_properties_part1.csv", "item_properties_part2.csv")
        for t, i, p, v in rows(name)
    )
    return {"raw_rr_events": events, "raw_rr_category_tree": tree, "raw_rr_item_properties": props}


def table_contents(settings) -> dict[str, Counter]:
    with connect(settings) as wh:
        return {
            table: Counter(wh.query(f"select {columns} from raw.{table}"))
            for table, columns in TABLE_COLUMNS.items()
        }


def log_rows(settings) -> list[tuple]:
    with connect(settings) as wh:
        return wh.query(
            "select file_name, table_name, sha256, bytes, rows, loaded_at, seconds "
            "from raw.raw_rr_load_log order by loaded_at, file_name"
        )


def raw_tables(settings) -> set[str]:
    with connect(settings) as wh:
        rows = wh.query("select table_name from information_schema.tables where table_schema = 'raw'")
    return {r[0] for r in rows}


def replace_line(path: Path, line_no: int, new: bytes) -> None:
    """Replace physical line ``line_no`` (1-based, without its line ending) by ``new``."""
    lines = path.read_bytes().split(b"\n")
    lines[line_no - 1] = new
    path.write_bytes(b"\n".join(lines))


def physical_line(path: Path, line_no: int) -> bytes:
    return path.read_bytes().split(b"\n")[line_no - 1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def settings(target, make_settings):
    return make_settings(target)


# ---------------------------------------------------------------------------------------------
# round trip, log, reload, only_changed
# ---------------------------------------------------------------------------------------------
def test_round_trip_and_load_log(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    report = load(settings, data, progress=False)

    expected = parse_independently(data)
    assert table_contents(settings) == expected
    # spot checks that the independent parse itself is what we think it is
    assert expected["raw_rr_events"][(1433221332117, 257597, "view", 355908, None)] == 2
    assert (1433224112000, 9223372036854775807, "view", 4294967296123, None) in expected["raw_rr_events"]
    assert (1433224112001, -5, "view", -9223372036854775808, None) in expected["raw_rr_events"]
    assert (231, None) in expected["raw_rr_category_tree"]
    props = expected["raw_rr_item_properties"]
    assert (1439089200000, 395014, "400", "n552.000 639502 n720.000 424566") in props
    assert (1431226800000, 278262, "283", "  leading and trailing spaces  ") in props
    assert (1433041200000, 98113, "caf_name", "café 12 ünïcode") in props
    assert (1440903600000, 12345, "888", None) in props
    assert [sum(c.values()) for c in expected.values()] == [18, 13, 22]

    rows_per_file = {"events.csv": 18, "category_tree.csv": 13}
    rows_per_file |= {"item_properties_part1.csv": 12, "item_properties_part2.csv": 10}
    log = log_rows(settings)
    assert len(log) == 4
    assert len({r[5] for r in log}) == 1  # one loaded_at per load
    for file_name, table_name, digest, size, rows, _, seconds in log:
        path = data / file_name
        assert table_name == FILES[file_name].table
        assert digest == sha256(path)
        assert size == path.stat().st_size
        assert rows == rows_per_file[file_name]
        assert seconds >= 0
        f = report.files[file_name]
        assert (f.sha256, f.bytes, f.rows, f.skipped) == (digest, size, rows, False)
    assert report.table_rows() == {
        "raw_rr_events": 18,
        "raw_rr_category_tree": 13,
        "raw_rr_item_properties": 22,
    }
    assert raw_tables(settings) == RAW_TABLES


def test_columns_and_types_are_identical_on_both_warehouses(settings, tmp_path):
    load(settings, copy_fixtures(tmp_path / "data"), progress=False)
    normal = {
        "bigint": "bigint",
        "text": "text",
        "varchar": "text",
        "timestamp": "timestamp",
        "timestamp without time zone": "timestamp",
        "double": "double precision",
        "double precision": "double precision",
        "date": "date",
        "integer": "integer",
    }
    with connect(settings) as wh:
        rows = wh.query(
            "select table_name, column_name, data_type, is_nullable from information_schema.columns "
            "where table_schema = 'raw' and table_name <> 'raw_rr_date_fingerprints' "
            "order by table_name, ordinal_position"
        )
    got = [(t, c, normal[d.lower()], n) for t, c, d, n in rows]
    b, t, dp, ts = "bigint", "text", "double precision", "timestamp"
    assert got == [
        ("raw_rr_category_tree", "categoryid", b, "NO"),
        ("raw_rr_category_tree", "parentid", b, "YES"),
        ("raw_rr_events", "timestamp", b, "NO"),
        ("raw_rr_events", "visitorid", b, "NO"),
        ("raw_rr_events", "event", t, "NO"),
        ("raw_rr_events", "itemid", b, "NO"),
        ("raw_rr_events", "transactionid", b, "YES"),
        ("raw_rr_item_properties", "timestamp", b, "NO"),
        ("raw_rr_item_properties", "itemid", b, "NO"),
        ("raw_rr_item_properties", "property", t, "NO"),
        ("raw_rr_item_properties", "value", t, "YES"),
        ("raw_rr_load_log", "file_name", t, "NO"),
        ("raw_rr_load_log", "table_name", t, "NO"),
        ("raw_rr_load_log", "sha256", t, "NO"),
        ("raw_rr_load_log", "bytes", b, "NO"),
        ("raw_rr_load_log", "rows", b, "NO"),
        ("raw_rr_load_log", "loaded_at", ts, "NO"),
        ("raw_rr_load_log", "seconds", dp, "NO"),
        ("raw_rr_load_log", "load_id", b, "YES"),
        ("raw_rr_load_log", "notes", t, "YES"),
        ("raw_rr_loads", "load_id", b, "NO"),
        ("raw_rr_loads", "loaded_at", ts, "NO"),
        ("raw_rr_loads", "files", t, "NO"),
        ("raw_rr_loads", "first_changed_date", "date", "YES"),
        ("raw_rr_loads", "changed_dates", t, "NO"),
        ("raw_rr_loads", "changed_date_count", "integer", "NO"),
        ("raw_rr_loads", "notes", t, "NO"),
    ]


def test_physical_order_on_duckdb_and_indexes_on_postgres(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    load(settings, data, progress=False)
    load(settings, data, progress=False)  # the indexes are rebuilt, not duplicated
    with connect(settings) as wh:
        if settings.target == "duckdb":
            for table in ("raw_rr_events", "raw_rr_item_properties"):
                stored = [r[0] for r in wh.query(f'select "timestamp" from raw.{table}')]
                assert stored == sorted(stored) and len(stored) > 10
        else:
            indexes = wh.query(
                "select tablename, indexdef from pg_indexes where schemaname = 'raw' order by tablename"
            )
            assert indexes == [
                (
                    "raw_rr_events",
                    'CREATE INDEX raw_rr_events_timestamp_idx ON raw.raw_rr_events USING btree ("timestamp")',
                ),
                (
                    "raw_rr_item_properties",
                    "CREATE INDEX raw_rr_item_properties_timestamp_idx ON raw.raw_rr_item_properties "
                    'USING btree ("timestamp")',
                ),
            ]
            analyzed = wh.query(
                "select relname from pg_stat_user_tables where schemaname = 'raw' "
                "and last_analyze is not null order by relname"
            )
            assert [r[0] for r in analyzed] == sorted(TABLE_COLUMNS)


def test_reload_is_idempotent_and_log_keeps_history(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    load(settings, data, progress=True)  # progress bars (on stderr) must not get in the way
    first = table_contents(settings)
    load(settings, data, progress=False)
    assert table_contents(settings) == first == parse_independently(data)
    log = log_rows(settings)
    assert len(log) == 8
    assert Counter(r[0] for r in log) == Counter({name: 2 for name in FILES})
    first_at, second_at = sorted({r[5] for r in log})
    latest = last_loads(settings)
    assert set(latest) == set(FILES)
    for name, row in latest.items():
        assert row.loaded_at == second_at > first_at
        assert (row.file_name, row.table_name, row.sha256) == (name, FILES[name].table, sha256(data / name))


def test_last_loads_before_any_load(settings):
    assert last_loads(settings) == {}


def test_only_changed_skips_unchanged_files_and_reloads_changed_ones(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    load(settings, data, progress=False)
    contents, log = table_contents(settings), log_rows(settings)

    report = load(settings, data, only_changed=True, progress=False)
    assert [f.file_name for f in report.skipped] == list(FILES)
    assert report.loaded == [] and report.table_rows() == {}
    assert log_rows(settings) == log  # nothing written, not even a log row
    assert table_contents(settings) == contents

    with open(data / "events.csv", "a", encoding="utf-8") as f:
        f.write("1440000000000,77,view,88,\n")
    report = load(settings, data, only_changed=True, progress=False)
    assert [f.file_name for f in report.loaded] == ["events.csv"]
    assert report.files["events.csv"].rows == 19
    new_log = log_rows(settings)
    assert (
        len(new_log) == 5 and new_log[-1][0] == "events.csv" and new_log[-1][2] == sha256(data / "events.csv")
    )
    assert table_contents(settings) == parse_independently(data)
    assert table_contents(settings)["raw_rr_events"][(1440000000000, 77, "view", 88, None)] == 1

    # either part changed -> the whole properties table reloads, both parts are logged
    with open(data / "item_properties_part2.csv", "a", encoding="utf-8") as f:
        f.write("1440903600000,1,available,0\n")
    report = load(settings, data, only_changed=True, progress=False)
    assert [f.file_name for f in report.loaded] == ["item_properties_part1.csv", "item_properties_part2.csv"]
    assert [r[0] for r in log_rows(settings)[5:]] == [
        "item_properties_part1.csv",
        "item_properties_part2.csv",
    ]
    assert table_contents(settings) == parse_independently(data)

    # a table that disappeared is reloaded even though its file did not change
    with connect(settings) as wh:
        wh.execute("drop table raw.raw_rr_category_tree")
    report = load(settings, data, only_changed=True, progress=False)
    assert [f.file_name for f in report.loaded] == ["category_tree.csv"]
    assert table_contents(settings) == parse_independently(data)
    assert len(log_rows(settings)) == 8


# ---------------------------------------------------------------------------------------------
# accepted variants: BOM, CRLF, quoting
# ---------------------------------------------------------------------------------------------
def test_bom_and_crlf_are_accepted_and_reported(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    for name, bom, crlf in (
        ("events.csv", True, False),
        ("category_tree.csv", False, True),
        ("item_properties_part1.csv", True, True),
    ):
        raw = (data / name).read_bytes()
        if crlf:
            raw = raw.replace(b"\n", b"\r\n")
        (data / name).write_bytes((b"\xef\xbb\xbf" if bom else b"") + raw)
    # and a last line without line ending
    part2 = data / "item_properties_part2.csv"
    part2.write_bytes(part2.read_bytes().rstrip(b"\n"))

    report = load(settings, data, progress=False)
    assert table_contents(settings) == parse_independently(copy_fixtures(tmp_path / "plain"))
    cut = "no line ending after the last line (line 11): was the file cut?"
    assert {name: f.notes for name, f in report.files.items()} == {
        "events.csv": ["UTF-8 byte order mark skipped"],
        "category_tree.csv": ["CRLF line endings"],
        "item_properties_part1.csv": ["UTF-8 byte order mark skipped", "CRLF line endings"],
        "item_properties_part2.csv": [cut],
    }
    assert report.files["item_properties_part2.csv"].rows == 10
    # what a file needed is recorded with the load, not only printed
    with connect(settings) as wh:
        notes = dict(wh.query("select file_name, notes from raw.raw_rr_load_log"))
        load_notes = wh.scalar("select notes from raw.raw_rr_loads")
    assert notes["item_properties_part2.csv"] == cut
    assert notes["events.csv"] == "UTF-8 byte order mark skipped"
    assert notes["category_tree.csv"] == "CRLF line endings"
    assert f"item_properties_part2.csv: {cut}" in load_notes


QUOTED_PART2 = (
    "timestamp,itemid,property,value\n"  # 1
    '1433041200000,1,888,"n1.000, n2.000"\n'  # 2: comma inside quotes
    '1433041200000,2,888,"say ""hi"""\n'  # 3: doubled quote
    '1433041200000,3,888,"first line\n'  # 4: a value over two physical lines
    'second line"\n'  # 5
    '1433041200000,4,888,""\n'  # 6: quoted empty = empty string, not NULL
    '"1433041200000","5","888",\n'  # 7: quoted integers, NULL value
)


def test_rfc4180_quoting_round_trips(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    (data / "item_properties_part2.csv").write_text(QUOTED_PART2, encoding="utf-8")
    report = load(settings, data, progress=False)
    assert report.files["item_properties_part2.csv"].rows == 5
    with connect(settings) as wh:
        got = wh.query(
            "select itemid, property, value from raw.raw_rr_item_properties where itemid < 10 order by itemid"
        )
    assert got == [
        (1, "888", "n1.000, n2.000"),
        (2, "888", 'say "hi"'),
        (3, "888", "first line\nsecond line"),
        (4, "888", ""),
        (5, "888", None),
    ]


# ---------------------------------------------------------------------------------------------
# bad inputs: the right file, line and reason on both warehouses, previous tables intact
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bad:
    id: str
    file: str
    apply: Callable[[Path], None]
    line: int | None
    reason: str  # a substring of LoadError.reason, or the whole reason when it starts with "="
    by_warehouse: bool = False  # the byte pass accepts the file: the warehouse must catch it


def line_to(file: str, line_no: int, new: bytes) -> Callable[[Path], None]:
    return lambda d: replace_line(d / file, line_no, new)


def write(file: str, content: bytes) -> Callable[[Path], None]:
    return lambda d: (d / file).write_bytes(content)


def encode(file: str, encoding: str, bom: bytes = b"") -> Callable[[Path], None]:
    return lambda d: (d / file).write_bytes(bom + (d / file).read_text(encoding="utf-8").encode(encoding))


def delete(file: str) -> Callable[[Path], None]:
    return lambda d: (d / file).unlink()


EV, CT, P1, P2 = "events.csv", "category_tree.csv", "item_properties_part1.csv", "item_properties_part2.csv"
ALL_FOUR = "events.csv, category_tree.csv, item_properties_part1.csv, item_properties_part2.csv"
BAD_INPUTS = [
    # header
    Bad(
        "wrong-header",
        EV,
        line_to(EV, 1, b"timestamp,visitorid,event,itemid,transactionId"),
        1,
        "=expected header 'timestamp,visitorid,event,itemid,transactionid', "
        "found 'timestamp,visitorid,event,itemid,transactionId'",
    ),
    Bad(
        "reordered-header",
        P2,
        line_to(P2, 1, b"itemid,timestamp,property,value"),
        1,
        "=expected header 'timestamp,itemid,property,value', found 'itemid,timestamp,property,value'",
    ),
    # field counts (an extra empty last field is silently dropped by DuckDB's reader: must fail)
    Bad(
        "too-few-fields",
        EV,
        line_to(EV, 4, b"1433221999827,111016,view,318965"),
        4,
        "=expected 5 fields, found 4",
    ),
    Bad(
        "extra-empty-field",
        EV,
        line_to(EV, 6, b"1433222147345,951259,transaction,367447,11117,"),
        6,
        "=expected 5 fields, found 6",
    ),
    Bad("too-many-fields", CT, line_to(CT, 3, b"809,169,1"), 3, "=expected 2 fields, found 3"),
    Bad("blank-line", P1, line_to(P1, 5, b""), 5, "=blank line (expected 4 fields)"),
    # integers and NOT NULL: found by the warehouse while loading
    Bad(
        "non-integer-id",
        EV,
        line_to(EV, 3, b"1433224214164,99x329,view,248676,"),
        3,
        "=visitorid is not an integer: '99x329'",
        by_warehouse=True,
    ),
    Bad(
        "decimal-id",
        EV,
        line_to(EV, 8, b"1433223236124,287857,view,5206.0,"),
        8,
        "=itemid is not an integer: '5206.0'",
        by_warehouse=True,
    ),
    Bad(
        "exponent-timestamp",
        EV,
        line_to(EV, 9, b"1.4425e12,1407579,view,466866,"),
        9,
        "=timestamp is not an integer: '1.4425e12'",
        by_warehouse=True,
    ),
    Bad(
        "date-as-timestamp",
        P2,
        line_to(P2, 4, b"2015-06-28,420307,921,1149317 1257525"),
        4,
        "=timestamp is not an integer: '2015-06-28'",
        by_warehouse=True,
    ),
    Bad(
        "hex-id",
        CT,
        line_to(CT, 5, b"1691,0x375"),
        5,
        "=parentid is not an integer: '0x375'",
        by_warehouse=True,
    ),
    Bad(
        "underscore-id",
        P1,
        line_to(P1, 6, b"1431831600000,156_781,917,828513"),
        6,
        "=itemid is not an integer: '156_781'",
        by_warehouse=True,
    ),
    Bad(
        "bigint-overflow",
        EV,
        line_to(EV, 12, b"1433224112000,9223372036854775808,view,4294967296123,"),
        12,
        "=visitorid is outside the bigint range: '9223372036854775808'",
        by_warehouse=True,
    ),
    Bad(
        "quoted-empty-integer",
        EV,
        line_to(EV, 15, b'1433224114000,14,transaction,15,""'),
        15,
        "=transactionid is not an integer: ''",
    ),
    Bad(
        "empty-event",
        EV,
        line_to(EV, 16, b"1433224115000,16,,17,"),
        16,
        "=event is empty (the column is NOT NULL)",
        by_warehouse=True,
    ),
    Bad(
        "empty-categoryid",
        CT,
        line_to(CT, 14, b",1016"),
        14,
        "=categoryid is empty (the column is NOT NULL)",
        by_warehouse=True,
    ),
    Bad(
        "empty-property",
        P1,
        line_to(P1, 13, b"1442113200000,395014,,n1200.000"),
        13,
        "=property is empty (the column is NOT NULL)",
        by_warehouse=True,
    ),
    # encodings and line endings
    Bad(
        "invalid-utf8",
        P1,
        line_to(P1, 3, b"1441508400000,206783,888,1116713 \xff960601"),
        3,
        "=invalid UTF-8 (byte 0xff)",
    ),
    Bad("nul-byte", EV, line_to(EV, 5, b"1433221955914,483717,add\x00tocart,253185,"), 5, "NUL byte"),
    Bad(
        "mixed-line-endings",
        EV,
        line_to(EV, 7, b"1433222147345,951259,transaction,164019,11117\r"),
        7,
        "=carriage return in a file with LF line endings (mixed line endings)",
    ),
    Bad(
        "lf-in-crlf-file",
        CT,
        lambda d: (d / CT).write_bytes(
            (d / CT).read_bytes().replace(b"\n", b"\r\n").replace(b"570,9\r\n", b"570,9\n")
        ),
        4,
        "=line ending other than CRLF in a file with CRLF line endings",
    ),
    Bad(
        "utf16-bom",
        EV,
        encode(EV, "utf-16"),
        None,
        "=UTF-16 (little-endian) text (byte order mark); save the file as UTF-8",
    ),
    Bad(
        "utf16-be-bom",
        CT,
        encode(CT, "utf-16-be", b"\xfe\xff"),
        None,
        "=UTF-16 (big-endian) text (byte order mark); save the file as UTF-8",
    ),
    Bad("utf32-bom", P1, encode(P1, "utf-32"), None, "UTF-32 (little-endian) text"),
    Bad("utf16-without-bom", P2, encode(P2, "utf-16-le"), None, "NUL bytes in the first line"),
    # whole files
    Bad("missing-file", P2, delete(P2), None, f"(missing: {P2}; the folder must hold {ALL_FOUR})"),
    Bad("empty-file", EV, write(EV, b""), None, "=empty file (0 bytes)"),
    Bad("header-only", CT, write(CT, b"categoryid,parentid\n"), None, "=header only: no data rows"),
    Bad(
        "header-only-no-newline",
        P1,
        write(P1, b"timestamp,itemid,property,value"),
        None,
        "=header only: no data rows",
    ),
    # quoting
    Bad(
        "quote-inside-unquoted-field",
        P1,
        line_to(P1, 4, b'1439089200000,395014,400,n552.000 "639502'),
        4,
        "=a double quote inside an unquoted field (quote the whole field and double the quote)",
    ),
    Bad(
        "unterminated-quote",
        P2,
        line_to(P2, 11, b'1433646000000,460429,categoryid,"1338'),
        11,
        "malformed quoting",
    ),
    Bad(
        "bad-line-after-multiline-value",
        P2,
        write(P2, QUOTED_PART2.encode() + b"1433041200000,x6,888,v\n"),
        8,
        "=itemid is not an integer: 'x6'",
    ),
    # too long
    Bad(
        "line-over-1-MiB",
        P1,
        line_to(P1, 9, b"1433646000000,229370,202," + b"9" * (1 << 20)),
        9,
        "line longer than",
    ),
]


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[b.id for b in BAD_INPUTS])
def test_bad_input_is_rejected_and_previous_tables_are_kept(settings, tmp_path, bad):
    good = copy_fixtures(tmp_path / "good")
    load(settings, good, progress=False)
    before, log_before = table_contents(settings), log_rows(settings)

    data = copy_fixtures(tmp_path / "bad")
    bad.apply(data)
    if bad.by_warehouse:  # proves the error below comes from the warehouse, not the byte pass
        check_file(FILES[bad.file], data / bad.file)

    with pytest.raises(LoadError) as caught:
        load(settings, data, progress=False)
    error = caught.value
    assert (error.file, error.line) == (bad.file, bad.line)
    if bad.reason.startswith("="):
        assert error.reason == bad.reason[1:]
    else:
        assert bad.reason in error.reason
    where = bad.file if bad.line is None else f"{bad.file} line {bad.line}"
    assert str(error) == f"{where}: {error.reason}"

    assert table_contents(settings) == before
    assert log_rows(settings) == log_before
    assert raw_tables(settings) == RAW_TABLES  # no stray tables


def test_missing_folder_names_the_folder_and_the_four_files(settings, tmp_path):
    with pytest.raises(LoadError) as caught:
        load(settings, tmp_path / "nowhere", progress=False)
    assert caught.value.file == "events.csv" and caught.value.line is None
    assert (
        caught.value.reason
        == f"not found: folder {tmp_path / 'nowhere'} does not exist (it must hold {ALL_FOUR})"
    )


def test_existing_table_with_other_columns_is_not_touched(settings, tmp_path):
    with connect(settings) as wh:
        wh.execute("create schema raw")
        wh.execute("create table raw.raw_rr_events (ts bigint, visitor bigint)")
        wh.execute("insert into raw.raw_rr_events values (1, 2)")
    with pytest.raises(WarehouseError, match=r"raw\.raw_rr_events has columns \['ts', 'visitor'\]"):
        load(settings, copy_fixtures(tmp_path / "data"), progress=False)
    assert raw_tables(settings) == {"raw_rr_events"}
    with connect(settings) as wh:
        assert wh.query("select ts, visitor from raw.raw_rr_events") == [(1, 2)]


def test_failed_first_load_creates_nothing(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    replace_line(data / P2, 3, b"1439694000000,x,976,n26.400")
    with pytest.raises(LoadError):
        load(settings, data, progress=False)
    assert raw_tables(settings) == set()


# ---------------------------------------------------------------------------------------------
# line numbers far into a file: several 1 MiB blocks, a bad line across a block boundary
# ---------------------------------------------------------------------------------------------
def big_events(path: Path, rows: int = 120_000, quoted: bool = False) -> list[int]:
    """A valid events.csv of several MiB; returns the byte offset where each line starts."""
    lines = [b"timestamp,visitorid,event,itemid,transactionid\n"]
    for i in range(rows):
        tid = b"%d" % (i // 3) if i % 50 == 0 else b""
        event = b"transaction" if tid else b"view"
        event = b'"%s"' % event if quoted else event
        lines.append(b"%d,%d,%s,%d,%s\n" % (1433221332117 + i * 997, 100000 + i * 7, event, i % 4999, tid))
    path.write_bytes(b"".join(lines))
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line)
    return starts


@pytest.mark.parametrize(
    ("kind", "mutate", "reason"),
    [
        ("fields", lambda line: line.rsplit(b",", 1)[0], "=expected 5 fields, found 4"),
        ("utf8", lambda line: line.replace(b"view", b"vi\xc3ew"), "=invalid UTF-8 (byte 0xc3)"),
        ("integer", lambda line: line.replace(b",", b",+-", 1), "visitorid is not an integer: '+-"),
        (
            "null",
            lambda line: line.replace(b'"view"', b"").replace(b"view", b""),
            "=event is empty (the column is NOT NULL)",
        ),
    ],
    ids=["fields", "utf8", "integer", "null"],
)
@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_line_numbers_deep_in_a_file(settings, tmp_path, kind, mutate, reason, quoted):
    data = copy_fixtures(tmp_path / "data")
    starts = big_events(data / EV, quoted=quoted)
    # the line that straddles the 3 MiB boundary (blocks are 1 MiB)
    bad_line = next(n for n, start in enumerate(starts, start=1) if start > 3 * READ_SIZE) - 1
    assert starts[bad_line - 1] < 3 * READ_SIZE < starts[bad_line]
    original = physical_line(data / EV, bad_line)
    replace_line(data / EV, bad_line, mutate(original))
    assert physical_line(data / EV, bad_line) != original
    with pytest.raises(LoadError) as caught:
        load(settings, data, progress=False)
    assert (caught.value.file, caught.value.line) == (EV, bad_line)
    if reason.startswith("="):
        assert caught.value.reason == reason[1:]
    else:
        assert reason in caught.value.reason
    assert raw_tables(settings) == set()


def test_large_valid_file_loads_with_exact_row_count(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    big_events(data / EV, rows=120_000)
    report = load(settings, data, progress=False)
    assert report.files[EV].rows == 120_000
    assert table_contents(settings)["raw_rr_events"] == parse_independently(data)["raw_rr_events"]


def test_integer_forms_postgres_accepts_load_on_both(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    replace_line(data / EV, 2, b" 1433221332117 ,+257597,view,007,")
    replace_line(data / EV, 3, b"\t1433224214164,992329,view,248676,-0")
    load(settings, data, progress=False)
    events = table_contents(settings)["raw_rr_events"]
    assert events == parse_independently(data)["raw_rr_events"]
    assert (1433221332117, 257597, "view", 7, None) in events
    assert (1433224214164, 992329, "view", 248676, 0) in events


def test_first_bad_line_is_found_after_unusual_but_valid_integers(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    replace_line(data / EV, 2, b" 1433221332117 ,+257597,view,007,")  # valid, not plain digits
    replace_line(data / EV, 4, b"1433221999827,1111111111111111111,view,318965,")  # 19 digits, valid
    replace_line(data / EV, 12, b"1433224112000,9223372036854775807,view,4294967296123,")
    replace_line(data / EV, 17, b"1433224116000,18,view,19,+-20")
    replace_line(data / EV, 18, b"1436894515469,x,addtocart,10572,")
    with pytest.raises(LoadError) as caught:
        load(settings, data, progress=False)
    assert (caught.value.file, caught.value.line) == (EV, 17)
    assert caught.value.reason == "transactionid is not an integer: '+-20'"


# ---------------------------------------------------------------------------------------------
# translation of genuine warehouse errors (the byte pass normally gets there first)
# ---------------------------------------------------------------------------------------------
MULTILINE = b'timestamp,itemid,property,value\n1,2,3,"a\nb"\n%s\n'


def unchecked(path: Path, quoted: bool = True) -> FileCheck:
    """A FileCheck for a file the byte pass would reject, to reach the warehouse's own errors."""
    return FileCheck(
        path.name, open_source(path.name, path), "", path.stat().st_size, 0, False, False, quoted, 0.0
    )


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (b'x5,2,3,"c\nd"', "timestamp is not an integer: 'x5'"),
        (b'5,2,3,"c\nd",7', "expected 4 fields, found 5"),
        (b'5,2,,"c\nd"', "property is empty (the column is NOT NULL)"),
    ],
)
def test_postgres_context_line_is_mapped_to_the_first_line_of_the_record(
    make_settings, tmp_path, record, reason
):
    import psycopg

    settings = make_settings("postgres")
    path = tmp_path / P1
    path.write_bytes(MULTILINE % record)  # the bad record spans lines 4-5; PostgreSQL says "line 5"
    with connect(settings) as wh, pytest.raises(psycopg.Error) as caught:
        wh.execute(
            'create table t ("timestamp" bigint not null, itemid bigint not null, property text not null, value text)'
        )
        with wh.conn.cursor().copy("copy t from stdin with (format csv, header true)") as copy:
            copy.write(path.read_bytes())
    assert "line 5" in caught.value.diag.context
    error = load_postgres.pg_error(caught.value, FILES[P1], unchecked(path))
    assert (error.file, error.line, error.reason) == (P1, 4, reason)


def test_duckdb_csv_error_line_is_mapped_to_the_physical_line(tmp_path):
    import duckdb

    path = tmp_path / P1
    path.write_bytes(MULTILINE % b"5,2,3")  # record 3 (header = 1) is on physical line 4
    good = tmp_path / P2  # a valid part 2: DuckDB reads both parts in parallel, only part 1 is bad
    good.write_bytes(MULTILINE % b"5,2,3,4")
    table = TABLES["raw_rr_item_properties"]
    checks = {P1: unchecked(path), P2: unchecked(good)}
    with pytest.raises(duckdb.Error) as caught:
        duckdb.connect().execute(load_duckdb.duckdb_select(table, checks)).fetchall()
    assert "CSV Error on Line: 3" in str(caught.value)
    error = load_duckdb.duckdb_error(caught.value, table, checks)
    assert (error.file, error.line, error.reason) == (P1, 4, "expected 4 fields, found 3")


# ---------------------------------------------------------------------------------------------
# interruptions: everything rolls back
# ---------------------------------------------------------------------------------------------
class Interrupted(Exception):
    pass


def test_failure_after_tables_were_replaced_rolls_everything_back(settings, tmp_path, monkeypatch):
    good = copy_fixtures(tmp_path / "good")
    load(settings, good, progress=False)
    before, log_before = table_contents(settings), log_rows(settings)

    changed = copy_fixtures(tmp_path / "changed")
    with open(changed / EV, "a", encoding="utf-8") as f:
        f.write("1440000000000,77,view,88,\n")
    real = loader.LOADERS[settings.target]

    def load_then_fail(wh, table, *args):
        seconds = real(wh, table, *args)
        if table.name == "raw_rr_item_properties":  # the last table: events were already replaced
            raise Interrupted("simulated failure")
        return seconds

    monkeypatch.setitem(loader.LOADERS, settings.target, load_then_fail)
    with pytest.raises(Interrupted):
        load(settings, changed, progress=False)
    assert table_contents(settings) == before
    assert log_rows(settings) == log_before
    assert raw_tables(settings) == RAW_TABLES


def test_interrupted_copy_rolls_back(make_settings, tmp_path, monkeypatch):
    settings = make_settings("postgres")
    good = copy_fixtures(tmp_path / "good")
    load(settings, good, progress=False)
    before, log_before = table_contents(settings), log_rows(settings)

    data = copy_fixtures(tmp_path / "data")
    starts = big_events(data / EV, rows=60_000)
    assert starts[-1] > READ_SIZE  # at least two blocks: the first is sent, then Ctrl-C
    real = load_postgres.copy_blocks

    def interrupted(source, update, digest=None):
        for i, block in enumerate(real(source, update, digest)):
            if i == 1:
                raise KeyboardInterrupt  # Ctrl-C in the middle of COPY FROM STDIN
            yield block

    monkeypatch.setattr(load_postgres, "copy_blocks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load(settings, data, progress=False)
    assert table_contents(settings) == before
    assert log_rows(settings) == log_before


# ---------------------------------------------------------------------------------------------
# units: the byte pass, LoadError
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "line"), [(b"0x1F", 3), (b"1_000", 3), (b"12", None)])
def test_pg16_guard_checks_integers_postgres_16_would_accept(tmp_path, value, line):
    path = tmp_path / CT
    path.write_bytes(b"categoryid,parentid\n1,2\n3," + value + b"\n4,\n")
    assert check_file(FILES[CT], path).rows == 3  # without the guard: the warehouse's job
    if line is None:
        assert check_file(FILES[CT], path, pg16_guard=True).rows == 3
        return
    with pytest.raises(LoadError) as caught:
        check_file(FILES[CT], path, pg16_guard=True)
    assert (caught.value.line, caught.value.reason) == (
        line,
        f"parentid is not an integer: {value.decode()!r}",
    )


def test_check_file_reports_hash_size_rows_and_variants(tmp_path):
    path = tmp_path / EV
    content = b"\xef\xbb\xbf" + (FIXTURES / EV).read_bytes().replace(b"\n", b"\r\n")
    path.write_bytes(content)
    check = check_file(FILES[EV], path)
    assert (check.sha256, check.bytes, check.rows) == (hashlib.sha256(content).hexdigest(), len(content), 18)
    assert (check.bom, check.crlf, check.quoted) == (True, True, False)


def test_load_error_text_and_pickling():
    error = LoadError("events.csv", 1234, "expected 5 fields, found 4")
    assert str(error) == "events.csv line 1234: expected 5 fields, found 4"
    assert isinstance(error, ValueError)
    assert str(LoadError("events.csv", None, "empty file (0 bytes)")) == "events.csv: empty file (0 bytes)"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.file, copy.line, copy.reason, str(copy)) == (
        error.file,
        error.line,
        error.reason,
        str(error),
    )


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def run_cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.dbt_env()}
    return subprocess.run(
        [sys.executable, "-m", "seeds_loader", "load", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_loads_and_fails_with_one_error_line(settings, tmp_path):
    good = copy_fixtures(tmp_path / "good")
    ok = run_cli(settings, "--data-dir", str(good), "--quiet")
    assert ok.returncode == 0, ok.stderr
    assert "raw.raw_rr_events 18 rows" in ok.stdout
    assert "raw.raw_rr_item_properties 22 rows" in ok.stdout
    assert sha256(good / EV)[:12] in ok.stdout

    unchanged = run_cli(settings, "--data-dir", str(good), "--quiet", "--only-changed")
    assert unchanged.returncode == 0, unchanged.stderr
    assert "nothing changed" in unchanged.stdout

    bad = copy_fixtures(tmp_path / "bad")
    replace_line(bad / EV, 3, b"1433224214164,99x329,view,248676,")
    failed = run_cli(settings, "--data-dir", str(bad), "--quiet")
    assert failed.returncode == 1
    assert failed.stderr == "error: events.csv line 3: visitorid is not an integer: '99x329'\n"
    assert table_contents(settings) == parse_independently(good)


# ---------------------------------------------------------------------------------------------
# one open handle per file: what was checked is what is loaded
# ---------------------------------------------------------------------------------------------
def test_a_file_renamed_in_after_its_check_is_not_loaded(settings, tmp_path, monkeypatch):
    """The generator and most delivery tools write a new file beside the old one and rename it into
    place. A rename between the check and the load must not smuggle the new, unchecked file in."""
    data = copy_fixtures(tmp_path / "data")
    checked = parse_independently(data)
    checked_sha = sha256(data / "events.csv")
    swap = tmp_path / "swap.csv"
    swap.write_text("timestamp,visitorid,event,itemid,transactionid\n1,2,not checked,3,\n")
    real = loader.check_file

    def check_then_swap(spec, source, *args, **kwargs):
        result = real(spec, source, *args, **kwargs)
        if spec.name == "events.csv":
            os.replace(swap, data / "events.csv")  # a new delivery lands, checked by no one
        return result

    monkeypatch.setattr(loader, "check_file", check_then_swap)
    report = load(settings, data, progress=False)
    assert table_contents(settings) == checked
    assert report.files["events.csv"].sha256 == checked_sha
    with connect(settings) as wh:
        logged = wh.scalar("select sha256 from raw.raw_rr_load_log where file_name = 'events.csv'")
    assert logged == checked_sha != sha256(data / "events.csv")


def test_a_file_rewritten_in_place_during_a_load_is_refused(settings, tmp_path, monkeypatch):
    data = copy_fixtures(tmp_path / "good")
    load(settings, data, progress=False)
    before, log_before = table_contents(settings), log_rows(settings)
    changed = copy_fixtures(tmp_path / "changed")
    with open(changed / "events.csv", "a", encoding="utf-8") as f:
        f.write("1440000000000,77,view,88,\n")
    real = loader.check_file

    def check_then_append(spec, source, *args, **kwargs):
        result = real(spec, source, *args, **kwargs)
        if spec.name == "events.csv":
            with open(changed / "events.csv", "a", encoding="utf-8") as f:  # the same file, in place
                f.write("1440000000001,78,view,89,\n")
        return result

    monkeypatch.setattr(loader, "check_file", check_then_append)
    with pytest.raises(LoadError) as caught:
        load(settings, changed, progress=False)
    assert caught.value.file == "events.csv" and caught.value.line is None
    assert caught.value.reason in (
        "the file changed between its check and its load (sha256 differs)",  # PostgreSQL
        "DuckDB read 20 rows but the file check counted 19",  # DuckDB: counted before the fstat check
    ) or caught.value.reason.startswith("the file changed while it was being loaded"), caught.value.reason
    assert table_contents(settings) == before
    assert log_rows(settings) == log_before


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink-loop", "dangling-symlink", "device"])
def test_something_else_in_place_of_a_file_is_named(settings, tmp_path, kind):
    data = copy_fixtures(tmp_path / "data")
    path = data / "category_tree.csv"
    path.unlink()
    if kind == "directory":
        path.mkdir()
        expected = f"{path} is a directory, not a regular file"
    elif kind == "fifo":
        os.mkfifo(path)
        expected = f"{path} is a named pipe (FIFO), not a regular file"
    elif kind == "symlink-loop":
        path.symlink_to(path)
        expected = f"{path} is a symbolic link loop, not a file"
    elif kind == "dangling-symlink":
        path.symlink_to(data / "gone.csv")
        expected = f"{path} is a symbolic link to a missing file ({data / 'gone.csv'})"
    else:
        path.symlink_to("/dev/null")
        expected = f"{path} is a character device, not a regular file"
    with pytest.raises(LoadError) as caught:
        load(settings, data, progress=False)
    assert (caught.value.file, caught.value.line, caught.value.reason) == (
        "category_tree.csv",
        None,
        expected,
    )
    assert "not found" not in str(caught.value)
    assert raw_tables(settings) == set()  # nothing half-written


# ---------------------------------------------------------------------------------------------
# which dates a delivery changed
# ---------------------------------------------------------------------------------------------
def test_each_load_names_the_dates_it_changed(settings, tmp_path):
    from seeds_loader.rules import kst_date

    data = copy_fixtures(tmp_path / "data")
    first = load(settings, data, progress=False)
    assert first.load_id == 1
    assert first.changes.undated == ["category_tree.csv loaded for the first time"]
    event_dates = {kst_date(ts) for ts, *_ in parse_independently(data)["raw_rr_events"]}
    property_dates = {kst_date(ts) for ts, *_ in parse_independently(data)["raw_rr_item_properties"]}
    assert first.changes.first_changed_date == min(event_dates | property_dates)

    same = load(settings, data, progress=False)  # the same rows again: nothing changed
    assert same.load_id == 2 and same.changes.first_changed_date is None
    assert same.changes.describe() == "none"

    # one changed row of one date, one added row of a new date, the rest untouched
    lines = (data / "events.csv").read_text().splitlines()
    victim = next(i for i, line in enumerate(lines[1:], 1) if ",view," in line)
    ts = int(lines[victim].split(",")[0])
    lines[victim] = lines[victim].replace(",view,", ",addtocart,")
    lines.append("1442000000000,77,view,88,")  # 2015-09-12 KST
    (data / "events.csv").write_text("\n".join(lines) + "\n")
    third = load(settings, data, only_changed=True, progress=False)
    changed = sorted({kst_date(ts), dt.date(2015, 9, 12)})
    assert third.load_id == 3 and [f.file_name for f in third.loaded] == ["events.csv"]
    assert third.changes.changed == set(changed)
    assert third.changes.first_changed_date == changed[0]
    with connect(settings) as wh:
        rows = wh.query(
            "select load_id, first_changed_date, changed_date_count, changed_dates from raw.raw_rr_loads order by 1"
        )
        spine = wh.query(
            "select fp_date, row_count from raw.raw_rr_date_fingerprints where source = 'events' and load_id = 3 "
            "order by 1"
        )
    assert rows[1] == (2, None, 0, "none")
    assert rows[2][:3] == (3, changed[0], len(changed))
    assert rows[2][3].endswith("(events.csv)")
    independent = Counter(kst_date(ts) for ts, *_ in parse_independently(data)["raw_rr_events"].elements())
    assert dict(spine) == dict(independent)

    # the category tree has no dates: its change touches every date
    with open(data / "category_tree.csv", "a", encoding="utf-8") as f:
        f.write("999999,\n")
    tree = load(settings, data, only_changed=True, progress=False)
    assert tree.changes.undated == ["category_tree.csv changed"]
    assert tree.changes.describe() == "all dates (category_tree.csv changed)"
    assert tree.changes.first_changed_date == min(event_dates | property_dates | {dt.date(2015, 9, 12)})


def test_what_a_load_left_before_its_raw_rr_loads_row_is_ignored_and_replaced(settings, tmp_path):
    """A load counts once its raw_rr_loads row exists. Spark (no transactions) can be killed while
    a load records itself: fingerprints and log rows of a load id with no raw_rr_loads row, and the
    marker raw.raw_rr_load_unfinished. Written here by hand, with values that would mislead: the
    next load must not compare with them, reuse their id, or trust their file hashes."""
    data = copy_fixtures(tmp_path / "data")
    first = load(settings, data, progress=False)
    with connect(settings) as wh:
        wh.execute(
            "insert into raw.raw_rr_date_fingerprints (load_id, source, fp_date, row_count, fingerprint) "
            "values (2, 'events', %s, 999, 'bogus')",
            (dt.date(2015, 6, 1),),
        )
        wh.execute(
            "insert into raw.raw_rr_load_log (file_name, table_name, sha256, bytes, rows, loaded_at, seconds, "
            "load_id, notes) values ('events.csv', 'raw_rr_events', %s, 1, 1, %s, 0, 2, '')",
            ("0" * 64, dt.datetime(2099, 1, 1)),
        )
        wh.execute("create table raw.raw_rr_load_unfinished (load_id bigint)")
    assert last_loads(settings)["events.csv"].sha256 == sha256(data / "events.csv")  # not the orphan's
    again = load(settings, data, only_changed=True, progress=False)
    assert again.load_id == 3  # 2 is taken by the leftovers
    assert len(again.loaded) == len(FILES)  # every file, though none differs from load 1
    assert again.changes.describe() == "none", again.changes.describe()  # compared with load 1
    assert first.changes.first_changed_date is not None
    with connect(settings) as wh:
        assert not wh.table_exists("raw", "raw_rr_load_unfinished")
    assert load(settings, data, only_changed=True, progress=False).load_id is None  # settled


def test_cli_prints_the_changed_dates_and_warns_of_a_cut_file(settings, tmp_path):
    data = copy_fixtures(tmp_path / "data")
    first = run_cli(settings, "--data-dir", str(data), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "Asia/Seoul dates changed: all dates (category_tree.csv loaded for the first time)" in first.stdout
    events = data / "events.csv"
    events.write_bytes(
        events.read_bytes() + b"1442000000000,77,transaction,88,123"
    )  # cut inside its last line
    second = run_cli(settings, "--data-dir", str(data), "--quiet", "--only-changed")
    assert second.returncode == 0, second.stderr
    assert "Asia/Seoul dates changed: 2015-09-12 (events.csv)" in second.stdout
    assert (
        "warning: events.csv: no line ending after the last line (line 20): was the file cut?"
        in second.stdout
    )
