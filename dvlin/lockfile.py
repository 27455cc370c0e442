"""``dvlin.lock``: which version of each asset the code in this commit uses.

A small TOML file at the repo root, next to ``dvlin.toml``, committed to git with the code::

    # dvlin.lock: the data versions this code was built with. Written by dvlin; commit it.
    format = 1

    [assets.events]
    id = "3f9c2a…"
    version = "v3"
    tree = "8be1…"

Assets are sorted by name, each a table of its own, so a change is a three-line diff. There
are no paths, times, users or machine names in it: two clones holding the same versions
write the same bytes.
"""

from __future__ import annotations

import os
import re
import tomllib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dvlin.errors import DvlinError, FileSystemError, UsageError
from dvlin.ids import OID_LENGTHS, MalformedIdError, Oid, VersionId, is_hex, parse_version_id
from dvlin.values import sealed

LOCK_NAME = "dvlin.lock"
LOCK_FORMAT = 1
_HEADER = (
    "# dvlin.lock: the data versions this code was built with. Written by dvlin; commit it\n"
    "# with your code. `dvlin checkout --lock` brings these versions back byte for byte.\n"
)
_NUMBER = re.compile(r"\Av[1-9][0-9]*\Z")


@sealed
@dataclass(frozen=True, slots=True)
class Pin:
    """One asset pinned to one version."""

    asset: str
    id: VersionId
    number: int
    tree: Oid
    """The version's tree digest (its length is the repo's hash algorithm's: the repo checks it)."""

    @property
    def label(self) -> str:
        """``asset@vN``."""
        return f"{self.asset}@v{self.number}"

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` shape."""
        return {"asset": self.asset, "id": self.id, "version": f"v{self.number}", "tree": self.tree}


def lock_path(root: Path) -> Path:
    """Where a repo's lock file lives."""
    return root / LOCK_NAME


def render(pins: Iterable[Pin]) -> str:
    """The lock file's text: sorted, one table per asset, nothing that differs per machine."""
    import tomli_w

    ordered = sorted(pins, key=lambda p: p.asset.encode())
    doc: dict[str, object] = {
        "format": LOCK_FORMAT,
        "assets": {
            p.asset: {"id": p.id, "version": f"v{p.number}", "tree": p.tree} for p in ordered
        },
    }
    return _HEADER + tomli_w.dumps(doc)


def parse(text: str, *, source: str = LOCK_NAME) -> dict[str, Pin]:
    """Read a lock file's text; anything malformed is a usage error naming the asset."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"{source}: {exc}", hint="restore it from git, or rewrite it with `dvlin lock`"
        ) from None
    fmt = doc.get("format", LOCK_FORMAT)
    if fmt != LOCK_FORMAT:
        raise UsageError(
            f"{source}: lock format {fmt!r} is not one this dvlin knows", hint="upgrade dvlin"
        )
    assets = doc.get("assets", {})
    if not isinstance(assets, Mapping):
        raise UsageError(f"{source}: [assets] must be a table")
    pins: dict[str, Pin] = {}
    for name, row in assets.items():
        ok = (
            isinstance(row, Mapping)
            and isinstance(row.get("id"), str)
            and isinstance(row.get("version"), str)
            and _NUMBER.match(row["version"])
            and isinstance(row.get("tree"), str)
            and len(row["tree"]) in OID_LENGTHS
            and is_hex(row["tree"])
        )
        if not ok:
            raise malformed_pin(name, source)
        try:
            vid = parse_version_id(row["id"])
        except MalformedIdError:
            raise malformed_pin(name, source) from None
        pins[name] = Pin(name, vid, int(row["version"][1:]), Oid(row["tree"]))
    return pins


def malformed_pin(name: str, source: str = LOCK_NAME) -> UsageError:
    """The error for a pin that does not parse: the lock is the user's file (exit 2)."""
    return UsageError(
        f"{source}: the pin of {name!r} is malformed",
        hint='each asset needs id = "<32 hex>", version = "vN" and tree = "<hex digest>"',
    )


def read(root: Path) -> dict[str, Pin] | None:
    """The repo's pins, or None when it has no lock file."""
    path = lock_path(root)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:  # a folder, or unreadable: one line, not a traceback
        raise _unusable(exc, "read", path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            f"{LOCK_NAME} is not UTF-8 text",
            hint="restore it from git, or rewrite it with `dvlin lock`",
        ) from None
    return parse(text)


def _unusable(exc: OSError, action: str, path: Path) -> DvlinError:
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return UsageError(
            f"{LOCK_NAME} is a folder, not a lock file",
            hint=f"move it away; `dvlin lock` then writes {LOCK_NAME}",
        )
    return FileSystemError.from_os(exc, action=action, path=path)


def write(root: Path, pins: Iterable[Pin]) -> bool:
    """Write the lock (atomically) when its text changes; True when it did."""
    path = lock_path(root)
    data = render(pins).encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _unusable(exc, "read", path) from None
    tmp = path.with_name(f".{LOCK_NAME}.{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise _unusable(exc, "write", path) from None
    finally:
        tmp.unlink(missing_ok=True)
    return True
