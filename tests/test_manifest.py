"""The manifest beside each report set: written by hand here (a few bytes per report file), then
checked by :mod:`exports.manifest` and by the real GNU ``sha256sum -c``."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from exports.manifest import (
    ManifestError,
    manifest_name,
    parse_manifest,
    render_manifest,
    report_dates,
    verify_folder,
    verify_report_set,
)
from exports.report import report_names

D = dt.date(2015, 9, 17)
SHA256SUM = shutil.which("sha256sum")
needs_sha256sum = pytest.mark.skipif(SHA256SUM is None, reason="GNU coreutils sha256sum not installed")


def write_report_set(folder: Path, d: dt.date = D) -> dict[str, bytes]:
    files = {name: f"{kind} of {d}\n".encode() for kind, name in report_names(d).items()}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / manifest_name(d)).write_bytes(render_manifest(files, report_date=d))
    return files


def sha256sum_check(folder: Path, d: dt.date = D) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SHA256SUM, "--strict", "-c", manifest_name(d)],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_manifest_name():
    assert manifest_name(D) == "rr_report_files_2015-09-17.sha256"


def test_render_format():
    files = {"b.csv": b"b", "a.html": b"a"}
    text = render_manifest(files, report_date=D).decode("utf-8")
    lines = text.split("\n")
    assert text.endswith("\n") and "\r" not in text
    comments = [line for line in lines if line.startswith("#")]
    assert comments and all(line.startswith("# ") for line in comments)
    assert "2015-09-17" in comments[0] and "sha256sum -c rr_report_files_2015-09-17.sha256" in comments[0]
    assert lines[len(comments) :] == [f"{sha(b'a')}  a.html", f"{sha(b'b')}  b.csv", ""]
    assert parse_manifest(text.encode(), "m") == {"a.html": sha(b"a"), "b.csv": sha(b"b")}
    # without a date: the same entries, a generic comment
    assert parse_manifest(render_manifest(files), "m") == parse_manifest(text.encode(), "m")


@pytest.mark.parametrize(
    "name", ["a\nb.csv", "../x", "dir/x.csv", "a\\b.csv", "tab\there", "", "..", "del\x7f"]
)
def test_render_refuses_names_that_are_not_plain(name):
    with pytest.raises(ValueError):
        render_manifest({"rr_report_2015-09-17.html": b"x", name: b"y"})


def test_render_refuses_an_empty_set():
    with pytest.raises(ValueError):
        render_manifest({})


@needs_sha256sum
def test_untouched_report_set_verifies(tmp_path):
    write_report_set(tmp_path)
    check = verify_report_set(tmp_path, D)
    assert check.ok and check.problems() == []
    assert check.date == D and check.manifest == tmp_path / "rr_report_files_2015-09-17.sha256"
    result = sha256sum_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # the comment lines draw no "improperly formatted" warning
    assert sorted(result.stdout.splitlines()) == sorted(f"{n}: OK" for n in report_names(D).values())


@needs_sha256sum
@pytest.mark.parametrize("kind", ["html", "summary", "cohort"])
def test_an_edited_file_is_named_with_both_hashes(tmp_path, kind):
    files = write_report_set(tmp_path)
    name = report_names(D)[kind]
    edited = files[name] + b"edited after the export\n"
    (tmp_path / name).write_bytes(edited)

    check = verify_report_set(tmp_path, D)
    assert not check.ok
    assert [(x.name, x.expected, x.actual) for x in check.differ] == [(name, sha(files[name]), sha(edited))]
    assert check.problems() == [
        f"{name} differs from its manifest (sha256 {sha(edited)} expected {sha(files[name])})"
    ]
    result = sha256sum_check(tmp_path)
    assert result.returncode != 0
    assert f"{name}: FAILED" in result.stdout


def test_a_deleted_file_is_named_missing(tmp_path):
    write_report_set(tmp_path)
    name = report_names(D)["crm"]
    (tmp_path / name).unlink()
    check = verify_report_set(tmp_path, D)
    assert check.missing == (name,)
    assert check.problems() == [f"{name} is listed in rr_report_files_2015-09-17.sha256 but missing"]


def test_a_report_file_the_manifest_does_not_list_is_named(tmp_path):
    files = write_report_set(tmp_path)
    html = report_names(D)["html"]
    del files[html]
    (tmp_path / manifest_name(D)).write_bytes(render_manifest(files, report_date=D))
    check = verify_report_set(tmp_path, D)
    assert check.unlisted == (html,)
    assert check.problems() == [
        f"{html} is a report file of 2015-09-17 but rr_report_files_2015-09-17.sha256 does not list it"
    ]


def test_a_removed_manifest_is_named_for_every_file(tmp_path):
    write_report_set(tmp_path)
    (tmp_path / manifest_name(D)).unlink()
    check = verify_report_set(tmp_path, D)
    assert check.manifest_missing and not check.ok
    problems = check.problems()
    assert len(problems) == len(report_names(D))
    assert (
        "rr_pipeline_summary_2015-09-17.txt has no manifest (rr_report_files_2015-09-17.sha256 is "
        "missing): it was not written by this version's export, or the manifest was removed"
    ) in problems


def test_a_date_without_anything_is_not_ok(tmp_path):
    check = verify_report_set(tmp_path, D)
    assert check.problems() == [
        "rr_report_files_2015-09-17.sha256 is missing, and so is every report file of 2015-09-17"
    ]


def test_a_malformed_line_names_the_manifest_and_the_line(tmp_path):
    write_report_set(tmp_path)
    manifest = tmp_path / manifest_name(D)
    lines = manifest.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"  ", b" ", 1)  # the first entry, after two comment lines
    manifest.write_bytes(b"\n".join(lines))

    expected = "rr_report_files_2015-09-17.sha256 line 3: expected '<64 hex digits>  <file name>'"
    with pytest.raises(ManifestError) as error:
        parse_manifest(manifest.read_bytes(), manifest.name)
    assert str(error.value) == expected
    check = verify_report_set(tmp_path, D)
    assert check.manifest_error == expected and check.problems() == [expected]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"0" * 63 + b"  a.csv", "expected '<64 hex digits>  <file name>'"),
        (b"0" * 64 + b" *a.csv", "expected '<64 hex digits>  <file name>'"),
        (b"", "expected '<64 hex digits>  <file name>'"),
        (b"0" * 64 + b"  a.csv\r", "has a control character"),
        (b"0" * 64 + b"  \xff.csv", "not UTF-8"),
        (b"0" * 64 + b"  b.csv", "b.csv is listed twice"),
    ],
)
def test_parse_is_strict(line, problem):
    data = b"# c\n" + b"1" * 64 + b"  b.csv\n" + line + b"\n"
    with pytest.raises(ManifestError, match="^m.sha256 line 3: ") as error:
        parse_manifest(data, "m.sha256")
    assert problem in str(error.value)


def test_parse_refuses_a_manifest_without_entries():
    with pytest.raises(ManifestError, match="m.sha256: lists no files"):
        parse_manifest(b"# only a comment\n", "m.sha256")


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "sub/x.csv"])
def test_a_path_outside_the_folder_is_refused_and_never_read(tmp_path, name):
    folder = tmp_path / "reports"
    folder.mkdir()
    outside = tmp_path / "x"
    outside.write_bytes(b"outside\n")
    write_report_set(folder)
    manifest = folder / manifest_name(D)
    manifest.write_bytes(manifest.read_bytes() + (sha(b"outside\n") + f"  {name}\n").encode())

    check = verify_report_set(folder, D)
    assert check.differ == () and check.missing == ()
    assert check.manifest_error is not None
    assert check.manifest_error.startswith("rr_report_files_2015-09-17.sha256 line 8: ")
    assert "path separator" in check.manifest_error


def test_a_symbolic_link_is_not_followed(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    files = write_report_set(folder)
    name = report_names(D)["funnel"]
    (tmp_path / "elsewhere.csv").write_bytes(files[name])
    (folder / name).unlink()
    (folder / name).symlink_to(tmp_path / "elsewhere.csv")
    check = verify_report_set(folder, D)
    assert check.unreadable == ((name, "it is a symbolic link"),)
    assert check.problems() == [
        f"{name} is listed in rr_report_files_2015-09-17.sha256 but cannot be read: it is a symbolic link"
    ]


def test_report_dates_and_verify_folder(tmp_path):
    d1, d2 = dt.date(2015, 9, 16), D
    write_report_set(tmp_path, d2)
    write_report_set(tmp_path, d1)
    (tmp_path / manifest_name(d1)).unlink()  # d1 written by an older export: no manifest
    (tmp_path / ".rr_report_2015-09-18.html.tmp-1234").write_bytes(b"half written")
    (tmp_path / ".rr_report_files_2015-09-19.sha256.tmp-99").write_bytes(b"half written")
    (tmp_path / "README.txt").write_bytes(b"unrelated")
    (tmp_path / "rr_report_2015-09-20.html.bak").write_bytes(b"unrelated")
    (tmp_path / "notes").mkdir()
    # a date with nothing but its manifest still counts
    (tmp_path / manifest_name(dt.date(2015, 9, 14))).write_bytes(
        render_manifest({"rr_funnel_daily_2015-09-14.csv": b"x"})
    )

    assert report_dates(tmp_path) == [dt.date(2015, 9, 14), d1, d2]
    checks = verify_folder(tmp_path)
    assert [c.date for c in checks] == [dt.date(2015, 9, 14), d1, d2]
    assert [c.ok for c in checks] == [False, False, True]
    assert checks[0].missing == ("rr_funnel_daily_2015-09-14.csv",)
    assert checks[1].manifest_missing and len(checks[1].unlisted) == 5


@pytest.mark.parametrize("name", ["rr_report_2015-02-30.html", "rr_funnel_daily_latest.csv"])
def test_an_invalid_date_in_a_file_name_is_reported(tmp_path, name):
    write_report_set(tmp_path)
    (tmp_path / name).write_bytes(b"?")
    with pytest.raises(ManifestError) as error:
        report_dates(tmp_path)
    message = str(error.value)
    assert f"the date in {name}" in message and "\n" not in message
    with pytest.raises(ManifestError):
        verify_folder(tmp_path)
