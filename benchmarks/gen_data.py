"""Deterministic benchmark data for dvlin (stdlib only).

Every byte written here is a pure function of ``(seed, what, index)``: file
contents are produced by SHAKE-256 in "counter mode" (one XOF stream per file
or per 4 MiB chunk).  The output is therefore identical across machines and
Python builds, and it never repeats, so content-defined chunking cannot
"cheat" by deduplicating the generator's own output.

Four operations are provided, both as functions and as a small CLI:

* ``tree``      -- N small files (1-8 KiB) in nested folders (default 20,000
                   files in 10 x 10 = 100 leaf folders of 200 files each);
* ``modify``    -- rewrite a fraction (default 1 %) of those files in place;
* ``big``       -- one big file (default 1 GiB);
* ``patch-big`` -- rewrite 1 MiB in the middle of the big file in place.

Speed on a 2-core machine: ~4 s per GiB for ``big``, ~1-2 s for ``tree``.

Examples::

    python benchmarks/gen_data.py tree /tmp/bench/data --files 20000
    python benchmarks/gen_data.py modify /tmp/bench/data --fraction 0.01
    python benchmarks/gen_data.py big /tmp/bench/big.bin --mib 1024
    python benchmarks/gen_data.py patch-big /tmp/bench/big.bin
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

DEFAULT_SEED = 20240611
DEFAULT_FILES = 20_000
DEFAULT_FOLDERS = 100
MIN_FILE = 1 * KIB
MAX_FILE = 8 * KIB
BIG_CHUNK = 4 * MIB


def det_bytes(key: str, n: int) -> bytes:
    """Return ``n`` pseudo-random bytes that depend only on ``key``."""
    return hashlib.shake_256(key.encode()).digest(n)


def det_int(key: str, lo: int, hi: int) -> int:
    """Return a deterministic integer in ``[lo, hi]`` derived from ``key``."""
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return lo + h % (hi - lo + 1)


@dataclass(frozen=True)
class TreeLayout:
    """Shape of the small-file tree: ``files`` spread over ``folders`` leaf folders."""

    files: int = DEFAULT_FILES
    folders: int = DEFAULT_FOLDERS

    def relpath(self, index: int) -> str:
        """Relative path of file number ``index`` (two levels of nesting)."""
        folder = index % self.folders
        top, sub = divmod(folder, 10)
        return f"d{top:03d}/s{sub:02d}/f{index:06d}.bin"


def small_file_bytes(seed: int, index: int, version: int, size: int | None = None) -> bytes:
    """Contents of small file ``index`` at ``version`` (0 = as first generated).

    ``size`` fixes the length (the scale benchmark uses 1 KiB files); by default it is
    drawn from 1-8 KiB.
    """
    key = f"{seed}:small:{index}:{version}"
    if size is None:
        size = det_int(key + ":size", MIN_FILE, MAX_FILE)
    return det_bytes(key, size)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (truncating), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def make_tree(
    root: str | os.PathLike[str],
    files: int = DEFAULT_FILES,
    folders: int = DEFAULT_FOLDERS,
    seed: int = DEFAULT_SEED,
    size: int | None = None,
) -> int:
    """Create ``files`` small files under ``root``; return total bytes written.

    Folders are made once each and files written with ``os.open``/``os.write``, so a
    million files take about a minute rather than several.
    """
    layout = TreeLayout(files=files, folders=folders)
    base = os.fspath(root)
    made: set[str] = set()
    total = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for index in range(files):
        data = small_file_bytes(seed, index, 0, size)
        path = os.path.join(base, layout.relpath(index))
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        fd = os.open(path, flags, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        total += len(data)
    return total


def pick_modified(files: int, fraction: float, seed: int, round_no: int) -> list[int]:
    """Deterministically choose which file indices are rewritten in ``round_no``."""
    count = max(1, round(files * fraction))
    rng = random.Random(f"{seed}:pick:{round_no}")
    return sorted(rng.sample(range(files), min(count, files)))


def modify_tree(
    root: str | os.PathLike[str],
    files: int = DEFAULT_FILES,
    folders: int = DEFAULT_FOLDERS,
    fraction: float = 0.01,
    seed: int = DEFAULT_SEED,
    round_no: int = 1,
    size: int | None = None,
) -> list[str]:
    """Rewrite ``fraction`` of the tree's files in place; return their relative paths.

    New contents (and sizes) differ from every earlier version, so any tool
    must notice the change; the same arguments always give the same result.
    """
    layout = TreeLayout(files=files, folders=folders)
    base = Path(root)
    changed = []
    for index in pick_modified(files, fraction, seed, round_no):
        rel = layout.relpath(index)
        write_file(base / rel, small_file_bytes(seed, index, round_no, size))
        changed.append(rel)
    return changed


def make_big_file(path: str | os.PathLike[str], size: int = GIB, seed: int = DEFAULT_SEED) -> int:
    """Write a ``size``-byte file of non-repeating pseudo-random bytes; return size."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as fh:
        for chunk_no, offset in enumerate(range(0, size, BIG_CHUNK)):
            n = min(BIG_CHUNK, size - offset)
            fh.write(det_bytes(f"{seed}:big:{chunk_no}", n))
    return size


def patch_big_file(
    path: str | os.PathLike[str],
    length: int = MIB,
    offset: int | None = None,
    seed: int = DEFAULT_SEED,
    round_no: int = 1,
) -> tuple[int, int]:
    """Overwrite ``length`` bytes in place (centred by default); return (offset, length)."""
    size = os.path.getsize(path)
    length = min(length, size)
    if offset is None:
        offset = max(0, size // 2 - length // 2)
    data = det_bytes(f"{seed}:patch:{round_no}", length)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)
    return offset, length


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line of the generator CLI."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    sub = p.add_subparsers(dest="cmd", required=True)

    for name in ("tree", "modify"):
        s = sub.add_parser(name)
        s.add_argument("root")
        s.add_argument("--files", type=int, default=DEFAULT_FILES)
        s.add_argument("--folders", type=int, default=DEFAULT_FOLDERS)
        s.add_argument(
            "--size",
            type=int,
            default=None,
            help="fixed file size in bytes (default: 1-8 KiB each)",
        )
        if name == "modify":
            s.add_argument("--fraction", type=float, default=0.01)
            s.add_argument("--round", type=int, default=1, dest="round_no")

    s = sub.add_parser("big")
    s.add_argument("path")
    s.add_argument("--mib", type=int, default=1024)

    s = sub.add_parser("patch-big")
    s.add_argument("path")
    s.add_argument("--mib", type=float, default=1.0, help="bytes to rewrite, in MiB")
    s.add_argument("--offset", type=int, default=None, help="default: centred")
    s.add_argument("--round", type=int, default=1, dest="round_no")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    a = _parse_args(argv)
    if a.cmd == "tree":
        total = make_tree(a.root, a.files, a.folders, a.seed, a.size)
        print(f"wrote {a.files} files, {total / MIB:.1f} MiB under {a.root}")
    elif a.cmd == "modify":
        changed = modify_tree(a.root, a.files, a.folders, a.fraction, a.seed, a.round_no, a.size)
        print(f"rewrote {len(changed)} files under {a.root}")
    elif a.cmd == "big":
        make_big_file(a.path, a.mib * MIB, a.seed)
        print(f"wrote {a.mib} MiB to {a.path}")
    elif a.cmd == "patch-big":
        off, n = patch_big_file(a.path, int(a.mib * MIB), a.offset, a.seed, a.round_no)
        print(f"rewrote {n} bytes at offset {off} of {a.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
