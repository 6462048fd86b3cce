"""A small hand-made RetailRocket data set whose every KPI is worked out by hand in the tests.

Times are written on the Asia/Seoul wall clock and converted to the raw epoch milliseconds here.
Weeks: 2015-09-07 (Mon) .. 09-13 and 2015-09-14 (Mon) .. 09-20.

Category tree: roots 1 and 2; 11 and 12 under 1; 21 under 2.
Items: 100 in category 11 (root 1) from the 2015-09-06 snapshot; 200 in 21 (root 2) from the
2015-09-06 snapshot, moved to 12 (root 1) by the 2015-09-13 snapshot; 300 has no property;
400 only has `available` (so: unknown category).

Visitors:
- V1: 09-08 view/cart/buy item 100 (txn 1); 09-15 view 200 20:00, cart 200 20:20, and at
  20:50:00.000 (exactly 30 minutes later: same session) txn 2 holding items 200 and 100.
- V2: 09-14 23:50 view 300; 09-15 00:10 view 300 (new date, new session), 00:15 cart 300.
- V3: 09-15 25 views of item 400, one a minute from 09:00.
- V4: 09-09 12:00 view 200; 09-15 11:00 view 200, 11:31 view 100 (31 minutes: new session).
- V5: 09-15 15:00 txn 3 of item 100 without any earlier view or cart, written twice (an exact
  duplicate row).
- V6: 09-15 16:00 cart 100, 16:01 cart 200.
- V7: one view of item 300 at 12:00 on each of 09-10 .. 09-13, so that no day is missing
  (gate_rowcount) between the first date, 09-08, and the last, 09-15.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

KST = dt.timezone(dt.timedelta(hours=9))
V1, V2, V3, V4, V5, V6, V7 = 1, 2, 3, 4, 5, 6, 7


def kst_ms(day: str, clock: str) -> int:
    """Epoch milliseconds of an Asia/Seoul wall-clock time ('2015-09-15', '20:50:00.000')."""
    hms, _, millis = clock.partition(".")
    moment = dt.datetime.fromisoformat(f"{day}T{hms}").replace(tzinfo=KST)
    return int(moment.timestamp()) * 1000 + int(millis or 0)


def _events() -> list[tuple[int, int, str, int, int | None]]:
    e: list[tuple[int, int, str, int, int | None]] = [
        (kst_ms("2015-09-08", "10:00:00"), V1, "view", 100, None),
        (kst_ms("2015-09-08", "10:05:00"), V1, "addtocart", 100, None),
        (kst_ms("2015-09-08", "10:10:00"), V1, "transaction", 100, 1),
        (kst_ms("2015-09-15", "20:00:00"), V1, "view", 200, None),
        (kst_ms("2015-09-15", "20:20:00"), V1, "addtocart", 200, None),
        (kst_ms("2015-09-15", "20:50:00.000"), V1, "transaction", 200, 2),
        (kst_ms("2015-09-15", "20:50:00.000"), V1, "transaction", 100, 2),
        (kst_ms("2015-09-14", "23:50:00"), V2, "view", 300, None),
        (kst_ms("2015-09-15", "00:10:00"), V2, "view", 300, None),
        (kst_ms("2015-09-15", "00:15:00"), V2, "addtocart", 300, None),
        (kst_ms("2015-09-09", "12:00:00"), V4, "view", 200, None),
        (kst_ms("2015-09-15", "11:00:00"), V4, "view", 200, None),
        (kst_ms("2015-09-15", "11:31:00"), V4, "view", 100, None),
        (kst_ms("2015-09-15", "15:00:00"), V5, "transaction", 100, 3),
        (kst_ms("2015-09-15", "15:00:00"), V5, "transaction", 100, 3),  # exact duplicate
        (kst_ms("2015-09-15", "16:00:00"), V6, "addtocart", 100, None),
        (kst_ms("2015-09-15", "16:01:00"), V6, "addtocart", 200, None),
    ]
    e += [(kst_ms("2015-09-15", f"09:{m:02d}:00"), V3, "view", 400, None) for m in range(25)]
    e += [(kst_ms(f"2015-09-{day}", "12:00:00"), V7, "view", 300, None) for day in (10, 11, 12, 13)]
    # the raw file is not sorted by time: neither is this one
    return sorted(e, key=lambda r: (r[3], -r[0], r[1]))


SNAPSHOT_1 = int(dt.datetime(2015, 9, 6, 3, tzinfo=dt.UTC).timestamp()) * 1000  # 12:00 KST 09-06
SNAPSHOT_2 = int(dt.datetime(2015, 9, 13, 3, tzinfo=dt.UTC).timestamp()) * 1000  # 12:00 KST 09-13

PROPERTIES = [
    (SNAPSHOT_1, 100, "categoryid", "11"),
    (SNAPSHOT_1, 100, "available", "1"),
    (SNAPSHOT_1, 100, "790", "n552.000 639502"),
    (SNAPSHOT_1, 200, "categoryid", "21"),
    (SNAPSHOT_1, 200, "available", "1"),
    (SNAPSHOT_1, 400, "available", "0"),
    (SNAPSHOT_2, 200, "categoryid", "12"),
    (SNAPSHOT_2, 100, "888", "1285872 n720.000 424566"),
]

CATEGORIES = [(1, None), (2, None), (11, 1), (12, 1), (21, 2)]


def write_golden_files(folder: Path) -> Path:
    """The four files in the exact Kaggle format."""
    folder.mkdir(parents=True, exist_ok=True)

    def field(v: object) -> str:
        return "" if v is None else str(v)

    with open(folder / "events.csv", "w", newline="\n") as fh:
        fh.write("timestamp,visitorid,event,itemid,transactionid\n")
        for row in _events():
            fh.write(",".join(field(v) for v in row) + "\n")
    with open(folder / "category_tree.csv", "w", newline="\n") as fh:
        fh.write("categoryid,parentid\n")
        for row in CATEGORIES:
            fh.write(",".join(field(v) for v in row) + "\n")
    half = len(PROPERTIES) // 2
    for name, rows in (
        ("item_properties_part1.csv", PROPERTIES[:half]),
        ("item_properties_part2.csv", PROPERTIES[half:]),
    ):
        with open(folder / name, "w", newline="\n") as fh:
            fh.write("timestamp,itemid,property,value\n")
            for row in rows:
                fh.write(",".join(field(v) for v in row) + "\n")
    return folder
