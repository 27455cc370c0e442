"""`dvlin diff A B`, `ls`, `show` on two big versions, without a tree on disk (issue 12).

    python benchmarks/bench_diff.py --rows 1000000 [--workdir DIR] [--keep] [--repeat 3]

Commits two tiny versions of an asset ``data``, then swaps in manifests of N files of 1 KiB in
1,000 folders (plus the folders), packed as a commit packs small files, written directly: v2 rewrites 0.1% of the files, removes 0.1%
and adds 1,000, as ``scale.py`` does. The file objects are not in the store, so this measures
the readers only (fsck would report every object missing). One diff runs unmeasured first: it
validates and records both manifests, as a commit records the manifest it writes. Each command runs as its own
``python -m dvlin`` process; prints wall time, CPU time (user + sys) and peak RSS from
``os.wait4``. dvlin is run from this checkout.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def manifests(n: int, every: int = 1000, seed: int = 7) -> tuple[bytes, bytes, int]:
    """Parquet bytes of v1 and v2, and how many paths differ."""
    from dvlin.objects.manifest import FILE_MODE, Manifest

    rnd = random.Random(seed)
    folders = [f"d{i:04d}" for i in range(1000)]
    paths = [f"{folders[i % 1000]}/f{i:07d}.bin" for i in range(n)]
    oids = [f"{rnd.getrandbits(128):032x}" for _ in range(n)]

    def build(ps: list[str], os_: list[str]) -> Manifest:
        # As a commit stores small files: in packs of ~16k files, each at its offset.
        packs = [f"{rnd.getrandbits(128):032x}" for _ in range(len(ps) // 16384 + 1)]
        none: list[None] = [None] * len(folders)
        return Manifest.from_columns(
            path=folders + ps,
            type=["dir"] * len(folders) + ["file"] * len(ps),
            mode=[0o755] * len(folders) + [FILE_MODE] * len(ps),
            size=none + [1024] * len(ps),
            oid=none + os_,
            pack=none + [packs[i // 16384] for i in range(len(ps))],
            offset=none + [(i % 16384) * 1024 for i in range(len(ps))],
        )

    v1 = build(paths, oids)
    step = 1000
    p2, o2 = list(paths), list(oids)
    for i in range(0, n, every):  # 0.1% rewritten (every 1000th file)
        o2[i] = f"{rnd.getrandbits(128):032x}"
    gone = set(range(1, n, step))  # 0.1% removed
    p2 = [p for i, p in enumerate(p2) if i not in gone]
    o2 = [o for i, o in enumerate(o2) if i not in gone]
    extra = n // step
    p2 += [f"{folders[i % 1000]}/new{i:07d}.bin" for i in range(extra)]
    o2 += [f"{rnd.getrandbits(128):032x}" for _ in range(extra)]
    v2 = build(p2, o2)
    return v1.to_parquet(), v2.to_parquet(), len(range(0, n, every)) + len(gone) + extra


def dvlin(
    cwd: Path, *args: str, stdout: int | None = subprocess.DEVNULL
) -> tuple[float, float, float]:
    """Wall s, CPU s and peak MiB of one ``python -m dvlin ARGS`` process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dvlin", *args], cwd=cwd, env=env, stdout=stdout)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"dvlin {' '.join(args)} failed ({status})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def shell(cwd: Path, command: str) -> tuple[float, float, float]:
    """The same for a shell pipeline (``ls --json | head``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def setup(repo: Path, rows: int, every: int) -> int:
    """A repo whose data@v1 and data@v2 are big manifests; returns how many paths differ."""
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "a").write_text("1")
    dvlin(repo, "init")
    dvlin(repo, "commit", "data", "--name", "data")
    (repo / "data" / "a").write_text("2")
    dvlin(repo, "commit", "data", "--name", "data")
    from dvlin.repo import Repo

    one, two, differ = manifests(rows, every)
    r = Repo.open(repo)
    oids = [r.store.put(one), r.store.put(two)]
    db = sqlite3.connect(repo / ".dvlin" / "catalog.db")
    with db:
        for number, oid in zip((1, 2), oids, strict=True):
            db.execute(
                "UPDATE versions SET manifest = ?, files = ? WHERE asset = 'data' AND number = ?",
                (oid, rows, number),
            )
    db.close()
    # As after a fetch: the first read validates each manifest whole and records it as checked
    # (docs/design.md, "Manifest checks"); the measured runs are the reads after that.
    dvlin(repo, "diff", "data@v1", "data@v2")
    return differ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--every", type=int, default=1000, help="rewrite every Nth file in v2")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the scratch repo")
    ap.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="dvlin-bench-diff-"))
    repo = work / "repo"
    if args.setup_only:
        differ = setup(repo, args.rows, args.every)
        print(f"built two {args.rows:,}-file manifests ({differ:,} paths differ) in {repo}")
        return
    if not (repo / ".dvlin").exists():
        # In a child: a process forked from a big parent reports the parent's peak RSS.
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--setup-only",
                "--rows",
                str(args.rows),
                "--every",
                str(args.every),
                "--workdir",
                str(work),
            ],
            check=True,
        )
    steps = [
        ("diff data@v1 data@v2", lambda: dvlin(repo, "diff", "data@v1", "data@v2")),
        (
            "diff data@v1 data@v2 --json",
            lambda: dvlin(repo, "diff", "data@v1", "data@v2", "--json"),
        ),
        (
            "ls data@v2 --json | head -n 5",
            lambda: shell(repo, f"{sys.executable} -m dvlin ls data@v2 --json | head -n 5"),
        ),
        ("show data@v2", lambda: dvlin(repo, "show", "data@v2")),
    ]
    print(f"{'command':36} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9}")
    for name, step in steps:
        runs = sorted(step() for _ in range(args.repeat))
        wall, cpu, mib = runs[len(runs) // 2]
        print(f"{name:36} {wall:8.2f} {cpu:8.2f} {max(r[2] for r in runs):9.0f}")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
