"""Torn files: what a writer killed mid-file left under a file's own name.

Checkouts made by this version of dvlin never leave one (see :mod:`dvlin.workspace.folders`),
but one made by an earlier version may have: a rerun under its marker counts a file that
holds a strict prefix of the marked version's bytes as that checkout's work, not as a change.
"""

from __future__ import annotations

import os

from dvlin.errors import IntegrityError
from dvlin.objects.manifest import Entry
from dvlin.objects.store import ObjectStore

__all__ = ["is_torn", "read_prefix"]


def read_prefix(store: ObjectStore, e: Entry, size: int) -> bytes:
    """The first ``size`` bytes of a file entry's content, read from the store (verified)."""
    assert e.oid is not None
    if e.chunks is not None:
        pieces, have = [], 0
        for chunk in e.chunks:
            if have >= size:
                break
            pieces.append(store.get(chunk.oid))
            have += chunk.size
        return b"".join(pieces)[:size]
    if e.pack is not None and not store.has(e.oid):
        return store.get_slice(e.pack, e.offset or 0, e.size, e.oid)[:size]
    return store.get(e.oid)[:size]


def is_torn(store: ObjectStore, root: str, e: Entry, theirs: Entry | None) -> bool:
    """True when the file ``e`` under ``root`` holds a strict prefix of ``theirs``'s bytes.

    A writer killed in a folder its checkout created leaves such a file under its own name;
    it holds no byte the rerun does not write back, so it is that checkout's work, not a change.
    """
    if e.type != "file" or theirs is None or theirs.type != "file" or e.size >= theirs.size:
        return False
    try:
        with open(os.path.join(root, e.path), "rb") as f:
            found = f.read(theirs.size + 1)
        return read_prefix(store, theirs, len(found)) == found
    except (OSError, IntegrityError):
        return False
