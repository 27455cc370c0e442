"""Ways to walk a tree and stat every entry, side by side with ``find``.

    python benchmarks/bench_scan.py --files 200000          # makes the tree in a temp folder
    python benchmarks/bench_scan.py --tree /some/folder      # measures an existing tree

Every method returns the same columns (path, mode, size, mtime_ns, inode) and is checked
against dvlin's own scanner (``dvlin.workspace.scan.scan_columns``) before its time counts.
CPU time includes children (the forked walker of the split scan, ``find``).
Best of ``--repeat`` runs, warm cache (the walk is what every status and commit pays; a cold
cache measures the disk instead). stdlib + dvlin only.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dvlin.workspace.scan import Columns, scan_columns  # noqa: E402

Rows = set[tuple[str, int, int, int]]


def make_tree(root: Path, files: int, folders: int = 1000) -> None:
    """``files`` files of 1 KiB spread over ``folders`` folders."""
    blob = b"x" * 1000
    for i in range(files):
        folder = root / f"d{i % folders:04d}"
        if i < folders:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:07d}.bin").write_bytes(blob + str(i).encode().rjust(24, b"0"))


def dvlin_scan(root: str) -> Columns:
    return scan_columns(root, ["."])


def _with_workers(workers: str) -> Callable[[str], Columns]:
    def walk(root: str) -> Columns:
        old = os.environ.get("DVLIN_SCAN_WORKERS")
        os.environ["DVLIN_SCAN_WORKERS"] = workers
        try:
            return scan_columns(root, ["."])
        finally:
            if old is None:
                del os.environ["DVLIN_SCAN_WORKERS"]
            else:
                os.environ["DVLIN_SCAN_WORKERS"] = old

    return walk


def rows_of(c: Columns) -> Rows:
    """A scan's files as the rows the other methods return (not timed)."""
    return {
        (p, s, m, i)
        for p, t, s, m, i in zip(c.path, c.type, c.size, c.mtime_ns, c.inode, strict=True)
        if t == "file"
    }


def scandir_recursive(root: str) -> Rows:
    out: Rows = set()
    stack = [""]
    while stack:
        folder = stack.pop()
        prefix = folder + "/" if folder else ""
        with os.scandir(os.path.join(root, folder) if folder else root) as it:
            for d in it:
                st = d.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(prefix + d.name)
                elif stat.S_ISREG(st.st_mode):
                    out.add((prefix + d.name, st.st_size, st.st_mtime_ns, st.st_ino))
    return out


def _one_folder(args: tuple[str, str]) -> tuple[list[tuple[str, int, int, int]], list[str]]:
    root, folder = args
    prefix = folder + "/" if folder else ""
    files, subs = [], []
    with os.scandir(os.path.join(root, folder) if folder else root) as it:
        for d in it:
            st = d.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                subs.append(prefix + d.name)
            elif stat.S_ISREG(st.st_mode):
                files.append((prefix + d.name, st.st_size, st.st_mtime_ns, st.st_ino))
    return files, subs


def thread_pool(root: str, workers: int = 4) -> Rows:
    out: Rows = set()
    with ThreadPoolExecutor(workers) as pool:
        level = [""]
        while level:
            nxt: list[str] = []
            for files, subs in pool.map(_one_folder, [(root, f) for f in level]):
                out.update(files)
                nxt.extend(subs)
            level = nxt
    return out


def fwalk(root: str) -> Rows:
    out: Rows = set()
    for folder, _, names, dir_fd in os.fwalk(root):
        rel = os.path.relpath(folder, root)
        prefix = "" if rel == "." else rel + "/"
        for name in names:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):
                out.add((prefix + name, st.st_size, st.st_mtime_ns, st.st_ino))
    return out


def find_printf(root: str) -> Rows:
    """GNU find, parsed: the floor (a C walk), but GNU-only and not in the product."""
    raw = subprocess.run(
        ["find", root, "-mindepth", "1", "-type", "f", "-printf", "%s %T@ %i %P\\0"],
        capture_output=True,
        check=True,
    ).stdout
    out: Rows = set()
    for rec in raw.split(b"\0")[:-1]:
        size, mtime, inode, path = rec.split(b" ", 3)
        seconds, _, frac = mtime.partition(b".")
        ns = int(seconds) * 1_000_000_000 + int((frac + b"000000000")[:9])
        out.add((path.decode(), int(size), ns, int(inode)))
    return out


def find_only(root: str) -> None:
    subprocess.run(
        ["find", root, "-printf", "%s %T@ %i %p\\n"], stdout=subprocess.DEVNULL, check=True
    )


METHODS: dict[str, Callable[[str], Rows | Columns | None]] = {
    "find -printf (no parsing)": find_only,
    "find -printf, parsed in Python": find_printf,
    "dvlin scan_columns, one process": _with_workers("1"),
    "dvlin scan_columns, split across 2 processes": _with_workers("2"),
    "os.scandir recursion (tuples)": scandir_recursive,
    "thread pool across folders (4)": thread_pool,
    "os.fwalk + stat(dir_fd)": fwalk,
}


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--tree", help="measure this folder instead of making one")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = None
    if args.tree:
        root = args.tree
    else:
        work = tempfile.mkdtemp(prefix="dvlin-bench-scan-")
        root = os.path.join(work, "tree")
        make_tree(Path(root), args.files)
    try:
        expected = rows_of(dvlin_scan(root))
        print(f"{len(expected):,} files under {root}")
        # CPU time (this process and its children) is printed beside wall time: on a shared
        # machine the wall clock measures the neighbours as much as the walk.
        print(f"{'method':44} {'wall s':>8} {'cpu s':>8} {'us/file':>8}")
        for label, method in METHODS.items():
            best = best_cpu = float("inf")
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), _cpu()
                got = method(root)
                best = min(best, time.perf_counter() - t0)
                best_cpu = min(best_cpu, _cpu() - c0)
                if isinstance(got, Columns):
                    got = rows_of(got)
                if got is not None and got != expected:
                    raise SystemExit(f"{label}: found other files or stats than dvlin's scan")
            per_file = best / len(expected) * 1e6
            print(f"{label:44} {best:8.2f} {best_cpu:8.2f} {per_file:8.2f}")
    finally:
        if work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
