"""RetailRocket-format data generator: ``python -m seeds_loader generate``.

Writes the four files of the public Kaggle data set in their exact format (``events.csv``,
``category_tree.csv``, ``item_properties_part1.csv``, ``item_properties_part2.csv``), with the
statistics of the real data (REFERENCE.md) at ``scale`` x its size: scale 1.0 is ~2.76 million
events and ~20.3 million property rows. Same seed and scale, same bytes.

The work is split over helper modules: ``_gen_calendar`` (time window, volume profile, property
snapshots), ``_gen_tree`` (category tree), ``_gen_events`` (catalogue, visitors, sessions,
purchases), ``_gen_properties`` (the property change log) and ``_gen_format`` (bulk CSV text).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from seeds_loader import _gen_format as fmt
from seeds_loader._gen_events import EVENT_NAMES, EventLog, build_catalog, simulate_events
from seeds_loader._gen_properties import (
    PART1_ROWS,
    PROPERTY_ROWS,
    format_rows,
    no_property_items,
    simulate_properties,
)
from seeds_loader._gen_tree import (
    CategoryTreeError,
    generate_category_tree,
    read_category_tree,
)
from seeds_loader.settings import Settings

EVENTS_FILE = "events.csv"
CATEGORY_TREE_FILE = "category_tree.csv"
PROPERTIES_PART1_FILE = "item_properties_part1.csv"
PROPERTIES_PART2_FILE = "item_properties_part2.csv"
FILES = (EVENTS_FILE, CATEGORY_TREE_FILE, PROPERTIES_PART1_FILE, PROPERTIES_PART2_FILE)
EVENTS_HEADER = b"timestamp,visitorid,event,itemid,transactionid\n"
PROPERTIES_HEADER = b"timestamp,itemid,property,value\n"
MAX_SCALE = 10.0  # about 27.8 million events and 203 million property rows (the Spark bench)
REAL_TREE_SHA256_PREFIX = "94e865eb0a3d48cb"
CHUNK_ROWS = 100_000
_STREAMS = ("tree", "catalog", "events", "properties")

T = TypeVar("T")


class GenerateError(ValueError):
    """Bad arguments or input for the generator (the message says which and why)."""


@dataclass(frozen=True)
class GenerateSummary:
    """What :func:`generate` wrote."""

    out_dir: Path
    scale: float
    seed: int
    category_tree: str  # the copied file (marked when it is the real Kaggle one), or "generated"
    rows: dict[str, int]  # per file, without the header
    bytes: dict[str, int]
    event_mix: dict[str, int]  # view / addtocart / transaction rows
    visitors: int
    items: int  # distinct items in events
    transactions: int  # distinct transaction ids
    duplicates: int  # exact duplicate event rows written
    items_with_properties: int
    seconds: float
    peak_rss_mb: float  # of the whole process so far (ru_maxrss)
    timings: dict[str, float] = field(default_factory=dict)


def default_category_tree(root: Path) -> Path:
    """Where the real ``category_tree.csv`` is kept next to the project: ``<root>/../shared/data``."""
    return root.parent / "shared" / "data" / CATEGORY_TREE_FILE


def resolve_category_tree(explicit: Path | None, root: Path) -> Path | None:
    """The tree file to copy: ``explicit`` if given, else the shared real file if present, else None (generate one)."""
    if explicit is not None:
        return explicit
    default = default_category_tree(root)
    return default if default.is_file() else None


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent random stream per part, so that changing one part does not shift the others."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAMS.index(stream),)))


def _check_arguments(scale: float, seed: int) -> None:
    if not 0 < scale <= MAX_SCALE:
        raise GenerateError(
            f"--scale must be > 0 and <= {MAX_SCALE:g} (1.0 = the real data set's size); got {scale:g}"
        )
    if seed < 0:
        raise GenerateError(f"--seed must be a non-negative integer; got {seed}")


def generate(
    out_dir: Path,
    *,
    scale: float = 0.05,
    seed: int = 42,
    category_tree: Path | None = None,
    progress: bool = True,
) -> GenerateSummary:
    """Write the four files into ``out_dir`` (created if missing) and return what was written.

    ``category_tree``: a ``category_tree.csv`` to use and copy byte for byte (e.g. the real one);
    None generates a tree of the real shape. Files are written under temporary names and renamed
    only when all four are complete, so a crash never leaves a half file under a real name.
    Raises :class:`GenerateError` for bad arguments and :class:`CategoryTreeError` for a bad tree.
    """
    _check_arguments(scale, seed)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if category_tree is not None:
        tree, tree_bytes = read_category_tree(Path(category_tree))
        tree_source = str(category_tree)
        if hashlib.sha256(tree_bytes).hexdigest().startswith(REAL_TREE_SHA256_PREFIX):
            tree_source += " (the real Kaggle file)"
    else:
        tree = generate_category_tree(_rng(seed, "tree"))
        tree_bytes = tree.to_csv()
        tree_source = "generated"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    staging = {name: out_dir / f".{name}.tmp-{os.getpid()}" for name in FILES}
    rows: dict[str, int] = {}
    with ExitStack() as stack:
        stack.callback(_remove, staging.values())  # after the renames below, nothing is left to remove
        bar = stack.enter_context(_progress(progress))
        clock = time.perf_counter()
        step = bar.add_task("simulating events", total=None)
        catalog = build_catalog(_rng(seed, "catalog"), scale, tree)
        events = simulate_events(_rng(seed, "events"), scale, catalog)
        bar.update(step, total=1, completed=1)
        timings["events simulated"] = time.perf_counter() - clock

        clock = time.perf_counter()
        rows[EVENTS_FILE] = _write_events(staging[EVENTS_FILE], events, catalog.item_id, bar)
        staging[CATEGORY_TREE_FILE].write_bytes(tree_bytes)
        rows[CATEGORY_TREE_FILE] = len(tree.category)
        timings["events written"] = time.perf_counter() - clock

        clock = time.perf_counter()
        step = bar.add_task("simulating item properties", total=None)
        event_counts = np.bincount(events.item, minlength=len(catalog.item_id))
        props_rng = _rng(seed, "properties")
        log = simulate_properties(props_rng, catalog, tree, no_property_items(props_rng, event_counts))
        bar.update(step, total=1, completed=1)
        timings["properties simulated"] = time.perf_counter() - clock

        clock = time.perf_counter()
        split = round(len(log) * PART1_ROWS / PROPERTY_ROWS)
        ranges = ((PROPERTIES_PART1_FILE, 0, split), (PROPERTIES_PART2_FILE, split, len(log)))
        task = bar.add_task("writing item properties", total=len(log))
        for name, start, stop in ranges:
            _write_file(
                staging[name],
                PROPERTIES_HEADER,
                lambda a, b: format_rows(log, a, b, catalog.item_id),
                start,
                stop,
                lambda n: bar.advance(task, n),
            )
            rows[name] = stop - start
        timings["properties written"] = time.perf_counter() - clock

        for name in FILES:
            os.replace(staging[name], out_dir / name)

    mix = np.bincount(events.event, minlength=len(EVENT_NAMES))
    return GenerateSummary(
        out_dir=out_dir,
        scale=scale,
        seed=seed,
        category_tree=tree_source,
        rows=rows,
        bytes={name: (out_dir / name).stat().st_size for name in FILES},
        event_mix={name.decode(): int(count) for name, count in zip(EVENT_NAMES, mix, strict=True)},
        visitors=len(np.unique(events.visitor)),
        items=len(np.unique(events.item)),
        transactions=len(np.unique(events.transaction[events.transaction >= 0])),
        duplicates=events.duplicates,
        items_with_properties=len(np.unique(log.item)),
        seconds=time.perf_counter() - started,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        timings=timings,
    )


def _write_events(path: Path, events: EventLog, item_id: np.ndarray, bar: Progress) -> int:
    task = bar.add_task(f"writing {EVENTS_FILE}", total=len(events))

    def lines(a: int, b: int) -> bytes:
        txn = events.transaction[a:b]
        return fmt.join_lines(
            [
                fmt.int_field(events.timestamp[a:b], 13),
                fmt.int_field(events.visitor[a:b], 8),
                fmt.table_field(events.event[a:b], EVENT_NAMES),
                fmt.int_field(item_id[events.item[a:b]], 7),
                fmt.where(txn >= 0, fmt.int_field(np.maximum(txn, 0), 6)),
            ]
        )

    _write_file(path, EVENTS_HEADER, lines, 0, len(events), lambda n: bar.advance(task, n))
    return len(events)


def _write_file(
    path: Path,
    header: bytes,
    lines: Callable[[int, int], bytes],
    start: int,
    stop: int,
    on_chunk: Callable[[int], object],
) -> None:
    """Write ``header`` then ``lines(a, b)`` for consecutive chunks of ``[start, stop)``."""
    bounds = [(a, min(a + CHUNK_ROWS, stop)) for a in range(start, stop, CHUNK_ROWS)]
    with open(path, "wb") as f:
        f.write(header)
        for (a, b), data in zip(bounds, _ordered_map(lambda ab: lines(*ab), bounds), strict=True):
            f.write(data)
            on_chunk(b - a)


def _ordered_map(
    fn: Callable[[T], bytes], items: list[T], workers: int = 2, ahead: int = 4
) -> Iterator[bytes]:
    """``map(fn, items)`` on a few threads (numpy releases the GIL), in order, at most ``ahead`` in flight."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[bytes]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=True,
    )


