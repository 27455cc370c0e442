"""``refs.json``: the remote's heads, its record segments in order, and audit chain heads.

It is the only file on a remote that ever changes, and only by compare-and-swap, so every
push is serialised through it: a push re-reads it after losing a race and re-checks its
assets' heads before trying again. It carries a checksum, so a damaged file is an integrity
error rather than a silently different remote.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from dvlin.ids import MalformedIdError, VersionId, parse_oid, parse_version_id
from dvlin.remote.errors import RemoteCorruptError, RemoteFormatError
from dvlin.remote.layout import REMOTE_FORMAT, parse_segment_ref
from dvlin.values import sealed


@sealed
@dataclass(frozen=True, slots=True)
class Head:
    """Where an asset's history ends on the remote."""

    version: VersionId
    number: int


@sealed
@dataclass(frozen=True, slots=True)
class Refs:
    """The parsed ``refs.json``."""

    hash: str
    heads: dict[str, Head] = field(default_factory=dict)
    segments: tuple[str, ...] = ()
    clones: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Audit chain head ``(seq, hash)`` of every clone that pushed."""
    groups: dict[str, str] = field(default_factory=dict)
    """Storage group → URL of the store that keeps its files, when not under this remote."""
    chunker: str = ""
    """How the first repo that pushed here cuts big files (its ``core.chunker``), which a clone
    takes so its big files' new versions share chunks with the team's; "" where a dvlin from
    before the choice was recorded made the remote (its repos all cut with ``fastcdc-2016``)."""

    def to_bytes(self) -> bytes:
        """Canonical JSON with a checksum over everything else."""
        body: dict[str, Any] = {
            "format": REMOTE_FORMAT,
            "hash": self.hash,
            "heads": {
                a: {"version": h.version, "number": h.number} for a, h in sorted(self.heads.items())
            },
            "segments": list(self.segments),
            "clones": {c: [s, h] for c, (s, h) in sorted(self.clones.items())},
        }
        if self.groups:
            body["groups"] = dict(sorted(self.groups.items()))
        if self.chunker:
            body["chunker"] = self.chunker
        body["checksum"] = _checksum(body)
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, data: bytes, *, url: str) -> Refs:
        """Parse and check ``refs.json``.

        Raises:
            RemoteCorruptError: not JSON, a wrong checksum, or a malformed field.
            RemoteFormatError: written by a newer dvlin.
        """
        try:
            body = json.loads(data)
            checksum = body.pop("checksum")
            if checksum != _checksum(body):
                raise ValueError("checksum mismatch")
            fmt = body["format"]
            if fmt != REMOTE_FORMAT:
                raise RemoteFormatError(
                    f"remote {url} has format {fmt}, newer than this dvlin understands",
                    hint="upgrade dvlin",
                )
            algorithm = str(body["hash"])
            segments = tuple(str(s) for s in body["segments"])
            for ref in segments:  # ``[group:]sid``, the sid a hash of the segment's bytes
                parse_oid(parse_segment_ref(ref)[1], algorithm)
            return cls(
                hash=algorithm,
                heads={
                    str(a): Head(parse_version_id(str(h["version"])), int(h["number"]))
                    for a, h in body["heads"].items()
                },
                segments=segments,
                clones={str(c): (int(v[0]), str(v[1])) for c, v in body["clones"].items()},
                groups={str(g): str(u) for g, u in body.get("groups", {}).items()},
                chunker=str(body.get("chunker", "")),
            )
        except RemoteFormatError:
            raise
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            IndexError,
            MalformedIdError,
        ) as exc:
            raise RemoteCorruptError(
                f"remote {url}: refs.json is corrupt ({exc})",
                hint="restore it from the store's versioning or a backup; nothing was changed "
                "locally",
            ) from None


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
