"""Worker threads that give way to the thread on the critical path.

An ingest runs more threads than a small machine has cores: the main thread frames, decodes
and enriches each chunk while other threads hash the input, read the next chunk ahead and
encode Parquet. The main thread's work is the one that sets the run's length; the others have
slack (they only have to keep up). When all of them are runnable the kernel shares the cores
evenly, and the main thread spent a tenth of the run waiting for a core. Lowering the other
threads' priority (Linux niceness is per thread) lets the scheduler run them in the main
thread's gaps instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Final

#: Niceness added to a background thread: the scheduler then gives a thread of normal
#: priority about nine tenths of a shared core (CFS weights 1024 against 110).
BACKGROUND_NICENESS: Final = 19


def lower_priority(niceness: int = BACKGROUND_NICENESS) -> None:
    """Make the calling thread a background thread (Linux only; best effort elsewhere a
    no-op). Meant as a ``ThreadPoolExecutor`` initializer. A thread cannot get its priority
    back without privileges, so use it only in threads made for background work."""
    if sys.platform != "linux" or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
