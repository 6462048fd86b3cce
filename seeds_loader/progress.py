"""Progress display of a load: byte progress bars on stderr (rich), or nothing."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any


class Progress:
    """Byte progress bars on stderr (rich), or nothing."""

    def __init__(self, enabled: bool):
        self._bars: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bars = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=None),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
                expand=True,
            )

    def __enter__(self) -> Progress:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()

    def task(self, description: str, total: int) -> Callable[..., None]:
        """A callback: ``cb(n)`` advances by n bytes, ``cb(completed=x)`` sets the position."""
        if self._bars is None:
            return lambda *a, **k: None
        task_id = self._bars.add_task(description, total=total)

        def update(advance: int = 0, *, completed: float | None = None) -> None:
            if completed is None:
                self._bars.update(task_id, advance=advance)
            else:
                self._bars.update(task_id, completed=completed)

        return update


@contextlib.contextmanager
def poll_duckdb_progress(conn: Any, total: int, update: Callable[..., None], enabled: bool) -> Iterator[None]:
    """Follow a running DuckDB statement through ``query_progress()`` (percent) from a thread."""
    if not enabled:
        yield
        return
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.1):
            try:
                percent = conn.query_progress()
            except Exception:  # the connection is closed or busy: stop polling
                return
            if percent >= 0:
                update(completed=total * min(percent, 100.0) / 100.0)

    poller = threading.Thread(target=run, name="duckdb-progress", daemon=True)
    poller.start()
    try:
        yield
    finally:
        stop.set()
        poller.join()
    update(completed=total)
