"""The commit's new tree is the parent's kept rows merged with the new rows, not sorted anew:
the merge must give exactly what a full sort gives, on any names."""

from __future__ import annotations

import bisect
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin import Repo
from dvlin.objects import columns
from dvlin.objects.manifest import Entry, Manifest
from dvlin.ops.commit_tree import _merge
from dvlin.ops.manifests import load_manifest

OID = "1" * 32

# Odd and hostile names: the merge orders them by UTF-8 bytes, whatever they are.
ODD = [
    "",
    "a",
    "a/b",
    "a/../b",
    "../x",
    "/abs",
    "a//b",
    "a\\b",
    "ü",
    "u",
    "日本",
    "\U0001f600",
    "a b",
    "a\nb",
    "a\tb",
    "~",
    "\x7f",
    "z" * 200,
]
names = st.one_of(
    st.sampled_from(ODD),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
    st.from_regex(r"[a-c]{1,3}(/[a-c]{1,3}){0,2}", fullmatch=True),
)


def _manifest(paths: list[str]) -> Manifest:
    return Manifest.from_entries(Entry(p, "file", 0o644, 1, OID) for p in paths)


@settings(max_examples=200, deadline=None)
@given(st.sets(names, max_size=60), st.data())
def test_merging_two_sorted_disjoint_manifests_is_a_full_sort(
    paths: set[str], data: st.DataObject
) -> None:
    new = data.draw(st.sets(st.sampled_from(sorted(paths)))) if paths else set()
    old = paths - new
    merged = _merge(_manifest(sorted(old)).table, _manifest(sorted(new)).table)
    reference = _manifest(sorted(paths))  # Manifest sorts by UTF-8 bytes
    assert merged.column("path").to_pylist() == reference.table.column("path").to_pylist()
    assert Manifest(merged.combine_chunks()) == reference


@settings(max_examples=200, deadline=None)
@given(st.lists(names, max_size=40), st.lists(names, max_size=20))
def test_insertion_points_are_bisect_left_in_byte_order(hay: list[str], keys: list[str]) -> None:
    import pyarrow as pa

    encoded = sorted({h.encode() for h in hay})
    got = columns.insertion_points(
        pa.array([h.decode() for h in encoded], pa.string()), pa.array(keys, pa.string())
    )
    assert list(got) == [bisect.bisect_left(encoded, k.encode()) for k in keys]


# Names a folder can hold (no NUL, no slash inside a component, no backslash: the scan
# refuses those), odd otherwise; some share prefixes so new rows land between kept ones.
component = st.one_of(
    st.sampled_from(["a", "ab", "a b", "ü", "u", "日本", "\U0001f600", "~", "a.csv", "-x", "A"]),
    st.text(
        st.characters(
            blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\", max_codepoint=0x2FFFF
        ),
        min_size=1,
        max_size=6,
    ).filter(lambda s: s not in (".", "..")),
)
file_paths = st.lists(component, min_size=1, max_size=3).map("/".join)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sets(file_paths, min_size=1, max_size=25),
    st.sets(file_paths, max_size=10),
    st.data(),
)
def test_a_commit_on_a_parent_gives_the_sorted_tree_a_full_commit_gives(
    tmp_path_factory: pytest.TempPathFactory,
    first: set[str],
    more: set[str],
    data: st.DataObject,
) -> None:
    root = tmp_path_factory.mktemp("merge")
    repo = Repo.init(root)
    try:
        _write(root / "d", first, b"1")
        repo.commit([str(root / "d")], name="d")
        changed = data.draw(st.sets(st.sampled_from(sorted(first))))
        _write(root / "d", changed | more, b"2")
        result = repo.commit([str(root / "d")], name="d")
        got = load_manifest(repo, result.version)
        fresh = Repo.init(tmp_path_factory.mktemp("ref"))
        try:
            shutil.copytree(root / "d", fresh.root / "d", symlinks=True)
            made = fresh.commit([str(fresh.root / "d")], name="d")
            reference = load_manifest(fresh, made.version)
        finally:
            fresh.close()
        paths = got.paths().to_pylist()
        assert paths == sorted(paths, key=str.encode)
        assert paths == reference.paths().to_pylist()
        assert [e._replace(pack=None, offset=None) for e in got.entries()] == [
            e._replace(pack=None, offset=None) for e in reference.entries()
        ]
        assert got.digest(repo.config.hash) == result.version.tree
    finally:
        repo.close()


def _write(folder: Path, paths: set[str], content: bytes) -> None:
    """Write files at ``paths`` (skipping those a file already blocks as a folder)."""
    for p in sorted(paths):
        target = folder / p
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                continue
            target.write_bytes(content + p.encode())
        except (NotADirectoryError, FileExistsError, OSError):
            continue


kinds = st.sampled_from(["file", "file", "file", "dir", "link"])


