"""Wording shared by the core's messages and the renderers: counted nouns."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 file``, ``2 files``, ``1,234 entries`` (give ``nouns`` when adding s is wrong)."""
    word = noun if count == 1 else (nouns or noun + "s")
    return f"{count:,} {word}"
