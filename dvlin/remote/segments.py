"""Record segments: one immutable file per push holding the catalog records it adds.

A segment is zlib-compressed canonical JSON, named by the repo hash of its bytes, so a reader
verifies it before use and caches it forever. It also indexes where on the remote each object
uploaded by that push lives (a file, an offset and a size), so no reader ever lists a bucket.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any, cast

from dvlin.ids import MalformedIdError, Oid, check_oids, check_version_ids
from dvlin.objects.hashing import hash_bytes
from dvlin.remote.errors import RemoteCorruptError
from dvlin.values import sealed

SEGMENT_FORMAT = 1

# The record kinds a segment carries, in the order a reader applies them.
KINDS = (
    "asset",
    "version",
    "tag",
    "run",
    "edge",
    "stage",
    "hold",
    "release",
    "expiry",
    "audit",
    "gc",
)
"""``release`` rows lift a hold (``version``, ``created_at`` of the hold) that a clone released;
``gc`` rows name objects remote gc deleted: a reader stops counting on them."""

ORPHAN = "orphan:"
"""The ``oid`` of a ``gc`` row for a file no record referenced (a push killed or in flight):
``orphan:`` and the file's path. A push whose upload journal names that file sends it again."""


@sealed
@dataclass(frozen=True, slots=True)
class Location:
    """Where an object's bytes are on the remote."""

    file: str
    offset: int
    size: int


@sealed
@dataclass(frozen=True, slots=True)
class Segment:
    """The records and object locations one push added."""

    clone: str
    created_at: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    objects: dict[Oid, Location] = field(default_factory=dict)

    def encode(self, algorithm: str) -> tuple[str, bytes]:
        """The segment's id and bytes."""
        body = {
            "format": SEGMENT_FORMAT,
            "clone": self.clone,
            "created_at": self.created_at,
            "records": {k: self.records[k] for k in KINDS if self.records.get(k)},
            "objects": [
                [oid, loc.file, loc.offset, loc.size] for oid, loc in sorted(self.objects.items())
            ],
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        data = zlib.compress(text.encode("utf-8"), 6)
        return hash_bytes(algorithm, data), data

    @classmethod
    def decode(cls, sid: str, data: bytes, *, algorithm: str, url: str) -> Segment:
        """Verify a segment's bytes against its id and parse it.

        Raises:
            RemoteCorruptError: the bytes do not hash to the id, or do not parse.
        """
        found = hash_bytes(algorithm, data)
        if found != sid:
            raise RemoteCorruptError(
                f"remote {url}: record segment {sid} is corrupt (its bytes hash to {found})",
                hint="restore it from the store's versioning or a backup; nothing was changed "
                "locally",
            )
        try:
            body = json.loads(zlib.decompress(data))
            if body["format"] != SEGMENT_FORMAT:
                raise ValueError(f"format {body['format']}")
            records = {str(k): list(v) for k, v in body["records"].items()}
            _check_ids(records, algorithm)
            objects: dict[str, Location] = {
                str(o[0]): Location(str(o[1]), int(o[2]), int(o[3])) for o in body["objects"]
            }
            check_oids(objects.keys(), algorithm)
            return cls(
                clone=str(body["clone"]),
                created_at=str(body["created_at"]),
                records=records,
                objects=cast("dict[Oid, Location]", objects),
            )
        except (ValueError, KeyError, TypeError, IndexError, zlib.error, MalformedIdError) as exc:
            raise RemoteCorruptError(
                f"remote {url}: record segment {sid} is malformed ({exc})",
                hint="it was written by another tool or a newer dvlin",
            ) from None


def _check_ids(records: dict[str, list[dict[str, Any]]], algorithm: str) -> None:
    """Parse the ids the records carry, before any of them reaches the catalog.

    Raises:
        MalformedIdError: a version id, manifest, tree or stored object id that is not one.
    """
    versions = records.get("version", ())
    check_version_ids(
        [str(r["id"]) for r in versions]
        + [str(r["parent"]) for r in versions if r.get("parent") is not None]
        + [
            str(r["version"])
            for k in ("tag", "stage", "hold", "expiry")
            for r in records.get(k, ())
        ]
    )
    check_oids(
        [str(r["manifest"]) for r in versions]
        + [str(r["tree"]) for r in versions if r.get("tree") is not None]
        + [str(oid) for r in versions for oid in r.get("storage", ())],
        algorithm,
    )
