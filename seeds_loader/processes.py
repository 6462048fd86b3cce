"""Whether a process of this machine is still running (the local Spark server's pid file, the
temporary files of an export that may have been killed)."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True while ``pid`` runs on this machine (one that we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
