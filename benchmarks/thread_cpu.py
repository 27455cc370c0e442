"""Run ``dvlin ARGS`` in this process and print, on stderr, the CPU time of each of its threads.

    python benchmarks/thread_cpu.py commit big.bin --name big -q

Every thread started with a target (dvlin's readers, pack writers and thread pools all are)
notes its own CPU time (``time.thread_time``) when it ends, under its Python name
(``dvlin-read``, ``dvlin-pack``, ``dvlin-pack-io``, ...; pool threads are summed under their
prefix); threads still running at exit are read from ``/proc/self/task``. At exit it prints the
wall time, the CPU of the child processes that ended (a big file's cut helper) and the CPU per
thread name. Nothing samples, so a thread that lives a millisecond is counted too. Linux only.

Issue 12's sixteenth pass used it to see where a 1 GiB commit's CPU goes on two CPUs
(docs/benchmarks.md).
"""

from __future__ import annotations

import atexit
import collections
import os
import sys
import threading
import time

T0 = time.perf_counter()
ended: collections.Counter[str] = collections.Counter()  # CPU seconds of ended threads, by name
counted: set[int] = set()  # their native ids
_run = threading.Thread.run


def _name(thread: threading.Thread) -> str:
    return thread.name.split("_")[0]  # "dvlin-pack-io_3" -> "dvlin-pack-io"


def _counted_run(self: threading.Thread) -> None:
    try:
        _run(self)
    finally:
        ended[_name(self)] += time.thread_time()
        counted.add(threading.get_native_id())


def _running() -> collections.Counter[str]:
    """CPU seconds of the threads alive now (this one included), by name."""
    tick = os.sysconf("SC_CLK_TCK")
    alive = {t.native_id: _name(t) for t in threading.enumerate() if t.native_id is not None}
    found: collections.Counter[str] = collections.Counter()
    for tid in os.listdir("/proc/self/task"):
        if int(tid) not in alive or int(tid) in counted:
            continue  # ending: it counted itself
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        found[alive[int(tid)]] += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return found


def report() -> None:
    total = ended + _running()
    children = os.times()
    child_cpu = children.children_user + children.children_system
    print(
        f"wall {time.perf_counter() - T0:.2f} s; child processes {child_cpu:.2f} s;",
        "  ".join(f"{name} {seconds:.2f}" for name, seconds in total.most_common()),
        file=sys.stderr,
    )


if __name__ == "__main__":
    if not os.path.isdir("/proc/self/task"):
        sys.exit("thread_cpu.py: reads /proc/self/task, which only Linux has")
    threading.Thread.run = _counted_run  # type: ignore[method-assign]
    atexit.register(report)
    sys.argv = ["dvlin", *sys.argv[1:]]
    from dvlin.cli import main

    main()
