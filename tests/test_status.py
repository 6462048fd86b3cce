"""The raw-coverage rule (seeds_loader/status.py): which dates the raw events cover, completely or
in part, and the date a run started without one reports on. Checked by hand against Asia/Seoul
wall-clock times (UTC+9)."""

from __future__ import annotations

import datetime as dt

import pytest

from seeds_loader.status import COMPLETE, PARTIAL, UNCOVERED, RawStatus
from tests.golden_data import kst_ms

# the real extract: 2015-05-03 12:00 KST .. 2015-09-18 11:59 KST
REAL = RawStatus(2_756_101, kst_ms("2015-05-03", "12:00:00"), kst_ms("2015-09-18", "11:59:00"))


@pytest.mark.parametrize(
    ("day", "state"),
    [
        ("2015-05-02", UNCOVERED),
        ("2015-05-03", PARTIAL),  # starts at noon
        ("2015-05-04", COMPLETE),
        ("2015-09-17", COMPLETE),
        ("2015-09-18", PARTIAL),  # stops before noon
        ("2015-09-19", UNCOVERED),
        ("2026-11-30", UNCOVERED),
    ],
)
def test_coverage_of_the_real_extract(day: str, state: str) -> None:
    coverage = REAL.coverage(dt.date.fromisoformat(day))
    assert coverage.state == state
    assert coverage.usable is (state != UNCOVERED)


def test_coverage_messages_name_the_dates_and_times() -> None:
    assert REAL.coverage(dt.date(2026, 11, 30)).message == (
        "the raw data ends on 2015-09-18 (the raw events run from 2015-05-03 12:00 KST to "
        "2015-09-18 11:59 KST): nothing covers 2026-11-30; load a delivery that covers it, or run a "
        "date up to 2015-09-17"
    )
    assert REAL.coverage(dt.date(2015, 9, 18)).message.startswith(
        "2015-09-18 is the last day of the raw data and partial"
    )
    assert REAL.coverage(dt.date(2015, 5, 1)).message.startswith("the raw data starts on 2015-05-03")


def test_a_date_is_the_seoul_date_not_the_utc_one() -> None:
    # last event 2015-09-17 15:30 UTC = 2015-09-18 00:30 KST: the 18th has begun in Seoul
    status = RawStatus(10, kst_ms("2015-09-01", "10:00:00"), kst_ms("2015-09-18", "00:30:00"))
    assert status.last_event_date == dt.date(2015, 9, 18)
    assert status.coverage(dt.date(2015, 9, 17)).state == COMPLETE
    assert status.coverage(dt.date(2015, 9, 18)).state == PARTIAL


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # historical data: the scheduled date (yesterday in Seoul) is not covered -> last complete day
        (dt.datetime(2026, 12, 1, 2, 30, tzinfo=dt.UTC), "2015-09-17"),
        # live data: 2015-09-17 10:00 UTC = 19:00 KST on the 17th -> yesterday, the 16th, is complete
        (dt.datetime(2015, 9, 17, 10, 0, tzinfo=dt.UTC), "2015-09-16"),
        # 2015-09-17 16:00 UTC = 01:00 KST on the 18th -> yesterday is the 17th, complete
        (dt.datetime(2015, 9, 17, 16, 0, tzinfo=dt.UTC), "2015-09-17"),
        # 2015-09-18 16:00 UTC = the 19th in Seoul -> yesterday (the 18th) is partial -> the 17th
        (dt.datetime(2015, 9, 18, 16, 0, tzinfo=dt.UTC), "2015-09-17"),
    ],
)
def test_default_report_date(now: dt.datetime, expected: str) -> None:
    assert REAL.default_report_date(now).isoformat() == expected
