"""The session rule as an analyst would write it in pandas: the benchmark's reference.

A straightforward, vectorised pandas implementation (sort, shift, cumulative sum per group),
deliberately independent of the SQL in dbt_retailrocket/models/marts/fact_rr_events.sql.
"""

from __future__ import annotations

import pandas as pd

GAP_MS = 30 * 60 * 1000
KST_MS = 9 * 3600 * 1000
DAY_MS = 86_400_000


def sessionize(events: pd.DataFrame) -> pd.Series:
    """session_id for each row of ``events`` (columns visitor_id, event_ts_ms), index-aligned."""
    df = events[["visitor_id", "event_ts_ms"]].copy()
    df["kst_day"] = (df["event_ts_ms"] + KST_MS) // DAY_MS
    df = df.sort_values(["visitor_id", "kst_day", "event_ts_ms"], kind="mergesort")
    same_day = (df["visitor_id"] == df["visitor_id"].shift()) & (df["kst_day"] == df["kst_day"].shift())
    gap = df["event_ts_ms"] - df["event_ts_ms"].shift()
    starts = ~same_day | (gap > GAP_MS)
    df["n"] = starts.astype("int64").groupby([df["visitor_id"], df["kst_day"]]).cumsum()
    date = pd.to_datetime(df["kst_day"] * DAY_MS, unit="ms").dt.strftime("%Y%m%d")
    session_id = df["visitor_id"].astype(str) + "-" + date + "-" + df["n"].astype(str)
    return session_id.reindex(events.index)
