"""Commit → modify → commit → checkout round trips, on every kind of store."""

from __future__ import annotations

import os
import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin import Repo
from tests.conftest import snapshot, write_tree

TREE = {
    "data/events/a.csv": "id,x\n1,2\n",
    "data/events/empty.bin": b"",
    "data/events/run.sh": ("exec", b"#!/bin/sh\necho hi\n"),
    "data/events/sub/deep/b.bin": os.urandom(300_000),
    "data/events/empty_dir": {},
    "data/events/link": ("link", "sub/deep/b.bin"),
    "data/events/dirlink": ("link", "sub"),
    "data/events/odd name with spaces.txt": "spaces",
    "data/events/ünïcødé/日本.txt": "unicode",
    "data/events/new\nline.txt": "newline in the name",
}


def test_round_trip_bytes_modes_links_and_empty_folders(any_repo: Repo) -> None:
    root = any_repo.root
    write_tree(root, TREE)
    v1_tree = snapshot(root / "data/events")
    r1 = any_repo.commit(["data/events"], name="events", message="first")
    assert r1.created and r1.version.number == 1

    (root / "data/events/a.csv").write_text("id,x\n1,3\n")
    (root / "data/events/added.txt").write_text("new")
    os.remove(root / "data/events/empty.bin")
    r2 = any_repo.commit(["data/events"], name="events", message="second")
    assert r2.version.number == 2 and r2.version.parent == r1.version.id
    assert r2.diff.counts() == {"added": 1, "changed": 1, "removed": 1}
    v2_tree = snapshot(root / "data/events")

    out = root.parent / "restored"
    any_repo.checkout("events@v1", to=out)
    assert snapshot(out) == v1_tree

    # Back in the asset's own folder: v1 exactly, v2's extra file gone, then v2 again.
    any_repo.checkout("events@v1")
    assert snapshot(root / "data/events") == v1_tree
    any_repo.checkout("events@latest")
    assert snapshot(root / "data/events") == v2_tree
    assert any_repo.status().clean
    if not any_repo.store.is_local:
        assert not (any_repo.dvlin_dir / "objects").exists()  # nothing stored locally


def test_unchanged_tree_commits_nothing(repo: Repo) -> None:
    write_tree(repo.root, {"d/a": "1"})
    first = repo.commit(["d"], name="d")
    again = repo.commit(["d"], name="d")
    assert not again.created
    assert again.version.id == first.version.id
    assert len(repo.log("d")) == 1


def test_single_file_and_several_paths(repo: Repo) -> None:
    write_tree(repo.root, {"models/m.pt": b"weights", "x/a.txt": "a", "x/b/c.txt": "c"})
    model = repo.commit(["models/m.pt"], name="m", kind="model")
    assert (model.version.base, model.version.roots) == ("models", ("m.pt",))
    both = repo.commit(["x/a.txt", "x/b"], name="pair")
    assert (both.version.base, both.version.roots) == ("x", ("a.txt", "b"))
    out = repo.root.parent / "pair_out"
    repo.checkout("pair", to=out)
    assert snapshot(out) == {
        "a.txt": ("file", b"a", False),
        "b": ("dir", None, False),
        "b/c.txt": ("file", b"c", False),
    }


def test_checkout_of_some_paths_only(repo: Repo) -> None:
    write_tree(repo.root, {"d/keep/a": "a", "d/other/b": "b"})
    repo.commit(["d"], name="d")
    out = repo.root.parent / "part"
    repo.checkout("d", ["keep"], to=out)
    assert sorted(snapshot(out)) == ["keep", "keep/a"]


def test_tables_and_arrays_are_described(repo: Repo) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    (repo.root / "t").mkdir()
    pq.write_table(pa.table({"id": [1, 2, 3], "name": ["a", None, "c"]}), repo.root / "t/x.parquet")
    (repo.root / "t/y.csv").write_text("a,b\n1,x\n2,y\n")
    (repo.root / "t/z.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
    np.save(repo.root / "t/e.npy", np.zeros((5, 384), dtype=np.float32))
    info = repo.commit(["t"], name="t").version.info.files
    assert info["x.parquet"]["rows"] == 3
    assert [c["name"] for c in info["x.parquet"]["columns"]] == ["id", "name"]
    assert info["y.csv"]["rows"] == 2
    assert info["z.jsonl"]["rows"] == 2
    assert info["e.npy"]["dtype"] == "<f4" and info["e.npy"]["shape"] == [5, 384]


names = st.text(
    alphabet=st.characters(blacklist_characters="/\\\0", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", "..", ".dvlin", ".git"))
trees = st.dictionaries(
    st.lists(names, min_size=1, max_size=3).map(lambda parts: "/".join(parts)),
    st.one_of(st.binary(max_size=2000), st.just({})),
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=trees)
def test_any_tree_round_trips_property(repo: Repo, tree: dict[str, object]) -> None:
    work = repo.root / "prop"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    placed: dict[str, object] = {}
    for rel, value in tree.items():
        # Skip paths whose parent is already a file in this tree.
        parts = rel.split("/")
        if any(
            "/".join(parts[:i]) in placed and placed["/".join(parts[:i])] != {}
            for i in range(1, len(parts))
        ):
            continue
        if any(p.startswith(rel + "/") for p in placed):
            continue
        placed[rel] = value
    write_tree(work, placed)
    expected = snapshot(work)
    result = repo.commit(["prop"], name="prop")
    out = repo.root.parent / f"out-{result.version.id[:8]}"
    shutil.rmtree(out, ignore_errors=True)
    repo.checkout(result.version.id, to=out)
    assert snapshot(out) == expected
