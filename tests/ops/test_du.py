"""``dvlin du``: every figure checked against the object files on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dvlin import Repo
from dvlin.ops import gc
from dvlin.ops.du import du
from dvlin.ops.manifests import load_entries
from tests.conftest import Cli, write_tree


def _disk(repo: Repo) -> dict[str, int]:
    root = repo.dvlin_dir / "objects"
    return {
        p.parent.name + p.name: p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and p.parent.name != "tmp"
    }


def _size(repo: Repo, oid: str) -> int:
    return os.stat(repo.store.path(oid)).st_size


def _setup(repo: Repo) -> dict[str, bytes]:
    blobs = {
        name: os.urandom(n) for name, n in [("shared", 200_000), ("a1", 300_000), ("a2", 300_001)]
    }
    write_tree(
        repo.root, {"d/shared.bin": blobs["shared"], "d/a.bin": blobs["a1"], "d/small.txt": "hi"}
    )
    repo.commit(["d"], name="d")
    write_tree(repo.root, {"d/a.bin": blobs["a2"]})
    repo.commit(["d"], name="d")
    write_tree(repo.root, {"e/copy.bin": blobs["shared"]})
    repo.commit(["e"], name="e")
    return blobs


def test_totals_match_the_store_on_disk(repo: Repo) -> None:
    _setup(repo)
    report = du(repo)
    disk = _disk(repo)
    assert report.stored == sum(disk.values())
    assert report.objects == len(disk)
    assert (report.packs, report.packed_files) == (1, 1)
    assert report.unreferenced_objects == 0
    versions = {v.label: v for v in repo.log()}
    assert report.logical == sum(v.bytes for v in versions.values())
    assert report.logical == 2 * 200_000 + 300_000 + 300_001 + 2 * 2 + 200_000


def test_unique_and_shared_per_version_and_asset(repo: Repo) -> None:
    _setup(repo)
    report = du(repo)
    d = next(a for a in report.assets if a.name == "d")
    v1, v2 = d.versions
    e1 = load_entries(repo, repo.resolve("d@v1"))
    e2 = load_entries(repo, repo.resolve("d@v2"))
    shared_oid = e1["shared.bin"].oid
    pack = e1["small.txt"].pack
    assert shared_oid and pack
    m1, m2 = repo.resolve("d@v1").manifest, repo.resolve("d@v2").manifest
    assert v1.unique == _size(repo, e1["a.bin"].oid or "") + _size(repo, m1)
    assert v2.unique == _size(repo, e2["a.bin"].oid or "") + _size(repo, m2)
    assert v1.shared == v2.shared == _size(repo, shared_oid) + _size(repo, pack)
    assert v1.objects == 4  # shared.bin, a.bin, the pack, the manifest
    # Across assets: e's copy of shared.bin is the same object, so it is not unique to d.
    assert d.stored == v1.stored + v2.unique
    assert d.unique == d.stored - _size(repo, shared_oid)
    e = next(a for a in report.assets if a.name == "e")
    assert e.shared == _size(repo, shared_oid)


def test_gc_figure_is_what_gc_deletes(repo: Repo) -> None:
    _setup(repo)
    (repo.root / "dvlin.toml").write_text("[assets.d.retention]\nkeep_last = 1\n")
    report = du(repo, ["d"])
    e1 = load_entries(repo, repo.resolve("d@v1"))
    expected = _size(repo, e1["a.bin"].oid or "") + _size(repo, repo.resolve("d@v1").manifest)
    assert (report.gc_versions, report.gc_objects, report.gc_bytes) == (1, 2, expected)
    before = sum(_disk(repo).values())
    gc.apply(repo)
    assert before - sum(_disk(repo).values()) == expected
    after = du(repo, ["d"])
    assert after.gc_bytes == 0 and after.stored == before - expected
    assert [v.expired for v in after.assets[0].versions] == [True, False]


def test_cli_json_and_text(repo: Repo, cli: Cli) -> None:
    _setup(repo)
    data = json.loads(cli("du", "--json", ok=True).stdout)
    assert [a["asset"] for a in data["assets"]] == ["d", "e"]
    assert data["total"]["stored_bytes"] == sum(_disk(repo).values())
    one = json.loads(cli("du", "d", "--json", ok=True).stdout)
    assert [a["asset"] for a in one["assets"]] == ["d"]
    by_path = json.loads(cli("du", str(Path("e")), "--json", ok=True).stdout)
    assert [a["asset"] for a in by_path["assets"]] == ["e"]
    text = cli("du", ok=True).stdout
    assert "gc would free" in text and "  v2" in text
    bad = cli("du", "nope")
    assert bad.exit_code == 3 and "unknown asset 'nope'" in bad.stderr


def test_a_pack_holding_one_small_file_is_counted(repo: Repo) -> None:
    # One small file makes a pack with that file's bytes, hence the same oid as the file.
    write_tree(repo.root, {"s/one.txt": "first"})
    first = repo.commit(["s"], name="s")
    assert first.new_objects == 2  # the pack and the manifest
    write_tree(repo.root, {"s/one.txt": "second"})
    repo.commit(["s"], name="s")
    (repo.root / "dvlin.toml").write_text("[assets.s.retention]\nkeep_last = 1\n")
    report = du(repo)
    assert report.stored == sum(_disk(repo).values())
    assert (report.packs, report.packed_files) == (2, 2)
    before = sum(_disk(repo).values())
    plan = gc.plan(repo)
    assert report.gc_bytes == plan.bytes
    gc.apply(repo)
    assert before - sum(_disk(repo).values()) == plan.bytes > 0
