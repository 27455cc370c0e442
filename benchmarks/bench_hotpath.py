"""Status and commit cost against the size of the change (issue 12), at N files of 1 KiB.

    python benchmarks/bench_hotpath.py --files 200000 [--workdir DIR] [--keep]

Makes N files of 1 KiB in 1,000 folders (mtimes an hour old, so the stat cache may trust
them), then runs, each as its own ``python -m dvlin`` process: ``--help`` (the floor of any
command), the first commit, a clean status (3 runs), a status and a commit after 0.1% of the
files changed, and a clean status again. Prints wall time, CPU time (user + sys) and peak RSS
of each process, measured with ``os.wait4``. On a shared machine compare CPU columns: the
wall clock also measures the neighbours. stdlib only; dvlin is run from this checkout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_tree(data: Path, files: int, folders: int = 1000) -> None:
    past = time.time_ns() - 3600 * 1_000_000_000
    blob = b"x" * 1000
    for i in range(files):
        folder = data / f"d{i % folders:04d}"
        if i < folders:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"f{i:07d}.bin"
        path.write_bytes(blob + str(i).encode().rjust(24, b"0"))
        os.utime(path, ns=(past + i, past + i))


def run(cwd: Path, *args: str) -> tuple[float, float, float]:
    """Wall s, CPU s and peak MiB of one ``python -m dvlin ARGS`` process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvlin", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"dvlin {' '.join(args)} failed ({proc.returncode}): {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def change(data: Path, files: int, every: int) -> int:
    n = 0
    for i in range(0, files, every):
        with open(data / f"d{i % 1000:04d}" / f"f{i:07d}.bin", "ab") as f:
            f.write(b"changed")
        n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--workdir", help="where to make the repo (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the repo afterwards")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="dvlin-hotpath-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, tuple[float, float, float]]] = []
    try:
        t0 = time.perf_counter()
        make_tree(work / "data", args.files)
        print(f"made {args.files:,} files in {time.perf_counter() - t0:.1f} s", flush=True)
        rows.append(("--help (interpreter + CLI floor)", run(work, "--help")))
        run(work, "init")
        rows.append(("first commit", run(work, "commit", "data", "-m", "v1")))
        for i in range(3):
            rows.append((f"clean status ({i + 1})", run(work, "status")))
        changed = change(work / "data", args.files, 1000)
        rows.append((f"status, {changed:,} files changed", run(work, "status")))
        rows.append((f"commit, {changed:,} files changed", run(work, "commit", "data")))
        rows.append(("clean status after it", run(work, "status")))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{args.files:,} files of 1 KiB in 1,000 folders")
    print(f"| {'step':36} | wall s | CPU s | peak MiB |")
    print(f"|{'-' * 38}|-------:|------:|---------:|")
    for label, (wall, cpu, peak) in rows:
        print(f"| {label:36} | {wall:6.2f} | {cpu:5.2f} | {peak:8.0f} |")


if __name__ == "__main__":
    main()
