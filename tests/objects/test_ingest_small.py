"""Small files go into packs by columns, read ahead and written on threads: what a commit
records must be what hashing every file and reading every blob back gives.

Packs and batches are made tiny here so that one example crosses many of them: a blob equal to
one in a pack still being written, in a pack already named, or in the catalog from an earlier
commit; files that grew or shrank after the scan; a pack killed half written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin import Repo
from dvlin.objects import ingest
from dvlin.objects.hashing import hash_bytes
from dvlin.objects.manifest import FILE_MODE, Entry, tree_digest
from dvlin.ops.fsck import fsck
from dvlin.ops.manifests import load_manifest
from tests.conftest import kill_when_paused, write_tree

NAMES = ["a", "b.txt", "sub/c", "sub/deep/d.csv", "ünï/é", "tab\tx", "new\nline", "-x", "z" * 90]
BLOBS = [b"", b"1", b"22", b"hello", b"x" * 70, bytes(range(256)), b"y" * 3000]


def _reference(root: Path, algorithm: str) -> dict[str, Entry]:
    """Every file under ``root`` hashed whole, one entry each (the straightforward path)."""
    found: dict[str, Entry] = {}
    for folder, _, files in os.walk(root):
        for name in files:
            full = Path(folder) / name
            path = full.relative_to(root).as_posix()
            data = full.read_bytes()
            found[path] = Entry(path, "file", FILE_MODE, len(data), hash_bytes(algorithm, data))
    return found


def _check_version(repo: Repo, root: Path, name: str) -> None:
    """The latest version lists the reference's files, and every blob reads back whole."""
    version = repo.catalog.latest_version(name)
    assert version is not None
    manifest = load_manifest(repo, version)
    truth = _reference(root, repo.config.hash)
    files = {e.path: e for e in manifest.entries() if e.type == "file"}
    assert {p: (e.size, e.oid) for p, e in files.items()} == {
        p: (e.size, e.oid) for p, e in truth.items()
    }
    dirs = [e for e in manifest.entries() if e.type == "dir"]
    assert version.tree == tree_digest(repo.config.hash, [*truth.values(), *dirs])
    for path, e in files.items():
        assert e.oid is not None
        if e.pack is not None:
            assert e.offset is not None
            got = repo.store.get_slice(e.pack, e.offset, e.size, e.oid)
        else:
            got = repo.store.get(e.oid)
        assert got == (root / path).read_bytes(), path
        row = repo.catalog.find_object(e.oid)
        assert row is not None and (row.pack, row.offset) == (e.pack, e.offset), path
    assert fsck(repo).ok


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(BLOBS)), min_size=1, max_size=12),
    st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(BLOBS)), max_size=6),
    st.integers(1, 4),
    st.sampled_from([1, 80, 400, 10_000]),
)
def test_packed_commits_agree_with_hashing_everything(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    first: list[tuple[str, bytes]],
    second: list[tuple[str, bytes]],
    batch: int,
    pack_target: int,
) -> None:
    monkeypatch.setattr(ingest, "_BATCH_FILES", batch)
    monkeypatch.setattr(ingest, "PACK_TARGET", pack_target)
    root = tmp_path_factory.mktemp("repo")
    repo = Repo.init(root)
    try:
        data = root / "d"
        for round_ in (first, second):
            for name, blob in round_:
                target = data / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(blob)
            if not round_ and repo.catalog.latest_version("d") is not None:
                continue
            repo.commit([str(data)], name="d")
            _check_version(repo, data, "d")
    finally:
        repo.close()


def test_a_file_that_grew_or_shrank_after_the_scan_is_committed_as_read(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(repo.root, {"d/grow.txt": "ab", "d/shrink.txt": "abcdef", "d/same.txt": "s"})
    real = ingest.Ingester.add_file

    def changed_meanwhile(
        self: ingest.Ingester, abs_path: str, *args: object, **kw: object
    ) -> None:
        if abs_path.endswith("grow.txt"):
            Path(abs_path).write_bytes(b"ab" * 40_000)
        elif abs_path.endswith("shrink.txt"):
            Path(abs_path).write_bytes(b"a")
        real(self, abs_path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest.Ingester, "add_file", changed_meanwhile)
    repo.commit(["d"], name="d")
    _check_version(repo, repo.root / "d", "d")


def test_a_first_commit_dedupes_against_an_earlier_asset(repo: Repo) -> None:
    write_tree(repo.root, {"a/x.txt": "same", "a/y.txt": "other"})
    repo.commit(["a"], name="a")
    write_tree(repo.root, {"b/x.txt": "same", "b/z.txt": "same", "b/w.txt": "new"})
    result = repo.commit(["b"], name="b")
    assert result.new_objects == 2  # one pack (holding "new") and the manifest
    _check_version(repo, repo.root / "b", "b")


@pytest.mark.slow
def test_killed_while_a_small_file_pack_is_written_leaves_a_usable_repo(
    repo: Repo, tmp_path: Path
) -> None:
    write_tree(repo.root, {f"d/f{j}.bin": os.urandom(3000 + j) for j in range(300)})
    marker = tmp_path / "paused"
    kill_when_paused(["commit", "d", "--name", "d"], repo.root, "DVLIN_TEST_PAUSE_IN_PACK", marker)
    repo.close()

    assert repo.catalog.asset_names() == []
    assert repo.catalog.conn.execute("SELECT COUNT(*) FROM objects").fetchone()[0] == 0
    assert fsck(repo).ok
    assert repo.status().assets == ()  # nothing committed, nothing half there
    repo.commit(["d"], name="d")
    _check_version(repo, repo.root / "d", "d")
    assert repo.status().clean
