"""``dvlin diff`` compares files by columns: the same changes as comparing entries by path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.objects.manifest import Entry, Manifest
from dvlin.ops.datadiff import FileChange, _file_changes
from dvlin.ops.stats import within


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    path = "/".join(
        draw(st.lists(st.sampled_from(["a", "b", "ü", "t.csv"]), min_size=1, max_size=3))
    )
    kind = draw(st.sampled_from(["file", "file", "link", "dir"]))
    if kind == "file":
        oid = draw(st.sampled_from(["1" * 32, "2" * 32]))
        return Entry(
            path, "file", draw(st.sampled_from([0o644, 0o755])), draw(st.integers(0, 3)), oid
        )
    if kind == "link":
        return Entry(path, "link", 0o777, target=draw(st.sampled_from(["x", "y"])))
    return Entry(path, "dir", 0o755)


trees = st.lists(entries(), max_size=25, unique_by=lambda e: e.path)


def reference(old: list[Entry], new: list[Entry], prefix: str | None) -> list[FileChange]:
    """The entry-by-entry comparison ``dvlin diff`` made before it worked on columns."""
    la = {e.path: e for e in old if e.type in ("file", "link") and within(e.path, prefix)}
    lb = {e.path: e for e in new if e.type in ("file", "link") and within(e.path, prefix)}

    def same(x: Entry, y: Entry) -> bool:
        return (x.type, x.oid, x.target) == (y.type, y.oid, y.target)

    changes = [FileChange(p, "added", None, lb[p].size) for p in lb if p not in la]
    changes += [FileChange(p, "removed", la[p].size, None) for p in la if p not in lb]
    changes += [
        FileChange(p, "modified", la[p].size, lb[p].size)
        for p in la
        if p in lb and not same(la[p], lb[p])
    ]
    return sorted(changes, key=lambda c: c.path)


@settings(max_examples=200, deadline=None)
@given(trees, trees, st.sampled_from([None, "a", "a/", "ü", "t.csv", "."]))
def test_file_changes_match_the_entry_comparison(
    old: list[Entry], new: list[Entry], prefix: str | None
) -> None:
    a = Manifest.from_entries(old).within(prefix)
    b = Manifest.from_entries(new).within(prefix)
    changes, pairs = _file_changes(a, b)
    assert changes == reference(old, new, prefix)
    olds, news = {e.path: e for e in old}, {e.path: e for e in new}
    assert pairs == [
        (c.path, c.path)
        for c in changes
        if c.change == "modified"
        and olds[c.path].type == news[c.path].type == "file"
        and olds[c.path].oid != news[c.path].oid
    ]


@st.composite
def same_paths(draw: st.DrawFn) -> tuple[list[Entry], list[Entry]]:
    """A tree and its paths again, some rows with another type or content (the first and last
    rows too): the two path columns are equal."""
    old = draw(trees)
    new = []
    for e in old:
        if draw(st.booleans()):
            other = draw(entries())
            e = Entry(e.path, other.type, other.mode, other.size, other.oid, other.target)
        new.append(e)
    return old, new


@settings(max_examples=200, deadline=None)
@given(same_paths(), st.sampled_from([None, "a", "ü", "."]))
def test_file_changes_of_the_same_paths_match_the_entry_comparison(
    trees: tuple[list[Entry], list[Entry]], prefix: str | None
) -> None:
    old, new = trees
    changes, _ = _file_changes(
        Manifest.from_entries(old).within(prefix), Manifest.from_entries(new).within(prefix)
    )
    assert changes == reference(old, new, prefix)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.builds(
            lambda path, kind: Entry(path, kind, 0o644, 1, "1" * 32 if kind == "file" else None),
            st.sampled_from(["a.csv", "b.CSV", "t/x.parquet", "t/y.npy", "n.txt", "dir.csv/z"]),
            st.sampled_from(["file", "dir"]),
        ),
        unique_by=lambda e: e.path,
    ),
    st.sampled_from([None, "t", "a.csv", "."]),
)
def test_profiled_files_are_found_by_columns_as_by_entries(
    tree: list[Entry], prefix: str | None
) -> None:
    from dvlin.objects import manifest as manifests
    from dvlin.ops.profiles import profiled_entries

    manifest = Manifest.from_entries(tree)
    by_entries = profiled_entries(manifest, prefix)
    saved, manifests.SMALL = manifests.SMALL, 0
    try:
        assert profiled_entries(manifest, prefix) == by_entries
    finally:
        manifests.SMALL = saved


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.builds(
            lambda path, kind: Entry(path, kind, 0o644, 1, "1" * 32 if kind == "file" else None),
            st.sampled_from(["a.csv", "b.CSV", "t/x.parquet", "t/y.npy", "n.txt", "dir.csv/z"]),
            st.sampled_from(["file", "dir"]),
        ),
        unique_by=lambda e: e.path,
    ),
    st.sampled_from([None, "t", "a.csv", "."]),
)
def test_profiled_paths_of_a_partial_manifest_match_the_entries(
    tree: list[Entry], prefix: str | None
) -> None:
    from dvlin.objects import manifest_io
    from dvlin.objects.manifest import DIFF_COLUMNS, to_parquet
    from dvlin.ops.datadiff import profiled_paths
    from dvlin.ops.profiles import profiled_entries

    expected = [e.path for e in profiled_entries(Manifest.from_entries(tree), prefix)]
    saved, manifest_io.PARTIAL_FROM = manifest_io.PARTIAL_FROM, 0
    try:
        partial = Manifest.from_parquet(to_parquet(tree), columns=DIFF_COLUMNS)
    finally:
        manifest_io.PARTIAL_FROM = saved
    assert partial.partial
    assert profiled_paths(partial, prefix) == expected


@settings(max_examples=60, deadline=None)
@given(trees, trees)
def test_file_changes_of_partial_manifests_match_the_entry_comparison(
    old: list[Entry], new: list[Entry]
) -> None:
    from dvlin.objects import manifest_io
    from dvlin.objects.manifest import DIFF_COLUMNS, to_parquet

    saved, manifest_io.PARTIAL_FROM = manifest_io.PARTIAL_FROM, 0
    try:
        a = Manifest.from_parquet(to_parquet(old), columns=DIFF_COLUMNS)
        b = Manifest.from_parquet(to_parquet(new), columns=DIFF_COLUMNS)
    finally:
        manifest_io.PARTIAL_FROM = saved
    changes, _ = _file_changes(a, b)
    assert changes == reference(old, new, None)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a.csv", "b.CSV", "t/x.parquet", "t/y.npy", "n.txt", "dir.csv/z"]),
            st.sampled_from(["file", "dir"]),
            st.sampled_from(["file", "dir"]),
        ),
        unique_by=lambda row: row[0],
    ),
    st.booleans(),
    st.sampled_from([None, "t", "a.csv", "."]),
)
def test_a_side_with_the_other_sides_paths_finds_the_same_profiled_files(
    rows: list[tuple[str, str, str]], same: bool, prefix: str | None
) -> None:
    """The second side takes the first side's candidates only when its paths are the same;
    its own types still decide (a table on one side can be a folder on the other)."""
    from dvlin.objects import manifest_io
    from dvlin.objects.manifest import DIFF_COLUMNS, to_parquet
    from dvlin.ops.datadiff import _Side
    from dvlin.ops.profiles import profiled_entries

    def entry(path: str, kind: str) -> Entry:
        return Entry(path, kind, 0o644, 1, "1" * 32 if kind == "file" else None)  # type: ignore[arg-type]

    old = [entry(p, a) for p, a, _ in rows]
    new = [entry(p, b) for p, _, b in rows] + ([] if same else [entry("z/extra.csv", "file")])
    sides = []
    saved, manifest_io.PARTIAL_FROM = manifest_io.PARTIAL_FROM, 0
    try:
        for tree in (old, new):
            side = object.__new__(_Side)
            side.manifest = Manifest.from_parquet(to_parquet(tree), columns=DIFF_COLUMNS)
            side._candidates = None
            sides.append(side)
    finally:
        manifest_io.PARTIAL_FROM = saved
    a, b = sides
    assert a.profiled(prefix) == [
        e.path for e in profiled_entries(Manifest.from_entries(old), prefix)
    ]
    assert b.profiled(prefix, like=a) == [
        e.path for e in profiled_entries(Manifest.from_entries(new), prefix)
    ]
