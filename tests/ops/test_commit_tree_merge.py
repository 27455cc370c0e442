"""The commit's new tree is the parent's kept rows merged with the new rows, not sorted anew:
the merge must give exactly what a full sort gives, on any names."""

from __future__ import annotations

import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.objects import columns
from dvlin.objects.manifest import Entry, Manifest
from dvlin.ops.commit_tree import _merge

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
    assert got.tolist() == [bisect.bisect_left(encoded, k.encode()) for k in keys]
