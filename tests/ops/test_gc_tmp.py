"""gc removes temporary files a killed commit left under objects/tmp, once they are old."""

from __future__ import annotations

import json
import os
import time

from dvlin import Repo
from dvlin.audit.log import entries
from dvlin.ops import gc
from tests.conftest import Cli, write_tree

DAY = 86_400.0


def _plant(repo: Repo, name: str, data: bytes, age: float) -> str:
    folder = repo.dvlin_dir / "objects" / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return str(path)


def test_an_old_temporary_file_is_previewed_then_removed_and_logged(repo: Repo, cli: Cli) -> None:
    write_tree(repo.root, {"d/a.txt": "kept"})
    repo.commit(["d"], name="d")
    old = _plant(repo, "0123abcd", b"x" * 1000, 2 * DAY)
    fresh = _plant(repo, "4567ef01", b"y" * 10, 60)

    preview = gc.plan(repo)
    assert preview.temporary == (("0123abcd", 1000),)
    assert os.path.exists(old) and os.path.exists(fresh)
    dry = cli("gc", ok=True).stdout
    assert "1 temporary file" in dry and "tmp/0123abcd" in dry
    doc = json.loads(cli("gc", "--json", ok=True).stdout)
    assert doc["temporary"] == [{"name": "0123abcd", "bytes": 1000}]
    assert doc["bytes"] >= 1000

    done = gc.apply(repo)
    assert done.temporary == (("0123abcd", 1000),)
    assert not os.path.exists(old)
    assert os.path.exists(fresh)  # a commit in flight may still be writing it
    logged = [e for e in entries(repo.catalog) if e.action == "gc-delete"]
    assert [e.target for e in logged] == ["tmp/0123abcd"]
    assert logged[0].details.get("temporary") is True
    summary = [e for e in entries(repo.catalog) if e.action == "gc"][-1]
    assert summary.details["temporary"] == 1
    assert repo.checkout("d@v1", to=repo.root.parent / "out") is not None
    assert (repo.root.parent / "out" / "a.txt").read_text() == "kept"


def test_a_young_temporary_file_stays_whatever_the_grace(repo: Repo) -> None:
    write_tree(repo.root, {"d/a.txt": "kept"})
    repo.commit(["d"], name="d")
    fresh = _plant(repo, "89ab", b"z", 120)
    assert gc.plan(repo).temporary == ()
    gc.apply(repo)
    assert os.path.exists(fresh)
