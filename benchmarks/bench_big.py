"""One big file: dvlin commit and checkout against `cp` + `sync`, interleaved, with peak memory.

Each round runs, back to back: `cp big.bin copy.bin && sync` (the floor: dvlin flushes what it
writes, cp alone does not), `dvlin commit` of the file into a fresh repo, the checkout of v1
after the file is deleted, and a second commit after 1 MiB in the middle was rewritten (the
bytes it stores). With ``--baseline DIR`` (another copy of the dvlin package's parent folder)
the same steps run with that code too, in the same round, so a before/after pair shares the
machine's mood. Medians of ``--repeat`` rounds; wall time and user+sys CPU of each process.

    python benchmarks/bench_big.py --mib 1024 --repeat 3 [--baseline /tmp/dvlin-before]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_data  # noqa: E402

MIB = 1024 * 1024
HERE = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """Run ``cmd``; return wall seconds, user+sys CPU seconds and peak RSS in MiB."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def store_bytes(repo: Path) -> int:
    return sum(p.stat().st_size for p in (repo / ".dvlin" / "objects").rglob("*") if p.is_file())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mib", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workdir", default="/tmp/dvlin-bench-big")
    p.add_argument("--baseline", help="folder holding another dvlin package, to compare")
    a = p.parse_args()
    work = Path(a.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    big = work / "big.bin"
    gen_data.make_big_file(big, a.mib * MIB)
    patched = work / "patched.bin"
    shutil.copyfile(big, patched)
    gen_data.patch_big_file(patched, MIB)
    codes = {"dvlin": str(HERE)}
    if a.baseline:
        codes["before"] = str(Path(a.baseline).resolve())
    env0 = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    rows: dict[str, list[tuple[float, float, int]]] = {}
    grown: dict[str, int] = {}
    for path in codes.values():  # compile once, so no round pays for bytecode
        env = {**env0, "PYTHONPATH": path}
        subprocess.run([sys.executable, "-m", "dvlin", "--help"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    for _ in range(a.repeat):
        subprocess.run(["sync"], check=True)
        rows.setdefault("cp + sync", []).append(
            timed(["sh", "-c", "cp big.bin copy.bin && sync"], work, env0))
        (work / "copy.bin").unlink()
        for code, path in codes.items():
            env = {**env0, "PYTHONPATH": path}
            dvlin = [sys.executable, "-m", "dvlin"]
            repo = work / f"repo-{code}"
            shutil.rmtree(repo, ignore_errors=True)
            repo.mkdir()
            shutil.copyfile(big, repo / "big.bin")
            subprocess.run([*dvlin, "init"], cwd=repo, env=env, check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run(["sync"], check=True)
            rows.setdefault(f"{code} commit", []).append(
                timed([*dvlin, "commit", "big.bin", "--name", "big"], repo, env))
            shutil.copyfile(patched, repo / "big.bin")
            before = store_bytes(repo)
            rows.setdefault(f"{code} commit after 1 MiB rewrite", []).append(
                timed([*dvlin, "commit", "big.bin", "--name", "big"], repo, env))
            grown[code] = store_bytes(repo) - before
            (repo / "big.bin").unlink()
            rows.setdefault(f"{code} checkout v1 (restore)", []).append(
                timed([*dvlin, "checkout", "big@v1"], repo, env))
            shutil.rmtree(repo)
    load = os.getloadavg()[0]
    print(f"{a.mib} MiB file, {a.repeat} rounds, load average {load:.1f}; medians\n")
    print("| step | wall | CPU user+sys | peak RSS |")
    print("|---|---|---|---|")
    for name, got in rows.items():
        wall = statistics.median(r[0] for r in got)
        cpu = statistics.median(r[1] for r in got)
        rss = max(r[2] for r in got)
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {rss} MiB |")
    floor = statistics.median(r[0] for r in rows["cp + sync"])
    for code in codes:
        ratio = statistics.median(r[0] for r in rows[f"{code} commit"]) / floor
        print(f"\n{code}: commit / (cp + sync) = {ratio:.2f}; "
              f"new bytes after the 1 MiB rewrite {grown[code] / MIB:.2f} MiB")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
