"""100,000 files: commit, clean status, 0.1% changed, status, commit, checkout back, status.

The column paths (scan fingerprint, stat-cache columns, parent rows reused by columns) at a
size where per-file Python objects would show; checked by contents, never by time.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.objects.diff import Diff

FILES = 100_000
FOLDERS = 100


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            h.update(os.path.relpath(full, root).encode() + b"\0")
            with open(full, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


@pytest.mark.slow
def test_a_100000_file_round_trip(repo: Repo) -> None:
    data = repo.root / "data"
    past = time.time_ns() - 3600 * 1_000_000_000
    for i in range(FILES):
        folder = data / f"d{i % FOLDERS:03d}"
        if i < FOLDERS:
            folder.mkdir(parents=True)
        path = folder / f"f{i:06d}.bin"
        path.write_bytes(b"%d\n" % i)
        os.utime(path, ns=(past + i, past + i))
    v1_digest = _tree_digest(data)

    first = repo.commit(["data"], name="data")
    assert first.created and first.version.files == FILES
    clean = repo.status(["data"])
    assert clean.clean and clean.hashed_files == 0

    changed = sorted(f"d{i % FOLDERS:03d}/f{i:06d}.bin" for i in range(0, FILES, 1000))
    for rel in changed:
        path = data / rel
        path.write_bytes(b"changed " + path.read_bytes())
        os.utime(path, ns=(past - 1, past - 1))
    (data / "d000/new.bin").write_bytes(b"new")
    os.unlink(data / "d001/f000001.bin")
    modified = repo.status(["data"]).assets[0]
    assert modified.diff == Diff(("d000/new.bin",), tuple(changed), ("d001/f000001.bin",))
    assert repo.status(["data"]).hashed_files == 0  # the changes are remembered

    second = repo.commit(["data"], name="data")
    assert second.created and second.version.files == FILES
    assert second.diff == modified.diff
    assert repo.status(["data"]).clean

    repo.checkout("data@v1", force=True)
    assert _tree_digest(data) == v1_digest
    back = repo.status(["data"])
    assert back.clean and back.assets[0].version.id == first.version.id
