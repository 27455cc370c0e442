"""Page-aligned buffers for the kernel to read into."""

from __future__ import annotations

import ctypes
import mmap
import os

from dvlin.objects.buffers import aligned_buffer


def test_an_aligned_buffer_is_page_aligned_zeroed_and_takes_a_read() -> None:
    buf = aligned_buffer(3 * mmap.PAGESIZE + 5)
    assert len(buf) == 3 * mmap.PAGESIZE + 5
    assert ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf)) % mmap.PAGESIZE == 0
    assert bytes(buf) == bytes(len(buf))
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"abc")
        assert os.readv(read_end, [memoryview(buf)[10:]]) == 3
    finally:
        os.close(read_end)
        os.close(write_end)
    assert buf[:13] == bytes(10) + b"abc"
