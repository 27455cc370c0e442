"""Manifests: Parquet round trips, canonical digests, and refusal of hostile paths."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.errors import IntegrityError
from dvlin.objects.manifest import (
    Chunk,
    Entry,
    from_parquet,
    leaves_tree,
    to_parquet,
    tree_digest,
    validate,
)

OID = "a" * 32


def sample() -> list[Entry]:
    return [
        Entry("a.txt", "file", 0o644, 3, OID, None, "b" * 32, 10),
        Entry(
            "big.bin", "file", 0o755, 9, "c" * 32, chunks=(Chunk("d" * 32, 4), Chunk("e" * 32, 5))
        ),
        Entry("dir", "dir", 0o755),
        Entry("dir/link", "link", 0o777, target="../a.txt"),
        Entry("spaced name ü\nnewline", "file", 0o644, 0, "f" * 32),
    ]


def test_parquet_round_trip() -> None:
    entries = sample()
    back = from_parquet(to_parquet(entries))
    assert sorted(back) == sorted(entries)


@settings(max_examples=40, deadline=None)
@given(st.permutations(sample()))
def test_digest_is_order_independent(perm: list[Entry]) -> None:
    assert tree_digest("xxh3-128", perm) == tree_digest("xxh3-128", sample())


def test_digest_ignores_storage_but_not_content_or_mode() -> None:
    base = tree_digest("xxh3-128", sample())
    moved = [e._replace(pack=None, offset=None) for e in sample()]
    assert tree_digest("xxh3-128", moved) == base
    chmod = [e._replace(mode=0o755) if e.path == "a.txt" else e for e in sample()]
    assert tree_digest("xxh3-128", chmod) != base


@pytest.mark.parametrize(
    "path", ["../evil", "a/../../evil", "/etc/passwd", "", "a//b", "./a", "a/./b", "a\\b"]
)
def test_hostile_paths_are_refused(path: str) -> None:
    with pytest.raises(IntegrityError):
        validate([Entry(path, "file", 0o644, 1, OID)], "xxh3-128")


@pytest.mark.parametrize("target", ["/etc", "../../x", "../outside", "a/../../.."])
def test_links_out_of_the_tree_are_kept_as_links(target: str) -> None:
    validate([Entry("link", "link", 0o777, target=target)], "xxh3-128")
    assert leaves_tree("link", target)
    assert not leaves_tree("a/link", "../b")


@pytest.mark.parametrize("target", ["", "a\0b"])
def test_malformed_link_targets_are_refused(target: str) -> None:
    with pytest.raises(IntegrityError, match="malformed target"):
        validate([Entry("link", "link", 0o777, target=target)], "xxh3-128")


def test_paths_under_a_link_are_refused() -> None:
    # Writing a/b/c would go through the link a/b to wherever it points.
    entries = [
        Entry("a", "dir", 0o755),
        Entry("a/b", "link", 0o777, target="/etc"),
        Entry("a/b/c", "file", 0o644, 1, OID),
    ]
    with pytest.raises(IntegrityError, match="lies under the link 'a/b'"):
        validate(entries, "xxh3-128")


def test_malformed_oids_are_refused() -> None:
    with pytest.raises(IntegrityError, match="malformed"):
        validate([Entry("a", "file", 0o644, 1, "../../x")], "xxh3-128")


_NAMES = ["a", "a b", "a.b", "ab", "é", "e\u0301", "日本", "😀", "\U0010fffd", "\x7f", "Z", "-"]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3).map("/".join),
        min_size=2,
        max_size=20,
    ),
    st.booleans(),
)
def test_a_read_sorts_by_path_bytes_whatever_the_stored_order(
    paths: list[str], python_check: bool
) -> None:
    # A manifest stored in any order (duplicates included) reads back sorted by UTF-8 bytes,
    # stable, whether the order is checked in Python (up to SORTED_CHECK_ROWS) or by kernels.
    from unittest import mock

    from dvlin.objects import manifest
    from dvlin.objects.manifest_io import entries_table, table_parquet

    entries = [Entry(p, "file", 0o644, i, OID) for i, p in enumerate(paths)]
    table = entries_table(entries)
    table = table.take(list(range(len(entries)))[::-1])  # stored in reverse path order
    limit = 10**9 if python_check else 0
    with (
        mock.patch.object(manifest, "SMALL", 0),
        mock.patch.object(manifest, "SORTED_CHECK_ROWS", limit),
    ):
        back = list(manifest.Manifest.from_parquet(table_parquet(table)).entries())
    expected = sorted(entries[::-1], key=lambda e: e.path.encode())
    if len(set(paths)) == len(paths):
        assert back == expected
    else:
        assert [e.path for e in back] == [e.path for e in expected]


def test_empty_and_absent_chunk_lists_read_back_as_written() -> None:
    entries = [
        Entry("a", "file", 0o644, 0, OID, chunks=()),
        Entry("b", "file", 0o644, 3, OID, chunks=(Chunk("d" * 32, 3),)),
        Entry("c", "file", 0o644, 1, OID, None, "b" * 32, 0),
    ]
    assert from_parquet(to_parquet(entries)) == entries
    assert from_parquet(to_parquet(entries[:1])) == entries[:1]


@pytest.mark.parametrize(
    "columns",
    [["path"], ["path", "chunks"], ["chunks"], ["path", "type", "mode", "size", "oid", "target"]],
)
def test_the_manifest_reader_reads_what_parquet_file_reads(columns: list[str]) -> None:
    # parquet_file avoids importing pyarrow.parquet; nested columns (chunks) come back whole.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dvlin.objects.manifest_io import parquet_file

    data = pa.py_buffer(to_parquet(sample()))
    ours = parquet_file(data)
    theirs = pq.ParquetFile(pa.BufferReader(data))
    assert ours.metadata.num_rows == theirs.metadata.num_rows == len(sample())
    assert ours.read(columns=columns).equals(theirs.read(columns=columns))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3).map("/".join),
            st.integers(0, 2**40),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_the_manifest_writer_writes_what_pyarrow_parquet_writes(
    rows: list[tuple[str, int, bool]],
) -> None:
    # table_parquet avoids importing pyarrow.parquet: the same bytes as its write_table.
    import io

    import pyarrow.parquet as pq

    from dvlin.objects.manifest_io import entries_table, table_parquet

    entries = sorted(
        {
            p: Entry(p, "file", 0o644, size, OID, chunks=(Chunk("d" * 32, size),) if big else None)
            for p, size, big in rows
        }.values(),
        key=lambda e: e.path.encode(),
    )
    table = entries_table(entries)
    sink = io.BytesIO()
    pq.write_table(table.combine_chunks(), sink, compression="zstd")
    assert table_parquet(table) == sink.getvalue()
    assert from_parquet(table_parquet(table)) == entries


@pytest.mark.parametrize("cut", [0, 4, 100, -8])
def test_a_torn_or_foreign_manifest_is_an_integrity_error(cut: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dvlin.ops.checkout_plan import unknown_paths

    data = to_parquet(sample())
    torn = data[:cut] if cut > 0 else data[cut:] if cut else b""
    for bad in (torn, b"PAR1" + bytes(40) + b"PAR1"):
        with pytest.raises(IntegrityError, match="unreadable"):
            from_parquet(bad)
        with pytest.raises(IntegrityError, match="unreadable"):
            unknown_paths(["x"], [bad])
    foreign = pa.BufferOutputStream()
    pq.write_table(pa.table({"name": ["a"]}), foreign)  # a Parquet file, not a manifest
    with pytest.raises(IntegrityError, match="unreadable"):
        from_parquet(foreign.getvalue().to_pybytes())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["file", "dir", "link", "fifo"]), min_size=4, max_size=4, unique=True),
    st.lists(st.one_of(st.none(), st.integers(0, 3)), max_size=40),
    st.integers(1, 7),
)
def test_entries_decode_a_dictionary_type_column_as_arrow_does(
    words: list[str], codes: list[int | None], batch_rows: int
) -> None:
    # The type column is decoded from its codes and dictionary (Arrow's own to_pylist of a
    # dictionary array is ten times slower); any dictionary order, unused words and nulls.
    import pyarrow as pa

    from dvlin.objects.manifest_io import _schema, table_entries

    n = len(codes)
    kinds = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), pa.array(words))
    columns = {
        "path": pa.array([f"p{i:03}" for i in range(n)]),
        "type": kinds,
        "mode": pa.array([0o644] * n, pa.int32()),
        "size": pa.array(list(range(n)), pa.int64()),
        "oid": pa.array([OID] * n),
        "target": pa.array([None] * n, pa.string()),
        "pack": pa.array([None] * n, pa.string()),
        "offset": pa.array([None] * n, pa.int64()),
        "chunks": pa.array([None] * n, _schema().field("chunks").type),
    }
    table = pa.table(columns)
    got = list(table_entries(table, batch_rows=batch_rows))
    assert [tuple(e) for e in got] == [tuple(row.values()) for row in table.to_pylist()]
