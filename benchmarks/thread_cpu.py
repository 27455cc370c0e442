"""Run ``dvlin ARGS`` in this process and print, on stderr, the CPU time of each of its threads.

    python benchmarks/thread_cpu.py commit big.bin --name big -q

A sampler thread reads ``/proc/self/task/*/stat`` every 5 ms and maps each thread's id to its
Python name (``dvlin-read``, ``dvlin-pack``, ``dvlin-pack-io``, ...; pool threads are summed
under their prefix). At exit it prints the wall time, the CPU of child processes that ended
(a big file's cut helper) and the CPU per thread name. A thread's last few milliseconds before
it ends may be missed; the sampler's own CPU is listed too. Linux only.

Issue 12's sixteenth pass used it to show a 1 GiB commit is CPU-bound on two CPUs
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
TICK = os.sysconf("SC_CLK_TCK")
cpu: dict[int, float] = {}
names: dict[int, str] = {}


def sample() -> None:
    for t in threading.enumerate():
        if t.native_id is not None:
            names[t.native_id] = t.name.split("_")[0]
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        cpu[int(tid)] = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def loop() -> None:
    while True:
        sample()
        time.sleep(0.005)


def report() -> None:
    sample()
    total: collections.Counter[str] = collections.Counter()
    for tid, seconds in cpu.items():
        total[names.get(tid, "MainThread" if tid == os.getpid() else f"thread {tid}")] += seconds
    children = os.times()
    print(
        f"wall {time.perf_counter() - T0:.2f} s; child processes {children.children_user + children.children_system:.2f} s;",
        "  ".join(f"{name} {seconds:.2f}" for name, seconds in total.most_common()),
        file=sys.stderr,
    )


if __name__ == "__main__":
    threading.Thread(target=loop, daemon=True, name="sampler").start()
    atexit.register(report)
    sys.argv = ["dvlin", *sys.argv[1:]]
    from dvlin.cli import main

    main()