def print_summary(summary: GenerateSummary, console: Console | None = None) -> None:
    """A short table: rows and bytes per file, the event mix, distinct counts, time and memory."""
    console = console or Console()
    files = Table(title=f"RetailRocket-format data in {summary.out_dir}", title_justify="left")
    files.add_column("file")
    files.add_column("rows", justify="right")
    files.add_column("MB", justify="right")
    for name in FILES:
        files.add_row(name, f"{summary.rows[name]:,}", f"{summary.bytes[name] / 1e6:,.1f}")
    console.print(files)
    total = sum(summary.event_mix.values())
    mix = ", ".join(f"{name} {count:,} ({count / total:.2%})" for name, count in summary.event_mix.items())
    console.print(f"events: {mix}")
    console.print(
        f"distinct: {summary.visitors:,} visitors, {summary.items:,} items in events, "
        f"{summary.transactions:,} transactions, {summary.items_with_properties:,} items with properties; "
        f"{summary.duplicates:,} duplicate event rows"
    )
    steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in summary.timings.items())
    console.print(
        f"scale {summary.scale:g}, seed {summary.seed}, category tree: {summary.category_tree}; "
        f"{summary.seconds:.1f} s ({steps}), peak RSS {summary.peak_rss_mb:,.0f} MB"
    )


def main(args: argparse.Namespace, settings: Settings) -> int:
    """``python -m seeds_loader generate``: 0 on success, 2 on bad arguments or input, 1 on I/O errors."""
    out_dir: Path = args.out if args.out is not None else settings.data_dir
    try:
        _check_arguments(args.scale, args.seed)
    except GenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.unless_present and all((out_dir / name).is_file() for name in FILES):
        print(f"all four files are already in {out_dir}: kept as they are (e.g. the real Kaggle download)")
        return 0
    tree_path = resolve_category_tree(args.category_tree, settings.root)
    try:
        summary = generate(
            out_dir, scale=args.scale, seed=args.seed, category_tree=tree_path, progress=not args.quiet
        )
    except (GenerateError, CategoryTreeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the data set to {out_dir}: {exc}", file=sys.stderr)
        return 1
    print_summary(summary)
    return 0


__all__ = [
    "FILES",
    "CategoryTreeError",
    "GenerateError",
    "GenerateSummary",
    "default_category_tree",
    "generate",
    "main",
    "print_summary",
    "resolve_category_tree",
]
