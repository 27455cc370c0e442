"""A stat cache killed between its rows and its head (kill -9) is accepted by the next command.

The rows file and the one-line head are replaced one after the other, each atomically; a commit
writes them inside its catalog transaction. Killed in between, the rows (and their ``row``
column) point into a tree no version has, the head still names the old one: the next status
and commit must still tell exactly what changed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.faults import IN_STATCACHE
from dvlin.objects.hashing import hash_file
from dvlin.ops.manifests import load_entries
from tests.conftest import kill_when_paused, write_tree


def _aged(root: Path, files: dict[str, str]) -> None:
    write_tree(root, files)
    past = time.time() - 60
    for p in files:
        os.utime(root / p, (past, past))


def _on_disk(repo: Repo) -> dict[str, str]:
    base = repo.root / "d"
    return {
        str(p.relative_to(base)): hash_file(repo.config.hash, str(p))
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def _two_versions(repo: Repo) -> None:
    """24 files committed, one changed and committed again: the stat cache's rows point into
    the second version's manifest."""
    _aged(repo.root, {f"d/{i % 3}/f{i:02d}.txt": f"v{i}" for i in range(24)})
    repo.commit(["d"], name="d")
    _aged(repo.root, {"d/1/f01.txt": "one"})
    repo.commit(["d"], name="d")


def _status_says_twice(
    repo: Repo, *, added: tuple[str, ...] = (), changed: tuple[str, ...] = ()
) -> None:
    """Status after the kill, twice (the first may repair the cache): these paths, nothing
    removed."""
    for _ in range(2):
        diff = repo.status(["d"]).assets[0].diff
        assert (diff.added, diff.changed, diff.removed) == (added, changed, ())


@pytest.mark.slow
@pytest.mark.parametrize("command", [["commit", "d", "--name", "d"], ["status"]])
def test_killed_between_the_rows_and_the_head(
    repo: Repo, tmp_path: Path, command: list[str]
) -> None:
    _two_versions(repo)
    _aged(repo.root, {"d/2/f02.txt": "two"})

    kill_when_paused(command, repo.root, IN_STATCACHE, tmp_path / "paused")

    assert [v.number for v in repo.log("d")] == [2, 1]  # the killed commit recorded nothing
    _status_says_twice(repo, changed=("2/f02.txt",))
    result = repo.commit(["d"], name="d")
    assert result.version.number == 3 and result.diff.changed == ("2/f02.txt",)
    committed = load_entries(repo, result.version)
    assert {p: e.oid for p, e in committed.items() if e.type == "file"} == _on_disk(repo)
    assert repo.status(["d"]).clean
    _aged(repo.root, {"d/0/f03.txt": "three"})
    assert repo.commit(["d"], name="d").diff.changed == ("0/f03.txt",)


@pytest.mark.slow
@pytest.mark.parametrize("command", [["commit", "d", "--name", "d"], ["status"]])
def test_killed_after_a_rewrite_before_the_old_delta_is_removed(
    repo: Repo, tmp_path: Path, command: list[str]
) -> None:
    from dvlin.workspace import statfile

    _two_versions(repo)
    _aged(repo.root, {"d/1/f04.txt": "four"})
    repo.commit(["d"], name="d")  # one row changed: written as a delta
    file = next((repo.dvlin_dir / statfile.FOLDER).glob("*.arrow"))
    assert statfile.delta_file(file).exists()
    _aged(repo.root, {"d/2/new.txt": "new", "d/0/f03.txt": "three"})  # a new path: rewritten

    kill_when_paused(command, repo.root, IN_STATCACHE, tmp_path / "paused")

    assert statfile.delta_file(file).exists()  # killed before the old delta went
    assert [v.number for v in repo.log("d")] == [3, 2, 1]
    _status_says_twice(repo, added=("2/new.txt",), changed=("0/f03.txt",))
    result = repo.commit(["d"], name="d")
    assert result.version.number == 4 and result.diff.added == ("2/new.txt",)
    committed = load_entries(repo, result.version)
    assert {p: e.oid for p, e in committed.items() if e.type == "file"} == _on_disk(repo)
    assert repo.status(["d"]).clean
    _aged(repo.root, {"d/1/f07.txt": "seven"})
    assert repo.commit(["d"], name="d").diff.changed == ("1/f07.txt",)
