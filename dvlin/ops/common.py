"""Small helpers shared by the verbs: asset, tag and kind names, and KEY=VALUE flags."""

from __future__ import annotations

import re

from dvlin.errors import UsageError

KINDS = ("dataset", "features", "embeddings", "model")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_RESERVED_TAG = re.compile(r"^(latest|v\d+|~\d+)$")


def check_asset_name(name: str) -> str:
    """Validate an asset name: letters, digits, ``_ . - /``; no ``@``, no ``..``."""
    if not _NAME.match(name) or ".." in name.split("/") or name.endswith("/") or "//" in name:
        raise UsageError(
            f"invalid asset name {name!r}",
            hint="use letters, digits, '_', '.', '-' and '/' (no '@', spaces or '..')",
        )
    return name


def check_kind(kind: str) -> str:
    """Validate an asset kind."""
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}", hint=f"one of: {', '.join(KINDS)}")
    return kind


def check_tag_name(name: str) -> str:
    """Validate a tag name: not empty, no ``@``, and not one of the built-in ref words."""
    if not _TAG.match(name) or _RESERVED_TAG.match(name):
        raise UsageError(
            f"invalid tag name {name!r}",
            hint="use letters, digits, '_', '.', '-'; 'latest', 'vN' and '~N' are reserved",
        )
    return name


def parse_key_values(pairs: list[str] | tuple[str, ...], *, flag: str) -> dict[str, str]:
    """Parse ``KEY=VALUE`` arguments."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"{flag} expects KEY=VALUE, got {pair!r}", hint=f"e.g. {flag} source=s3"
            )
        result[key.strip()] = value
    return result
