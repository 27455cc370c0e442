"""Partial manifests (only the columns a comparison needs) and the sorted-merge path join.

A diff of two big versions reads ``DIFF_COLUMNS`` only, validates what it read, and joins the
path columns by a stable sort rather than a hash: each is checked here against the per-entry
references (``diff_entries``, ``validate``) and the hash join, on random trees with odd names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin.errors import IntegrityError
from dvlin.objects import column_join, columns, manifest_io
from dvlin.objects import manifest as manifests
from dvlin.objects.diff import diff_entries, diff_manifests
from dvlin.objects.manifest import DIFF_COLUMNS, Entry, Manifest, to_parquet, validate

ALGORITHM = "xxh3-128"
HEX = "0123456789abcdef"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def partial_reads() -> Iterator[None]:
    """Columnar kernels and partial reads however small the manifest."""
    saved = manifests.SMALL, manifest_io.PARTIAL_FROM
    manifests.SMALL = manifest_io.PARTIAL_FROM = 0
    try:
        yield
    finally:
        manifests.SMALL, manifest_io.PARTIAL_FROM = saved


text_chars = st.characters(blacklist_categories=("Cs",))  # encodable as UTF-8
# Names around '/' in byte order ('-' < '.' < '/' < '0'), non-ASCII, blanks and controls.
segments = st.one_of(
    st.sampled_from(
        ["a", "a-b", "a.b", "a0", "b", "ü", "名前", "with space", "new\nline", "\u200b"]
    ),
    st.text(alphabet=text_chars.filter(lambda c: c not in "/\\\0"), min_size=1, max_size=3),
)


def _safe(path: str) -> bool:
    try:
        manifests.check_path(path)
    except IntegrityError:
        return False
    return True


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    path = draw(st.lists(segments, min_size=1, max_size=3).map("/".join).filter(_safe))
    kind = draw(st.sampled_from(["file", "file", "dir", "link"]))
    if kind == "file":
        oid = draw(st.sampled_from(["1" * 32, "2" * 32, "a" * 32]))
        pack = draw(st.sampled_from([None, "f" * 32]))
        mode = draw(st.sampled_from([0o644, 0o755]))
        return Entry(path, "file", mode, draw(st.integers(0, 3)), oid, None, pack, 0)
    if kind == "link":
        return Entry(path, "link", 0o777, 0, None, draw(st.sampled_from(["x", "y"])))
    return Entry(path, "dir", 0o755)


trees = st.lists(entries(), max_size=30, unique_by=lambda e: e.path)


def partial(tree: list[Entry]) -> Manifest:
    manifest = Manifest.from_parquet(to_parquet(tree), columns=DIFF_COLUMNS)
    assert manifest.partial
    assert manifest.table.column_names == list(DIFF_COLUMNS)
    return manifest


@SETTINGS
@given(trees, trees)
def test_a_diff_of_partial_manifests_matches_the_reference(
    old: list[Entry], new: list[Entry]
) -> None:
    expected = diff_entries({e.path: e for e in old}, {e.path: e for e in new})
    with partial_reads():
        a, b = partial(old), partial(new)
        for manifest, tree in ((a, old), (b, new)):
            assert refusal(lambda m=manifest: m.validate(ALGORITHM)) == refusal(
                lambda t=tree: validate(sorted(t, key=lambda e: e.path.encode()), ALGORITHM)
            )
        assert diff_manifests(a, b) == expected


def refusal(check: object) -> str | None:
    try:
        check()  # type: ignore[operator]
    except IntegrityError as exc:
        return exc.message
    return None


@SETTINGS
@given(
    st.lists(st.text(text_chars, min_size=1, max_size=6), max_size=40, unique=True),
    st.lists(st.text(text_chars, min_size=1, max_size=6), max_size=40, unique=True),
    st.booleans(),
)
def test_the_sorted_merge_joins_as_the_hash_join_does(
    old: list[str], new: list[str], in_order: bool
) -> None:
    if in_order:  # manifests are sorted by path bytes; any order must still join right
        old, new = sorted(old, key=str.encode), sorted(new, key=str.encode)
    a, b = pa.array(old, pa.string()), pa.array(new, pa.string())
    merged = column_join._merge_paths(a, b) if len(a) and len(b) else None
    where = pc.index_in(b, value_set=a).to_pylist()
    expected_new = [j for j, w in enumerate(where) if w is not None]
    expected_old = [w for w in where if w is not None]
    if merged is None:  # refused: a NUL, an empty or null path; the hash join is used
        assert any("\0" in p or not p for p in old + new) or not (old and new)
    else:
        assert merged[0].tolist() == expected_old
        assert merged[1].tolist() == expected_new
    added, both, previous, removed = columns.match_paths(a, b)
    assert both.to_pylist() == expected_new
    assert previous.to_pylist() == expected_old
    assert added.to_pylist() == [j for j, w in enumerate(where) if w is None]
    assert removed.to_pylist() == sorted(set(range(len(old))) - set(expected_old))


def test_a_path_twice_on_one_side_falls_back_to_the_hash_join() -> None:
    a = pa.array(["x", "x", "y"])
    b = pa.array(["x", "z"])
    assert column_join._merge_paths(a, b) is None
    _, both, previous, _ = columns.match_paths(a, b)
    assert both.to_pylist() == [0]
    assert previous.to_pylist() == [0]


def test_wide_paths_fall_back_to_the_hash_join(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(column_join, "MERGE_BYTES", 0)
    a = pa.array(["a", "b" * 300])
    b = pa.array(["a", "c"])
    assert column_join._merge_paths(a, b) is None
    assert columns.match_paths(a, b)[1].to_pylist() == [0]


HOSTILE = [
    Entry("../escaped.txt", "file", 0o644, 1, "1" * 32),
    Entry("a//b", "file", 0o644, 1, "1" * 32),
    Entry("ok.txt", "file", 0o644, 1, "NOTHEX" + "0" * 26),
    Entry("short.txt", "file", 0o644, 1, "1" * 31),
    Entry("link", "link", 0o777, 0, None, ""),
    Entry("weird", "bogus", 0o644, 0, None),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("bad", HOSTILE, ids=lambda e: e.path)
def test_a_partial_manifest_refuses_what_the_reference_refuses(bad: Entry) -> None:
    tree = [Entry("a.txt", "file", 0o644, 1, "2" * 32), bad]
    with pytest.raises(IntegrityError) as expected:
        validate(tree, ALGORITHM)
    with partial_reads(), pytest.raises(IntegrityError) as got:
        partial(tree).validate(ALGORITHM)
    assert got.value.message == expected.value.message


def test_a_partial_manifest_refuses_a_path_twice_and_a_path_under_a_link() -> None:
    oid = "1" * 32
    twice = [Entry("a", "file", 0o644, 1, oid), Entry("a", "file", 0o644, 1, oid)]
    under = [Entry("l", "link", 0o777, 0, None, "x"), Entry("l/f", "file", 0o644, 1, oid)]
    with partial_reads():
        with pytest.raises(IntegrityError, match="twice"):
            partial(twice).validate(ALGORITHM)
        with pytest.raises(IntegrityError, match="under the link"):
            partial(under).validate(ALGORITHM)


def test_storage_columns_are_not_read_nor_checked_by_a_partial_read() -> None:
    tree = [Entry("a", "file", 0o644, 1, "1" * 32, None, "not an oid", 0)]
    with pytest.raises(IntegrityError):
        validate(tree, ALGORITHM)
    with partial_reads():
        partial(tree).validate(ALGORITHM)  # a diff never reads where bytes are packed
        with pytest.raises(KeyError):
            list(partial(tree).entries())  # and cannot be mistaken for a whole manifest


def test_a_small_manifest_is_read_whole_even_when_columns_are_asked_for() -> None:
    tree = [Entry("a", "file", 0o644, 1, "1" * 32, None, "f" * 32, 0)]
    manifest = Manifest.from_parquet(to_parquet(tree), columns=DIFF_COLUMNS)
    assert not manifest.partial
    assert list(manifest.entries()) == tree


def test_all_hex_sees_every_byte() -> None:
    assert columns.all_hex(pa.array(["0123456789abcdef", None, ""]))
    assert not columns.all_hex(pa.array(["0123", "abcG"]))
    assert not columns.all_hex(pa.array(["0123", "ab\n"]).slice(1))
    assert columns.all_hex(pa.array(["zz", "ab"]).slice(1))