@settings(max_examples=150, deadline=None)
@given(st.sets(names, min_size=1, max_size=40), st.data())
def test_new_rows_put_in_place_give_the_merged_table_and_its_bytes(
    paths: set[str], data: st.DataObject
) -> None:
    """A commit whose scan has its parent's paths puts the new rows in the parent's table;
    the table, and its Parquet bytes, must be what merging then copying give."""
    import random

    import pyarrow as pa

    from dvlin.lean import numpy_blocked
    from dvlin.ops.commit_tree import _in_place, _reused

    ordered = sorted(paths, key=str.encode)
    n = len(ordered)
    types = [data.draw(kinds) for _ in ordered]
    parent = Manifest.from_columns(
        path=ordered,
        type=types,
        mode=[0o644 if t == "file" else 0o755 for t in types],
        size=[i if t == "file" else 0 for i, t in enumerate(types)],
        oid=[f"{i:032x}" if t == "file" else None for i, t in enumerate(types)],
        target=["x" if t == "link" else None for t in types],
        pack=["p" * 32 if t == "file" and i % 2 else None for i, t in enumerate(types)],
        offset=[i * 10 if t == "file" and i % 2 else None for i, t in enumerate(types)],
    )
    fresh_rows = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1)))
    new_size = data.draw(st.booleans())
    fresh = Manifest.from_columns(
        path=[ordered[i] for i in fresh_rows],
        type=[types[i] for i in fresh_rows],
        mode=[0o644 if types[i] == "file" else 0o755 for i in fresh_rows],
        size=[(i + new_size if types[i] == "file" else 0) for i in fresh_rows],
        oid=[f"{i + 7:032x}" if types[i] == "file" else None for i in fresh_rows],
        target=["x" if types[i] == "link" else None for i in fresh_rows],
        pack=[None] * len(fresh_rows),
        offset=[None] * len(fresh_rows),
        chunks=[
            [{"oid": "c" * 32, "size": 1}] if types[i] == "file" and i % 3 == 0 else None
            for i in fresh_rows
        ],
    )
    # The scan's order is any order: ``where`` is each scanned row's parent row.
    scan = list(range(n))
    random.Random(data.draw(st.integers(0, 9))).shuffle(scan)
    where = pa.array(scan, pa.int64())
    modes = parent.table.column("mode").combine_chunks().take(where)
    fresh_set = set(fresh_rows)
    others = [i for i, row in enumerate(scan) if row in fresh_set]
    got = _in_place(parent, fresh.table, where, modes, others)
    if numpy_blocked():  # a small tree without NumPy (tests/test_lean.py) always merges
        assert got is None
        return
    kept = pa.array([row for row in scan if row not in fresh_set], pa.int64())
    merged = _merge(
        _reused(parent, kept, modes.filter(pa.array([r not in fresh_set for r in scan]))),
        fresh.table,
    )
    expected = merged.combine_chunks()
    assert got is not None
    assert got.equals(expected) and got.schema.equals(expected.schema, check_metadata=True)
    assert Manifest(got).to_parquet() == Manifest(expected).to_parquet()


odd = st.sampled_from(["a", "a-b", "a.b", "a0", "b", "é", "Z", " x", "a b", "new\nline", "名前"])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.tuples(st.lists(odd, min_size=1, max_size=3).map("/".join), kinds), max_size=25),
    st.booleans(),
)
def test_a_first_commit_of_files_folders_and_links_is_the_reference_tree(
    tmp_path_factory: pytest.TempPathFactory, items: list[tuple[str, str]], many: bool
) -> None:
    """The folders and links merged into the sorted file rows give the rows, the digest and
    the Parquet bytes of the reference functions (sorted by path bytes: ``a-b`` < ``a/x``)."""
    import os
    import stat

    from dvlin.objects.hashing import hash_file
    from dvlin.objects.manifest import (
        DIR_MODE,
        EXEC_MODE,
        FILE_MODE,
        LINK_MODE,
        to_parquet,
        tree_digest,
    )

    root = tmp_path_factory.mktemp("first")
    d = root / "d"
    d.mkdir()
    for path, kind in items:
        target = d / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if kind == "file":
                target.write_bytes(path.encode() * (3 if many else 1))
            elif kind == "dir":
                target.mkdir(exist_ok=True)
            else:
                target.symlink_to("elsewhere")
        except OSError:
            continue  # blocked by an earlier file, folder or link
    repo = Repo.init(root)
    try:
        made = repo.commit([str(d)], name="d")
        reference = []
        for folder, dirs, files in os.walk(d):
            rel = os.path.relpath(folder, d)
            prefix = "" if rel == "." else rel + "/"
            for name in dirs + files:
                full, path = os.path.join(folder, name), prefix + name
                st_ = os.lstat(full)
                if stat.S_ISLNK(st_.st_mode):
                    reference.append(Entry(path, "link", LINK_MODE, 0, None, os.readlink(full)))
                elif stat.S_ISDIR(st_.st_mode):
                    reference.append(Entry(path, "dir", DIR_MODE))
                else:
                    mode = EXEC_MODE if st_.st_mode & 0o111 else FILE_MODE
                    oid = hash_file(repo.config.hash, full)
                    reference.append(Entry(path, "file", mode, st_.st_size, oid))
        reference.sort(key=lambda e: e.path.encode())
        got = load_manifest(repo, made.version)
        stored = list(got.entries())
        assert [e._replace(pack=None, offset=None) for e in stored] == reference
        assert made.version.tree == tree_digest(repo.config.hash, reference)
        assert repo.store.get(made.version.manifest) == to_parquet(stored)
    finally:
        repo.close()
