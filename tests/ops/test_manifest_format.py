"""Repos written before the columnar manifests keep working: format 1 is still what is on disk.

The manifests of a fresh repo are rebuilt here by a format-1 writer spelled out independently of
dvlin's code (the schema, the fixed type dictionary, zstd Parquet): the bytes must be identical,
so a repo from before reads as one from now — and ls, show, diff, checkout and fsck work on it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dvlin import Repo
from dvlin.objects.manifest import MANIFEST_FORMAT, Manifest
from tests.conftest import Cli, snapshot, write_tree

FORMAT_1 = pa.schema(
    [
        ("path", pa.string()),
        ("type", pa.dictionary(pa.int8(), pa.string())),
        ("mode", pa.int32()),
        ("size", pa.int64()),
        ("oid", pa.string()),
        ("target", pa.string()),
        ("pack", pa.string()),
        ("offset", pa.int64()),
        ("chunks", pa.list_(pa.struct([("oid", pa.string()), ("size", pa.int64())]))),
    ],
    metadata={"dvlin.manifest": "1"},
)


def format_1(rows: list[dict[str, Any]]) -> bytes:
    """A manifest as the format-1 writer wrote it: rows sorted by path bytes, zstd Parquet."""
    rows = sorted(rows, key=lambda r: r["path"].encode())
    codes = {"file": 0, "dir": 1, "link": 2}
    arrays = [
        pa.DictionaryArray.from_arrays(
            pa.array([codes[r["type"]] for r in rows], pa.int8()),
            pa.array(["file", "dir", "link"]),
        )
        if field.name == "type"
        else pa.array([r[field.name] for r in rows], field.type)
        for field in FORMAT_1
    ]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, schema=FORMAT_1), sink, compression="zstd")
    return sink.getvalue()


def test_a_format_1_repo_is_read_as_before(work: Path, cli: Cli) -> None:
    write_tree(
        work,
        {
            "data/a.csv": "x\n1\n",
            "data/sub/run.sh": ("exec", b"#!/bin/sh\n"),
            "data/link": ("link", "a.csv"),
            "data/empty": {},
            "data/odd name\u00e9.txt": "odd",
        },
    )
    cli("commit", "data", ok=True)
    first = snapshot(work / "data")
    write_tree(work, {"data/a.csv": "x\n2\n", "data/c.txt": "new"})
    cli("commit", "data", ok=True)

    assert MANIFEST_FORMAT == 1
    with Repo.open(work) as repo:
        versions = repo.catalog.versions("data")
        for v in versions:
            stored = repo.store.get(v.manifest)
            rows = pq.ParquetFile(pa.BufferReader(stored)).read().to_pylist()
            assert format_1(rows) == stored  # still format 1, byte for byte
            manifest = Manifest.from_parquet(stored)
            assert manifest.to_parquet() == stored
            assert manifest.digest(repo.config.hash) == v.tree

    listed = json.loads(cli("ls", "data@v1", "--json", ok=True).stdout)
    assert [r["path"] for r in listed] == [
        "a.csv", "empty", "link", "odd name\u00e9.txt", "sub", "sub/run.sh",
    ]  # fmt: skip
    assert {r["path"]: r["mode"] for r in listed}["sub/run.sh"] == "755"
    shown = json.loads(cli("show", "data@v1", "--json", ok=True).stdout)
    assert shown["files"] == 3
    changed = json.loads(cli("diff", "data@v1", "data@v2", "--json", ok=True).stdout)
    assert changed["files"]["counts"] == {"added": 1, "removed": 0, "modified": 1}
    cli("checkout", "data@v1", ok=True)
    assert snapshot(work / "data") == first
    cli("fsck", ok=True)
