"""Creating many files right after a big delete, on ext4 with and without a journal.

    sudo python benchmarks/create_after_delete.py --files 20000 --repeat 2

On ext4 without a journal, the kernel does not reuse an inode deleted in the last one to
six minutes: each new file's inode number is searched from the start of its group, and
every recently deleted inode on the way is looked up and skipped. A tree of files made right
after a tree of the same size was deleted then costs several times the system time. With a
journal the check is off. This VM's root file system has no journal, so the restore step of
``run.py`` (delete the tree, then restore it) and any run right after another run's folder
was removed pay for it, and so does ``cp -r``.

Each measurement gets a fresh 2 GiB ext4 image on a loop device (mkfs with its inode tables
written out, a copy of the tree made and synced in it), then either deletes that copy or
leaves it, then times ``cp -r`` of the tree, or dvlin's restore of the same tree, into it.
Needs root (mkfs, mount) and a loop device; prints one line per case.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_data  # noqa: E402


def sh(*cmd: str, cwd: Path | None = None) -> None:
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL)


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall, user and system seconds of ``cmd`` (a child process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def fresh_fs(image: Path, mount: Path, *, journal: bool) -> None:
    subprocess.run(["umount", str(mount)], capture_output=True)
    image.unlink(missing_ok=True)
    with image.open("wb") as f:
        f.truncate(2 << 30)
    sh(
        "mkfs.ext4",
        "-q",
        "-E",
        "lazy_itable_init=0",
        *([] if journal else ["-O", "^has_journal"]),
        str(image),
    )
    mount.mkdir(parents=True, exist_ok=True)
    sh("mount", "-o", "loop", str(image), str(mount))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--dvlin", default=f"{sys.executable} -m dvlin", help="dvlin command")
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4"):
        print("needs root and mkfs.ext4 (it mounts ext4 images on a loop device)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="dvlin-cad-"))
    mount = work / "mnt"
    try:
        tree, repo = work / "tree", work / "repo"
        gen_data.make_tree(tree, a.files)
        repo.mkdir()
        dvlin = a.dvlin.split()
        sh(*dvlin, "init", "-q", cwd=repo)
        shutil.copytree(tree, repo / "data")
        sh(*dvlin, "commit", "data", "-q", cwd=repo)
        for journal in (False, True):
            for tool in ("cp -r", "dvlin restore"):
                for deleted in (False, True):
                    for _ in range(a.repeat):
                        fresh_fs(work / "fs.img", mount, journal=journal)
                        shutil.copytree(tree, mount / "before")
                        sh("sync")
                        if deleted:
                            shutil.rmtree(mount / "before")
                        cmd = (
                            ["cp", "-r", str(tree), str(mount / "out")]
                            if tool == "cp -r"
                            else [
                                *dvlin,
                                "checkout",
                                "data@latest",
                                "--to",
                                str(mount / "out"),
                                "-q",
                            ]
                        )
                        wall, user, sys_ = timed(cmd, repo)
                        print(
                            f"{'journal   ' if journal else 'no journal'}  {tool:13}  "
                            f"{'after a delete of the same tree' if deleted else 'no delete':31}  "
                            f"{wall:5.2f} s  (user {user:.2f}, sys {sys_:.2f})",
                            flush=True,
                        )
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
