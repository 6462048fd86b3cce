"""Time frame of the generated data: the event window, its volume profile, the property snapshots.

All times are epoch milliseconds (UTC). Downstream reports count days in Asia/Seoul (UTC+9, no
daylight saving time in 2015), so the window is described in KST dates: it starts at 12:00:04
KST on 2015-05-03 and ends at 11:59:47 KST on 2015-09-18, like the real file, whatever the scale.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from seeds_loader.rules import DAY_MS, kst_offset_ms

HOUR_MS = 3_600_000
KST_OFFSET_MS = kst_offset_ms()  # the project's one definition (dbt_project.yml vars)

# REFERENCE.md: min and max timestamp of events.csv
T_BEGIN = 1_430_622_004_384  # 2015-05-03 03:00:04.384 UTC = 12:00:04 KST
T_END = 1_442_545_187_788  # 2015-09-18 02:59:47.788 UTC = 11:59:47 KST
FIRST_KST_DAY = (T_BEGIN + KST_OFFSET_MS) // DAY_MS  # days since 1970-01-01 of 2015-05-03
N_KST_DATES = int((T_END + KST_OFFSET_MS) // DAY_MS - FIRST_KST_DAY + 1)  # 139

# Daily volume (REFERENCE.md): median day ~20,600 events, busiest 32,703 on 2015-07-26, the
# partial last day 1,528, and 2,756,101 events in all (so the mean day is below the median).
# The shape below is our assumption: a ramp-up over May and June, a summer plateau, a slight fall
# in September, times a weekly cycle (Monday first, quiet weekend).
MEDIAN_DAY_EVENTS = 20_600
BUSIEST_DAY_EVENTS = 32_703
BUSIEST_DATE = dt.date(2015, 7, 26)
LAST_DAY_EVENTS = 1_528
WEEKDAY_FACTOR = (1.07, 1.08, 1.06, 1.04, 0.96, 0.85, 0.92)
TREND_KNOTS = ((0, 0.66), (25, 0.8), (50, 1.02), (100, 1.03), (125, 1.0), (138, 0.95))
# Share of a day's events per UTC hour (unnormalised): quiet UTC night, busy European evening.
HOUR_WEIGHT = (
    3.0, 2.2, 1.6, 1.3, 1.4, 2.0, 2.9, 3.7, 4.2, 4.5, 4.6, 4.7,
    4.8, 5.0, 5.2, 5.4, 5.8, 6.1, 6.3, 6.2, 5.7, 5.0, 4.3, 3.6,
)  # fmt: skip

# Item properties: weekly snapshots at 03:00 UTC from 2015-05-10 to 2015-09-13 (18 distinct
# timestamps, 7 or 14 days apart): one Sunday of the 19 is missing. Which one is not published;
# we leave out 2015-07-19.
_SNAPSHOT_MISSING = dt.date(2015, 7, 19)
SNAPSHOT_DATES = tuple(
    d for d in (dt.date(2015, 5, 10) + dt.timedelta(weeks=w) for w in range(19)) if d != _SNAPSHOT_MISSING
)
SNAPSHOT_MS = np.array(
    [int(dt.datetime(d.year, d.month, d.day, 3, tzinfo=dt.UTC).timestamp()) * 1000 for d in SNAPSHOT_DATES],
    dtype=np.int64,
)


def kst_date_index(ts: np.ndarray) -> np.ndarray:
    """0-based index of the Asia/Seoul calendar date of each timestamp (0 = 2015-05-03)."""
    return (np.asarray(ts, dtype=np.int64) + KST_OFFSET_MS) // DAY_MS - FIRST_KST_DAY


def kst_midnight_ms(date_index: np.ndarray) -> np.ndarray:
    """UTC epoch ms of 00:00 KST of the given date indexes (15:00 UTC the day before)."""
    return (np.asarray(date_index, dtype=np.int64) + FIRST_KST_DAY) * DAY_MS - KST_OFFSET_MS


def day_targets() -> np.ndarray:
    """Expected events of each KST date at scale 1, as if every date were a full day (except the last)."""
    d = np.arange(N_KST_DATES)
    knots_x, knots_y = zip(*TREND_KNOTS, strict=True)
    trend = np.interp(d, knots_x, knots_y)
    first = dt.date(2015, 5, 3)
    weekday = np.array([WEEKDAY_FACTOR[(first + dt.timedelta(days=int(i))).weekday()] for i in d])
    shape = trend * weekday
    busiest = (BUSIEST_DATE - first).days
    full = np.ones(N_KST_DATES, dtype=bool)
    full[[0, busiest, N_KST_DATES - 1]] = False
    targets = shape * (MEDIAN_DAY_EVENTS / np.median(shape[full]))
    targets[busiest] = BUSIEST_DAY_EVENTS
    targets[-1] = LAST_DAY_EVENTS
    return targets


class VolumeProfile:
    """Piecewise-constant event intensity over the hours of the window; draws times from it."""

    def __init__(self) -> None:
        first_hour = T_BEGIN // HOUR_MS
        last_hour = T_END // HOUR_MS
        hours = np.arange(first_hour, last_hour + 1, dtype=np.int64)
        starts = np.maximum(hours * HOUR_MS, T_BEGIN)
        ends = np.minimum((hours + 1) * HOUR_MS, T_END + 1)
        date = kst_date_index(hours * HOUR_MS)
        weight = np.asarray(HOUR_WEIGHT, dtype=np.float64)[hours % 24]
        per_date = np.bincount(date, weights=weight, minlength=N_KST_DATES)
        # full dates: a share of the full-day weight; the last date is a partial day of fixed size
        norm = np.full(N_KST_DATES, float(np.sum(HOUR_WEIGHT)))
        norm[-1] = per_date[-1]
        per_hour = day_targets()[date] * weight / norm[date]
        mass = per_hour * (ends - starts) / HOUR_MS
        self.edges = np.concatenate([starts[:1], ends]).astype(np.float64)
        self.cum = np.concatenate([[0.0], np.cumsum(mass)])

    def sample(self, rng: np.random.Generator, earliest: np.ndarray, latest: np.ndarray) -> np.ndarray:
        """One time per element, distributed like the profile on ``[earliest, latest]`` (ms, inclusive)."""
        lo = np.interp(np.asarray(earliest, dtype=np.float64), self.edges, self.cum)
        hi = np.interp(np.asarray(latest, dtype=np.float64), self.edges, self.cum)
        t = np.interp(lo + rng.random(np.shape(hi)) * (hi - lo), self.cum, self.edges)
        return np.clip(np.floor(t).astype(np.int64), earliest, latest)
