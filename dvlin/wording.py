"""Wording shared by the core's messages and the renderers: counted nouns, byte sizes."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 file``, ``2 files``, ``1,234 entries`` (give ``nouns`` when adding s is wrong)."""
    word = noun if count == 1 else (nouns or noun + "s")
    return f"{count:,} {word}"


def human_bytes(n: int) -> str:
    """``1536`` → ``1.5 KiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
