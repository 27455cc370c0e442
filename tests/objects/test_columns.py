"""The columnar Manifest agrees with the reference functions on random and hostile trees.

Every test runs the vectorised kernels (``SMALL`` is lowered to 0) and compares them with the
straightforward per-entry references: ``tree_digest``, ``validate``, ``diff_entries``,
``Entry.storage_oids`` and a dict lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin.errors import IntegrityError
from dvlin.objects import manifest as manifests
from dvlin.objects.diff import diff_entries, diff_manifests
from dvlin.objects.manifest import (
    Chunk,
    Entry,
    Manifest,
    to_parquet,
    tree_digest,
    validate,
)

ALGORITHM = "xxh3-128"
HEX = "0123456789abcdef"


@contextmanager
def vectorised() -> Iterator[None]:
    """Make every Manifest method take its columnar path, however small the tree."""
    saved = manifests.SMALL
    manifests.SMALL = 0
    try:
        yield
    finally:
        manifests.SMALL = saved


segments = st.one_of(
    st.sampled_from(["a", "b", "data", "ü", "名前", "with space", "new\nline", "x.csv"]),
    st.sampled_from(["..", ".", "", "back\\slash", "nul\0byte", "tab\t", "\u200b", " "]),
    st.text(min_size=1, max_size=4),
)
paths = st.one_of(
    st.lists(segments, min_size=1, max_size=4).map("/".join),
    st.sampled_from(["", "/abs", "a//b", "a/", "../up", "a/./b"]),
)
good_oids = st.text(alphabet=HEX, min_size=32, max_size=32)
oids = st.one_of(
    good_oids,
    good_oids,
    st.sampled_from(["", "A" * 32, "a" * 31, "a" * 33, "a" * 31 + "\n", "g" * 32, "é" * 32]),
)
targets = st.one_of(st.none(), st.sampled_from(["", "a", "../x", "/etc", "x\0y", "data/b"]))
chunk_lists = st.one_of(
    st.none(), st.lists(st.builds(Chunk, oids, st.integers(0, 99)), min_size=0, max_size=3)
)


@st.composite
def entries(draw: st.DrawFn, hostile: bool = True) -> Entry:
    kind = draw(st.sampled_from(["file", "file", "dir", "link", *(["bogus"] if hostile else [])]))
    path = draw(
        paths
        if hostile
        else st.lists(st.sampled_from("abcd"), min_size=1, max_size=3).map("/".join)
    )
    mode = draw(st.sampled_from([0o644, 0o755, 0o777, 0, 0o4755]))
    if kind == "file":
        oid = draw(st.one_of(st.none(), oids) if hostile else good_oids)
        pack = draw(st.one_of(st.none(), oids)) if hostile else None
        chunks = draw(chunk_lists) if hostile else None
        chunk_tuple = None if chunks is None else tuple(chunks)
        return Entry(path, "file", mode, draw(st.integers(0, 9)), oid, None, pack, 0, chunk_tuple)
    if kind == "link":
        return Entry(path, "link", 0o777, 0, None, draw(targets if hostile else st.just("t")))
    return Entry(path, kind, mode)  # type: ignore[arg-type]


trees = st.lists(entries(), max_size=30)
clean_trees = st.lists(entries(hostile=False), max_size=30, unique_by=lambda e: e.path)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def refusal(check: object) -> str | None:
    try:
        check()  # type: ignore[operator]
    except IntegrityError as exc:
        return exc.message
    return None


@SETTINGS
@given(trees)
def test_digest_matches_the_reference(tree: list[Entry]) -> None:
    with vectorised():
        assert Manifest.from_entries(tree).digest(ALGORITHM) == tree_digest(ALGORITHM, tree)


@SETTINGS
@given(trees, st.integers(1, 4))
def test_digest_a_slice_of_rows_at_a_time_matches_the_reference(
    tree: list[Entry], rows: int
) -> None:
    from dvlin.objects import columns

    old = columns.DIGEST_ROWS
    columns.DIGEST_ROWS = rows  # a big tree's slices, on small trees
    try:
        with vectorised():
            assert Manifest.from_entries(tree).digest(ALGORITHM) == tree_digest(ALGORITHM, tree)
    finally:
        columns.DIGEST_ROWS = old


@SETTINGS
@given(trees)
def test_validate_refuses_what_the_reference_refuses(tree: list[Entry]) -> None:
    manifest = Manifest.from_entries(tree)
    expected = refusal(lambda: validate(list(manifest.entries()), ALGORITHM))
    with vectorised():
        assert refusal(lambda: manifest.validate(ALGORITHM)) == expected


@SETTINGS
@given(trees)
def test_storage_oids_match_the_reference(tree: list[Entry]) -> None:
    expected = {oid for e in tree for oid in e.storage_oids()}
    with vectorised():
        assert Manifest.from_entries(tree).storage_oids() == expected


@SETTINGS
@given(st.lists(entries(), max_size=30, unique_by=lambda e: e.path), paths)
def test_get_matches_a_dict_lookup(tree: list[Entry], probe: str) -> None:
    manifest = Manifest.from_entries(tree)
    by_path = {e.path: e for e in tree}
    for path in [probe, *by_path]:
        assert manifest.get(path) == by_path.get(path)


@SETTINGS
@given(clean_trees, clean_trees)
def test_diff_matches_the_reference(old: list[Entry], new: list[Entry]) -> None:
    expected = diff_entries({e.path: e for e in old}, {e.path: e for e in new})
    with vectorised():
        assert diff_manifests(Manifest.from_entries(old), Manifest.from_entries(new)) == expected


@st.composite
def edited(draw: st.DrawFn, *, same_paths: bool) -> tuple[list[Entry], list[Entry]]:
    """A tree and the same tree with some rows edited in place (content, mode, type; the
    first and last rows too), and unless ``same_paths`` some rows dropped and some added."""
    old = draw(clean_trees)
    new = []
    for e in old:
        edit = draw(st.sampled_from(["same", "same", "oid", "mode", "type", "gone"]))
        if edit == "oid" and e.type == "file":
            e = e._replace(oid=draw(good_oids))
        elif edit == "mode":
            e = e._replace(mode=draw(st.sampled_from([0o644, 0o755, 0])))
        elif edit == "type":  # a file replaced by a folder (or the other way round)
            e = Entry(e.path, "dir", 0o755) if e.type != "dir" else Entry(e.path, "file", 0o644)
        elif edit == "gone" and not same_paths:
            continue
        new.append(e)
    if not same_paths:
        taken = {e.path for e in new}
        new += [e for e in draw(clean_trees) if e.path not in taken]
    return old, new


@SETTINGS
@given(st.one_of(edited(same_paths=True), edited(same_paths=False)))
def test_diff_of_an_edited_tree_matches_the_reference(
    trees: tuple[list[Entry], list[Entry]],
) -> None:
    old, new = trees
    expected = diff_entries({e.path: e for e in old}, {e.path: e for e in new})
    with vectorised():
        assert diff_manifests(Manifest.from_entries(old), Manifest.from_entries(new)) == expected


@SETTINGS
@given(trees)
def test_parquet_bytes_and_entries_round_trip(tree: list[Entry]) -> None:
    manifest = Manifest.from_entries(tree)
    assert manifest.to_parquet() == to_parquet(tree)
    back = Manifest.from_parquet(to_parquet(tree))
    assert list(back.entries()) == sorted(tree, key=lambda e: e.path.encode())
    assert back.table.equals(manifest.table)


@SETTINGS
@given(clean_trees, clean_trees)
def test_replace_is_the_same_as_building_the_new_tree(old: list[Entry], new: list[Entry]) -> None:
    gone = [e.path for e in old if e.path not in {n.path for n in new}]
    with vectorised():
        replaced = Manifest.from_entries(old).replace(gone, Manifest.from_entries(new))
    expected = {e.path: e for e in old if e.path not in gone} | {e.path: e for e in new}
    assert list(replaced.entries()) == sorted(expected.values(), key=lambda e: e.path.encode())


def test_from_columns_sorts_by_path_bytes_and_counts_files() -> None:
    manifest = Manifest.from_columns(
        path=["b", "a/x", "é", "a"],
        type=["file", "file", "file", "dir"],
        mode=[0o644, 0o755, 0o644, 0o755],
        size=[1, 2, 3, 0],
        oid=["b" * 32, "a" * 32, "c" * 32, None],
    )
    assert manifest.paths().to_pylist() == ["a", "a/x", "b", "é"]
    with vectorised():
        assert (manifest.file_count(), manifest.file_bytes()) == (3, 6)
    assert (manifest.file_count(), manifest.file_bytes()) == (3, 6)


def test_take_and_filter_keep_rows_sorted() -> None:
    manifest = Manifest.from_entries(Entry(p, "dir", 0o755) for p in ["c", "a", "b"])
    assert manifest.take([2, 0]).paths().to_pylist() == ["a", "c"]
    assert manifest.filter([True, False, True]).paths().to_pylist() == ["a", "c"]
    assert len(Manifest.empty()) == 0


def test_an_unreadable_manifest_is_an_integrity_error() -> None:
    with pytest.raises(IntegrityError, match="unreadable"):
        Manifest.from_parquet(b"not parquet")


def test_an_unsorted_manifest_on_disk_is_sorted_when_read() -> None:
    import io

    import pyarrow.parquet as pq

    table = Manifest.from_entries([Entry("a", "dir", 0o755), Entry("b", "dir", 0o755)]).table
    sink = io.BytesIO()
    pq.write_table(table.take([1, 0]), sink)
    assert Manifest.from_parquet(sink.getvalue()).paths().to_pylist() == ["a", "b"]


@pytest.mark.parametrize(
    "entry",
    [
        *(
            Entry(path, "file", 0o644, 1, "a" * 32)
            for path in ["", "/abs", "a//b", "a/", "..", "a/../b", "./a", "a/.", "b\\c", "n\0l"]
        ),
        Entry("ok", "file", 0o644, 1, "A" * 32),
        Entry("ok", "file", 0o644, 1, "a" * 32 + "\n"),
        Entry("ok", "file", 0o644, 1, None),
        Entry("ok", "file", 0o644, 1, "a" * 32, pack="short"),
        Entry("ok", "file", 0o644, 1, "a" * 32, chunks=(Chunk("a" * 32, 1), Chunk("z", 1))),
        Entry("ok", "link", 0o777, target=""),
        Entry("ok", "link", 0o777, target="a\0b"),
        Entry("ok", "socket", 0o777),  # type: ignore[arg-type]
    ],
)
def test_each_hostile_entry_is_refused_with_the_reference_message(entry: Entry) -> None:
    tree = [Entry("fine", "file", 0o644, 1, "b" * 32), entry]
    expected = refusal(lambda: validate(tree, ALGORITHM))
    assert expected is not None
    with vectorised():
        assert refusal(lambda: Manifest.from_entries(tree).validate(ALGORITHM)) == expected


def test_a_path_listed_twice_is_refused() -> None:
    tree = [Entry("a", "dir", 0o755), Entry("a", "dir", 0o755)]
    with vectorised(), pytest.raises(IntegrityError, match="lists a path twice"):
        Manifest.from_entries(tree).validate(ALGORITHM)


def test_link_parents_are_found_at_every_depth() -> None:
    with vectorised():
        tree = Manifest.from_entries(
            [Entry("l", "link", 0o777, target="x"), Entry("l/a/b/c", "dir", 0o755)]
        )
        with pytest.raises(IntegrityError, match="'l/a/b/c' lies under the link 'l'"):
            tree.validate(ALGORITHM)


def test_a_manifest_with_wider_columns_is_read_into_the_schema() -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = Manifest.from_entries([Entry("a", "file", 0o644, 1, "a" * 32)]).table
    wider = table.set_column(1, "type", pa.array(["file"]).dictionary_encode())  # int32 codes
    wider = wider.set_column(2, "mode", pa.array([0o644], pa.int64()))
    sink = io.BytesIO()
    pq.write_table(wider, sink)
    back = Manifest.from_parquet(sink.getvalue())
    assert back.table.schema.equals(table.schema)
    assert list(back.entries()) == [Entry("a", "file", 0o644, 1, "a" * 32)]
