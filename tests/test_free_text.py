"""Free text (the vars pipeline_run_id and window_note): one rule, in Python
(seeds_loader/rules.py free_text_problem) and in dbt (macro rr_free_text_problem), fed the same
inputs and required to give the same verdicts, word for word; and rules.one_line, the escaping of
free text written into a line-oriented file.

The inputs reach dbt as `--args` / `--vars` JSON (json.dumps escapes a newline as \\n inside a
JSON string; YAML, which reads them, decodes it back): some verdicts below can only come from a
macro that received the real control character.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from seeds_loader import rules
from tests.dbt_support import DBT, DBT_PROJECT_DIR

RULE = "{name} must be one line of at most {max} characters without control characters"
# every character the rule refuses: Unicode's Cc, Zl and Zp
REFUSED = [chr(cp) for cp in [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]]
# what str.splitlines (and so a key=value or CSV reader in Python) ends a line at
LINE_BREAKS = "\n\x0b\x0c\r\x1c\x1d\x1e\x85\u2028\u2029"
DATE_PLACEHOLDER = "__a YAML date, not a string__"


def inputs(max_length: int) -> list[tuple[object, str | None]]:
    """(value, None when valid else what the message says after "got ")."""
    return [
        # Airflow's run ids and the Make targets' ones
        ("manual__2026-12-07T10:00:00+00:00", None),
        ("scheduled__2026-12-06T15:00:00+00:00", None),
        ("asset_triggered__2026-12-07T10:00:00.123456+00:00", None),
        ("manual_backfill_2015-09-15", None),
        # notes: letters of any script, spaces, punctuation, quotes, markup, a literal backslash
        ("원천 데이터 변경으로 2015-09-09부터 재계산", None),
        ("rebuilt from 2015-09-09: raw data changed (events.csv); 'a' \"b\" <i>&amp; = ; #", None),
        ("  padded on both sides  ", None),  # spaces are text: kept, not refused
        (" ", None),
        ("a\\nb C:\\temp\\x41", None),  # backslashes and letters, not control characters
        ("zero\u200bwidth\u200djoiner\u202eRLO\ufeff", None),  # format characters (Cf) are allowed
        ("no-break\u00a0space, ideographic\u3000space", None),  # Zs is a space
        ("x" * max_length, None),
        ("가" * max_length, None),  # characters, not bytes (3 bytes each in UTF-8)
        ("x" * (max_length + 1), f"{max_length + 1} characters"),
        ("", "an empty string"),
        # a line break or a control character: the first one, escaped, and where it is
        ("x\ncvr_session_to_purchase=0.8888", "a line break (\\n) at character 2"),
        ("\n", "a line break (\\n) at character 1"),
        ("\r\n", "a line break (\\r) at character 1"),
        ("line one\rline two", "a line break (\\r) at character 9"),
        ("a\tb", "a control character (\\t) at character 2"),
        ("\x00", "a control character (\\x00) at character 1"),
        ("\x1b[31mred\x1b[0m", "a control character (\\x1b) at character 1"),
        ("del\x7f", "a control character (\\x7f) at character 4"),
        ("nel\x85", "a line break (\\x85) at character 4"),
        ("\x0b", "a line break (\\x0b) at character 1"),
        ("\x0c", "a line break (\\x0c) at character 1"),
        ("\x1e", "a line break (\\x1e) at character 1"),
        ("\x9f", "a control character (\\x9f) at character 1"),
        ("ls\u2028", "a line break (\\u2028) at character 3"),
        ("ps\u2029", "a line break (\\u2029) at character 3"),
        ("가\n", "a line break (\\n) at character 2"),
        # a refused character comes before the length
        ("x" * (max_length + 1) + "\n", f"a line break (\\n) at character {max_length + 2}"),
        # not text at all (what YAML makes of an unquoted value)
        (None, None),  # absent
        (123, "a number, not text"),
        (1.5, "a number, not text"),
        (True, "a boolean, not text"),
        (False, "a boolean, not text"),
        (["a"], "a list, not text"),
        ({"a": "b"}, "a mapping, not text"),
        (DATE_PLACEHOLDER, "a date, not text"),
    ]


LIMITS = [("pipeline_run_id", rules.PIPELINE_RUN_ID_MAX), ("window_note", rules.WINDOW_NOTE_MAX)]


def _python_value(value: object) -> object:
    return dt.date(2015, 9, 15) if value == DATE_PLACEHOLDER else value


def _expected(name: str, max_length: int, got: str | None) -> str | None:
    return None if got is None else f"{RULE.format(name=name, max=max_length)}; got {got}"


def _dbt(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`dbt <args>` on the project, with its own target path and a throw-away DuckDB file."""
    return subprocess.run(
        [
            str(DBT),
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env={
            **os.environ,
            "RR_DUCKDB_PATH": str(tmp_path / "unused.duckdb"),
            "RR_TARGET": "duckdb",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        },
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _printed(proc: subprocess.CompletedProcess, prefix: str) -> object:
    lines = [line for line in proc.stdout.splitlines() if line.startswith(prefix + " ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1].removeprefix(prefix + " "))


# ---------------------------------------------------------------------------------------------
# the rule in Python
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "max_length"), LIMITS)
def test_python_rule_on_every_input(name, max_length):
    for value, got in inputs(max_length):
        value = _python_value(value)
        expected = _expected(name, max_length, got)
        assert rules.free_text_problem(value, name, max_length) == expected, repr(value)[:80]
        if expected is None:
            assert rules.parse_free_text(value, name, max_length) is value
        else:
            with pytest.raises(rules.FreeTextError) as info:
                rules.parse_free_text(value, name, max_length)
            assert str(info.value) == expected
            assert isinstance(info.value, ValueError)


def test_the_limits_are_the_history_columns():
    assert (rules.PIPELINE_RUN_ID_MAX, rules.WINDOW_NOTE_MAX) == (250, 900)
    message = rules.free_text_problem("x\ncvr_session_to_purchase=0.8888", "var window_note", 900)
    assert message == (
        "var window_note must be one line of at most 900 characters without control characters; "
        "got a line break (\\n) at character 2"
    )


def test_refused_characters_are_exactly_cc_zl_zp():
    """Over every code point: refused <=> Unicode category Cc, Zl or Zp (Cf, the zero-width space
    among them, is allowed); and "a line break" is said of exactly what str.splitlines splits on."""
    refused, said_line_break = [], []
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        problem = rules.free_text_problem("a" + c, "t", 10)
        if problem is not None:
            refused.append(c)
            if "; got a line break (" in problem:
                said_line_break.append(c)
    assert refused == REFUSED
    assert refused == [
        chr(cp) for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) in {"Cc", "Zl", "Zp"}
    ]
    assert "".join(said_line_break) == LINE_BREAKS
    assert [c for c in REFUSED if len(f"a{c}b".splitlines()) == 2] == list(LINE_BREAKS)
    assert rules.free_text_problem("\u200b", "t", 10) is None
    assert unicodedata.category("\u200b") == "Cf"


def test_a_message_is_itself_one_line_and_never_repeats_the_text():
    for value, _got in inputs(20):
        problem = rules.free_text_problem(_python_value(value), "t", 20)
        if problem is not None:
            assert rules.free_text_problem(problem, "message", 10_000) is None, problem
            if isinstance(value, str) and len(value) > 3:
                assert value not in problem


# ---------------------------------------------------------------------------------------------
# one_line: free text written into a line
# ---------------------------------------------------------------------------------------------
_ESCAPE_RE = re.compile(r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|(.))", re.DOTALL)


def _read_back(line: str) -> str:
    """The inverse of rules.one_line: proves that its escaping is reversible."""

    def char(m: re.Match) -> str:
        if m.group(3) is not None:
            return {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}[m.group(3)]
        return chr(int(m.group(1) or m.group(2), 16))

    return _ESCAPE_RE.sub(char, line)


def test_one_line_escapes_every_refused_character_visibly_and_reversibly():
    for c in REFUSED:
        escaped = rules.one_line(c)
        assert escaped == repr(c)[1:-1]  # the escapes of Python's repr, as the dbt macro says them
        assert escaped.startswith("\\") and escaped.isprintable() and escaped.isascii()
        assert rules.free_text_problem(escaped, "t", 10) is None
        assert _read_back(escaped) == c
    assert rules.one_line("\n\r\t\x00\x85\u2028") == "\\n\\r\\t\\x00\\x85\\u2028"
    everything = "".join(REFUSED) + "\\ \\n \\\\ 가 \u200b end\\"
    line = rules.one_line(everything)
    assert len(line.splitlines()) == 1 and rules.free_text_problem(line, "t", 10_000) is None
    assert _read_back(line) == everything


def test_one_line_doubles_a_backslash_and_keeps_valid_text():
    assert rules.one_line("C:\\temp") == "C:\\\\temp"
    assert rules.one_line("a\\nb") == "a\\\\nb"  # a backslash and an n: not a newline on reading back
    assert _read_back(rules.one_line("a\\nb")) == "a\\nb"
    assert _read_back(rules.one_line("a\nb")) == "a\nb"
    for text in [
        "manual__2026-12-07T10:00:00+00:00",
        "원천 데이터 변경",
        "  spaces  ",
        "zero\u200bwidth",
        "",
    ]:
        assert rules.one_line(text) == text


def test_a_forged_line_stays_on_its_line():
    note = "x\ncvr_session_to_purchase=0.8888\r\nsessions=1\u2028gate_nulls=pass\x85is_certified=true"
    summary = f"window_note={rules.one_line(note)}\ncvr_session_to_purchase=0.0123\n"
    lines = summary.splitlines()
    assert len(lines) == 2
    pairs = dict(line.split("=", 1) for line in lines)
    assert pairs["cvr_session_to_purchase"] == "0.0123"
    assert set(pairs) == {"window_note", "cvr_session_to_purchase"}
    assert _read_back(pairs["window_note"]) == note
    with pytest.raises(rules.FreeTextError):
        rules.parse_free_text(note, "window_note", rules.WINDOW_NOTE_MAX)


# ---------------------------------------------------------------------------------------------
# the same rule in dbt
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "max_length"), LIMITS)
def test_dbt_gives_the_same_verdicts_as_python(name, max_length, tmp_path):
    """One dbt call evaluates every input (and "a" + each refused character, and their
    neighbours) with the macro that validates the vars, and must say what Python says."""
    cases = inputs(max_length)
    neighbours = ["\x1f", " ", "~", "\x7f", "\x9f", "\xa0", "\u2027", "\u2028", "\u2029", "\u202a"]
    values = [v for v, _ in cases] + ["a" + c for c in REFUSED] + ["a" + c for c in neighbours]
    args = json.dumps({"values": values, "max_length": max_length, "name": name})
    assert "\n" not in args and args.isascii()  # every control character travels as a JSON escape
    # an unquoted date in the YAML that dbt reads --args with is a date, not a string
    args = args.replace(json.dumps(DATE_PLACEHOLDER), "2015-09-15")
    proc = _dbt(tmp_path, "run-operation", "rr_check_free_texts", "--args", args)
    verdicts = _printed(proc, "RR_FREE_TEXT_VERDICTS")
    assert len(verdicts) == len(values)
    python = [rules.free_text_problem(_python_value(v), name, max_length) for v in values]
    for value, dbt_says, python_says in zip(values, verdicts, python, strict=True):
        assert dbt_says == python_says, (repr(value)[:80], dbt_says, python_says)
    # and both say what the table above says
    assert verdicts[: len(cases)] == [_expected(name, max_length, got) for _, got in cases]
    # a refusal that only a real newline can cause reached dbt (and "a\\nb", a backslash and an
    # n, did not become one)
    forged = values.index("x\ncvr_session_to_purchase=0.8888")
    assert verdicts[forged].endswith("; got a line break (\\n) at character 2")
    assert verdicts[values.index("a\\nb C:\\temp\\x41")] is None
    assert _printed(proc, "RR_FREE_TEXT_LIMITS") == {
        "pipeline_run_id": rules.PIPELINE_RUN_ID_MAX,
        "window_note": rules.WINDOW_NOTE_MAX,
    }


