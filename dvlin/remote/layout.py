"""Where things live on a remote, relative to its root URL.

```
refs.json                    the only mutable file: heads, segment list, audit chain heads
segments/ab/abcd…            catalog record segments (zlib JSON), named by their hash
packs/ab/abcd…               packs of small objects, named by their hash; the segments index them
objects/ab/cdef…             large objects, alone, named by their oid
```
"""

from __future__ import annotations

REFS = "refs.json"
REMOTE_FORMAT = 1


def segment_path(sid: str) -> str:
    """Where a record segment lives."""
    return f"segments/{sid[:2]}/{sid}"


def pack_path(pid: str) -> str:
    """Where a pack of small objects lives."""
    return f"packs/{pid[:2]}/{pid}"


def object_path(oid: str) -> str:
    """Where an object stored alone lives."""
    return f"objects/{oid[:2]}/{oid[2:]}"
