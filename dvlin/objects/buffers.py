"""Buffers that the kernel copies file data into quickly: page-aligned, from ``mmap``.

A ``bytearray`` of 128 KiB or more comes from a ``malloc`` chunk of its own whose bytes start
16 bytes past a page boundary. On this project's AMD EPYC VM the kernel's copy of file data
into such a buffer (``read``, ``readv``, ``preadv``: page-cache pages are page-aligned) ran 3-4×
slower than into a page-aligned one: 0.48-0.70 s per GiB against 0.14-0.17 s, a destination
1-24 bytes past the source's alignment being the slow case (docs/benchmarks.md, "Issue 12,
fourteenth pass"). An anonymous mapping is page-aligned, and is not zero-filled up front: its
pages are touched only as they are filled.
"""

from __future__ import annotations

import mmap


def aligned_buffer(size: int) -> mmap.mmap:
    """A writable, page-aligned buffer of ``size`` bytes (zeros until written)."""
    return mmap.mmap(-1, size)