def test_dbt_vars_are_validated_by_rr_free_text_var(tmp_path):
    """rr_free_text_var reads the var itself: set and valid, unset (null in dbt_project.yml)."""
    run_id, note = "manual__2026-12-07T10:00:00+00:00", "rebuilt from 2015-09-09: 원천 데이터 변경"
    proc = _dbt(
        tmp_path,
        "run-operation",
        "rr_check_free_text_vars",
        "--vars",
        json.dumps({"pipeline_run_id": run_id, "window_note": note}),
    )
    assert _printed(proc, "RR_FREE_TEXT_VARS") == {"pipeline_run_id": run_id, "window_note": note}
    proc = _dbt(tmp_path, "run-operation", "rr_check_free_text_vars")
    assert _printed(proc, "RR_FREE_TEXT_VARS") == {"pipeline_run_id": None, "window_note": None}
    # an empty var is absent: what an Airflow template with no value renders (the DAG's note)
    proc = _dbt(
        tmp_path, "run-operation", "rr_check_free_text_vars", "--vars", json.dumps({"window_note": ""})
    )
    assert _printed(proc, "RR_FREE_TEXT_VARS") == {"pipeline_run_id": None, "window_note": None}


def test_dbt_refuses_a_forged_window_note(tmp_path):
    """The report summary's forgery of the brief: dbt fails naming the var, and nothing it
    prints starts a line with the forged key."""
    proc = _dbt(
        tmp_path,
        "run-operation",
        "rr_check_free_text_vars",
        "--vars",
        json.dumps({"window_note": "x\ncvr_session_to_purchase=0.8888"}),
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert (
        "var window_note must be one line of at most 900 characters without control characters; "
        "got a line break (\\n) at character 2"
    ) in output, output[-3000:]
    assert not any(line.lstrip().startswith("cvr_session_to_purchase=") for line in output.splitlines())
    assert "RR_FREE_TEXT_VARS" not in output
