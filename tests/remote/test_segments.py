"""Record segments read from a remote: the oids they index are parsed (exit 4 when malformed)."""

from __future__ import annotations

import json
import zlib

import pytest

from dvlin.errors import ExitCode
from dvlin.objects.hashing import Oid, hash_bytes
from dvlin.remote.errors import RemoteCorruptError
from dvlin.remote.segments import SEGMENT_FORMAT, Location, Segment

OID = Oid("0123456789abcdef0123456789abcdef")


VID = "fedcba9876543210fedcba9876543210"
VERSION = {"id": VID, "parent": None, "manifest": OID, "tree": OID, "storage": [OID]}


def _bytes(
    objects: list[list[object]], records: dict[str, list[dict[str, object]]] | None = None
) -> tuple[str, bytes]:
    body = {
        "format": SEGMENT_FORMAT,
        "clone": "c1",
        "created_at": "2026-01-01T00:00:00Z",
        "records": records or {},
        "objects": objects,
    }
    data = zlib.compress(json.dumps(body).encode())
    return hash_bytes("xxh3-128", data), data


def test_a_segment_round_trips_its_object_index() -> None:
    segment = Segment("c1", "2026-01-01T00:00:00Z", {}, {OID: Location("packs/ab/x", 0, 3)})
    sid, data = segment.encode("xxh3-128")
    assert Segment.decode(sid, data, algorithm="xxh3-128", url="file:///r") == segment


@pytest.mark.parametrize("oid", ["../../etc/passwd", OID.upper(), OID[:-1], OID * 2])
def test_a_malformed_oid_in_a_segment_is_a_corrupt_remote(oid: str) -> None:
    sid, data = _bytes([[oid, "packs/ab/x", 0, 3]])
    with pytest.raises(RemoteCorruptError) as caught:
        Segment.decode(sid, data, algorithm="xxh3-128", url="file:///r")
    assert caught.value.exit_code == ExitCode.INTEGRITY
    assert f"malformed object id {oid!r} for xxh3-128" in caught.value.message
    assert caught.value.message.startswith(f"remote file:///r: record segment {sid} is malformed")


def test_well_formed_records_decode() -> None:
    records: dict[str, list[dict[str, object]]] = {
        "version": [VERSION, {**VERSION, "parent": VID}],
        "tag": [{"version": VID}],
    }
    sid, data = _bytes([], records)
    assert Segment.decode(sid, data, algorithm="xxh3-128", url="file:///r").records == records


@pytest.mark.parametrize(
    ("records", "bad"),
    [
        ({"version": [{**VERSION, "id": "v1"}]}, "malformed version id 'v1'"),
        ({"version": [{**VERSION, "parent": "../x"}]}, "malformed version id '../x'"),
        ({"version": [{**VERSION, "manifest": "ab"}]}, "malformed object id 'ab' for xxh3-128"),
        ({"version": [{**VERSION, "tree": OID * 2}]}, f"malformed object id {OID * 2!r}"),
        ({"version": [{**VERSION, "storage": [OID, "x"]}]}, "malformed object id 'x'"),
        ({"tag": [{"version": VID[:-1]}]}, f"malformed version id {VID[:-1]!r}"),
        ({"hold": [{"version": VID.upper()}]}, "malformed version id"),
        ({"expiry": [{"version": ""}]}, "malformed version id ''"),
    ],
)
def test_a_malformed_id_in_a_record_is_a_corrupt_remote(
    records: dict[str, list[dict[str, object]]], bad: str
) -> None:
    sid, data = _bytes([], records)
    with pytest.raises(RemoteCorruptError) as caught:
        Segment.decode(sid, data, algorithm="xxh3-128", url="file:///r")
    assert caught.value.exit_code == ExitCode.INTEGRITY
    assert bad in caught.value.message
