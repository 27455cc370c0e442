"""A file or folder named ``dvlin.lock`` inside the data is data; only the repo's own is skipped."""

from __future__ import annotations

import os
from pathlib import Path

from dvlin import Repo
from tests.conftest import snapshot, write_tree


def test_dvlin_lock_names_inside_an_asset_are_committed_and_checked_out(repo: Repo) -> None:
    write_tree(
        repo.root,
        {
            "prop/dvlin.lock/f": b"in a folder named like the pins file",
            "prop/sub/dvlin.lock": b"a file named like it",
            "prop/empty/dvlin.lock": {},
        },
    )
    expected = snapshot(repo.root / "prop")
    version = repo.commit(["prop"], name="prop").version
    out = repo.root.parent / "out"
    repo.checkout(version.id, to=out)
    assert snapshot(out) == expected
    assert repo.status().clean


def test_the_repos_own_dvlin_lock_is_never_recorded(repo: Repo) -> None:
    write_tree(repo.root, {"data/a.txt": b"a"})
    repo.commit(["data"], name="data")
    assert (repo.root / "dvlin.lock").is_file()  # the pins file, beside .dvlin
    root = repo.commit(["."], name="everything", overlap=True).version
    out = repo.root.parent / "out-root"
    repo.checkout(root.id, to=out)
    assert not (out / "dvlin.lock").exists()
    assert (out / "data" / "a.txt").read_bytes() == b"a"
    assert not os.path.exists(out / ".dvlin")
    assert Path(out).is_dir()
