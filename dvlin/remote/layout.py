"""Where things live on a remote, relative to its root URL.

```
refs.json                    the only mutable file: heads, segment list, audit chain heads
segments/ab/abcd…            catalog record segments (zlib JSON), named by their hash
packs/ab/abcd…               packs of small objects, named by their hash; the segments index them
objects/ab/cdef…             large objects, alone, named by their oid
groups/NAME/…                the same three for a storage group (its own access policy)
```
"""

from __future__ import annotations

from dvlin.ids import Oid

REFS = "refs.json"
REMOTE_FORMAT = 1
GROUPS = "groups/"


def group_prefix(group: str | None) -> str:
    """Where a storage group's files live: ``groups/NAME/``, or the root for no group."""
    return f"{GROUPS}{group}/" if group else ""


def segment_ref(sid: str, group: str | None) -> str:
    """How ``refs.json`` names a segment: ``SID``, or ``GROUP:SID`` inside a storage group."""
    return f"{group}:{sid}" if group else sid


def parse_segment_ref(ref: str) -> tuple[str | None, Oid]:
    """``(group, sid)`` of a segment named in ``refs.json`` (``Refs.parse`` checked the sid)."""
    group, sep, sid = ref.rpartition(":")
    return (group or None) if sep else None, Oid(sid)


def segment_path(sid: str, group: str | None = None) -> str:
    """Where a record segment lives."""
    return f"{group_prefix(group)}segments/{sid[:2]}/{sid}"


def pack_path(pid: str, group: str | None = None) -> str:
    """Where a pack of small objects lives."""
    return f"{group_prefix(group)}packs/{pid[:2]}/{pid}"


def object_path(oid: Oid, group: str | None = None) -> str:
    """Where an object stored alone lives."""
    return f"{group_prefix(group)}objects/{oid[:2]}/{oid[2:]}"


def in_group(file: str, group: str | None) -> bool:
    """Whether a remote file belongs to ``group`` (None: to no group)."""
    if group:
        return file.startswith(group_prefix(group))
    return not file.startswith(GROUPS)
