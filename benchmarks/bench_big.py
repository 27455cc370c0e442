"""One big file: commit, switch back and restore against `cp` + `sync` (and DVC), interleaved.

Each round runs, back to back: `cp big.bin copy.bin && sync` (the floor: dvlin flushes what it
writes, cp alone does not); then for each dvlin variant, in a fresh repo: `dvlin commit` of the
file (v1), a commit after 1 MiB in the middle was rewritten (v2, and the bytes it stores), the
switch of the file back to v1 in place (`dvlin checkout big@v1`, right after the commit of v2,
as in run.py's step 6c), and the restore of v1 after the file was deleted. With ``--dvc`` DVC
does the same (`dvc add`, `dvc add`, `dvc checkout` of v1's pointer file) in the same round.
Every switched-back or restored file is compared with v1's bytes.

A variant is dvlin from another folder (``--baseline DIR``, a copy of the package's parent
folder) or with ``packs.DIRECT_WRITES`` set one way or the other (``--direct both``): each runs
in the same round, so a before/after pair shares the machine's mood. Medians of ``--repeat``
rounds; wall time and user+sys CPU of each process, peak RSS.

    python benchmarks/bench_big.py --mib 1024 --repeat 3 [--baseline DIR] [--direct both]
        [--dvc DVC]
"""

from __future__ import annotations

import argparse
import filecmp
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
# A dvlin with packs.DIRECT_WRITES set before the command runs.
WRAPPER = (
    "import sys; import dvlin.objects.packs as p; p.DIRECT_WRITES = {flag}; "
    "sys.argv[0] = 'dvlin'; from dvlin.cli import main; main()"
)


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


def same(a: Path, b: Path) -> str:
    return "ok" if filecmp.cmp(a, b, shallow=False) else "WRONG BYTES"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mib", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workdir", default="/tmp/dvlin-bench-big")
    p.add_argument("--baseline", help="folder holding another dvlin package, to compare")
    p.add_argument(
        "--direct",
        choices=("default", "on", "off", "both"),
        default="default",
        help="packs.DIRECT_WRITES for the dvlin variants",
    )
    p.add_argument("--dvc", help="a dvc executable, to run DVC in each round too")
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
    flags = {"default": [None], "on": [True], "off": [False], "both": [True, False]}[a.direct]
    variants: dict[str, tuple[str, list[str]]] = {}
    for code, path in codes.items():
        for flag in flags:
            if flag is None:
                variants[code] = (path, [sys.executable, "-m", "dvlin"])
            else:
                name = f"{code} direct={'on' if flag else 'off'}"
                variants[name] = (path, [sys.executable, "-c", WRAPPER.format(flag=flag)])
    env0 = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    rows: dict[str, list[tuple[float, float, int]]] = {}
    grown: dict[str, int] = {}
    for path in codes.values():  # compile once, so no round pays for bytecode
        env = {**env0, "PYTHONPATH": path}
        subprocess.run(
            [sys.executable, "-m", "dvlin", "--help"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    checks: list[str] = []
    for _ in range(a.repeat):
        subprocess.run(["sync"], check=True)
        rows.setdefault("cp + sync", []).append(
            timed(["sh", "-c", "cp big.bin copy.bin && sync"], work, env0)
        )
        (work / "copy.bin").unlink()
        for name, (path, dvlin) in variants.items():
            env = {**env0, "PYTHONPATH": path}
            repo = work / "repo"
            shutil.rmtree(repo, ignore_errors=True)
            repo.mkdir()
            shutil.copyfile(big, repo / "big.bin")
            subprocess.run(
                [*dvlin, "init"], cwd=repo, env=env, check=True, stdout=subprocess.DEVNULL
            )
            subprocess.run(["sync"], check=True)
            rows.setdefault(f"{name} commit", []).append(
                timed([*dvlin, "commit", "big.bin", "--name", "big"], repo, env)
            )
            shutil.copyfile(patched, repo / "big.bin")
            before = store_bytes(repo)
            rows.setdefault(f"{name} commit after 1 MiB rewrite", []).append(
                timed([*dvlin, "commit", "big.bin", "--name", "big"], repo, env)
            )
            grown[name] = store_bytes(repo) - before
            rows.setdefault(f"{name} switch back to v1", []).append(
                timed([*dvlin, "checkout", "big@v1"], repo, env)
            )
            checks.append(f"{name} switch: {same(repo / 'big.bin', big)}")
            (repo / "big.bin").unlink()
            rows.setdefault(f"{name} restore v1 (deleted)", []).append(
                timed([*dvlin, "checkout", "big@v1"], repo, env)
            )
            checks.append(f"{name} restore: {same(repo / 'big.bin', big)}")
            shutil.rmtree(repo)
        if a.dvc:
            dvc = [a.dvc]
            repo = work / "dvc"
            shutil.rmtree(repo, ignore_errors=True)
            repo.mkdir()
            shutil.copyfile(big, repo / "big.bin")
            subprocess.run(
                [*dvc, "init", "--no-scm"], cwd=repo, env=env0, check=True, capture_output=True
            )
            for kv in (
                "core.analytics false",
                "core.autostage false",
                f"core.site_cache_dir {work / 'dvc-site'}",
            ):
                subprocess.run(
                    [*dvc, "config", *kv.split(" ", 1)],
                    cwd=repo,
                    env=env0,
                    check=True,
                    capture_output=True,
                )
            subprocess.run(["sync"], check=True)
            rows.setdefault("DVC add", []).append(timed([*dvc, "add", "big.bin"], repo, env0))
            shutil.copyfile(repo / "big.bin.dvc", work / "v1.dvc")
            shutil.copyfile(patched, repo / "big.bin")
            rows.setdefault("DVC add after 1 MiB rewrite", []).append(
                timed([*dvc, "add", "big.bin"], repo, env0)
            )
            shutil.copyfile(work / "v1.dvc", repo / "big.bin.dvc")
            rows.setdefault("DVC switch back to v1", []).append(
                timed([*dvc, "checkout"], repo, env0)
            )
            checks.append(f"DVC switch: {same(repo / 'big.bin', big)}")
            shutil.rmtree(repo)
    load = os.getloadavg()[0]
    print(f"{a.mib} MiB file, {a.repeat} rounds, load average {load:.1f}; medians\n")
    print("| step | wall | CPU user+sys | peak RSS | each round (wall) |")
    print("|---|---|---|---|---|")
    for name, got in rows.items():
        wall = statistics.median(r[0] for r in got)
        cpu = statistics.median(r[1] for r in got)
        rss = max(r[2] for r in got)
        each = ", ".join(f"{r[0]:.2f}" for r in got)
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {rss} MiB | {each} |")
    floor = statistics.median(r[0] for r in rows["cp + sync"])
    for name in variants:
        ratio = statistics.median(r[0] for r in rows[f"{name} commit"]) / floor
        print(
            f"\n{name}: commit / (cp + sync) = {ratio:.2f}; "
            f"new bytes after the 1 MiB rewrite {grown[name] / MIB:.2f} MiB"
        )
    print("\n" + "; ".join(checks))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
