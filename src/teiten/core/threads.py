"""Worker threads that give way to the thread on the critical path.

An ingest runs more threads than a small machine has cores: the main thread frames, decodes
and enriches each chunk while a helper decodes half of it, another thread hashes the input and
two encode Parquet. The main thread's work is the one that sets the run's length; the encoders
have slack (they only have to keep up). When all of them were runnable the kernel shared the
cores evenly, and the main thread spent a tenth of a 5M-packet run runnable but not running.
Lowering the encoders' priority (Linux niceness is per thread) lets the scheduler run them in
the main thread's gaps instead. A thread so lowered can starve on a busy machine: its users
must be able to do its work themselves (see ``ingest.pipeline._PartitionWriter``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Final

#: Niceness added to a background thread: a thread of normal priority then gets ~98 % of a
#: core they share (scheduler weights 1024 against 15). Against 10 (1024 against 110) the
#: 5M-packet bench ran ~5 % faster; on a 75M-packet capture runs took 14-16 s either way.
BACKGROUND_NICENESS: Final = 19


def lower_priority(niceness: int = BACKGROUND_NICENESS) -> None:
    """Lower the calling thread's priority by ``niceness`` (Linux, where niceness is per
    thread; elsewhere a no-op, as is a failure). Meant as a ``ThreadPoolExecutor``
    initializer: a thread cannot get its priority back without privileges, so use it only
    in threads made for background work."""
    if sys.platform != "linux" or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
