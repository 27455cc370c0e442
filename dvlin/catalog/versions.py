"""Assets, versions and tags: the records and their queries."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dvlin.catalog.db import Db
from dvlin.errors import ConflictError
from dvlin.objects.hashing import Oid, VersionId
from dvlin.values import sealed

VERSION_COLUMNS = (
    "id, asset, number, parent, tree, manifest, author, created_at, message, meta, files, "
    "bytes, base, roots, info"
)


@sealed
@dataclass(frozen=True, slots=True)
class Override:
    """A contract failure committed anyway: who, when, why, and how many rules failed."""

    reason: str
    author: str
    at: str
    failed: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Override:
        """Parse the stored shape (keys other than the four are kept as they are)."""
        known = ("reason", "author", "at", "failed")
        return cls(
            reason=d["reason"],
            author=d["author"],
            at=d["at"],
            failed=d["failed"],
            extra={k: v for k, v in d.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        """The stored (and ``--json``) shape, keys in order as the catalog stores them."""
        d = {
            **self.extra,
            "reason": self.reason,
            "author": self.author,
            "at": self.at,
            "failed": self.failed,
        }
        return dict(sorted(d.items()))


# The keys VersionInfo types, and the JSON type each must have to be read into its field.
_INFO_TYPES: dict[str, type | tuple[type, ...]] = {
    "files": dict,
    "checks": list,
    "override": (dict, type(None)),
    "code": (dict, type(None)),
    "follow_links": bool,
}


def _is_override(d: Mapping[str, Any]) -> bool:
    return (
        all(isinstance(d.get(k), str) for k in ("reason", "author", "at"))
        and type(d.get("failed")) is int
    )


@sealed
@dataclass(frozen=True, slots=True)
class VersionInfo:
    """What a version records besides its files: described tables and arrays, contract checks
    and their override, the code it was committed with, how its folder is scanned.

    Parsed from the catalog's ``info`` JSON once, when the row is read; :meth:`to_json` gives
    back the very same text (version ids and audit digests hash it), so a key is written only
    when it was there, and keys this dvlin does not know are kept as they are.
    """

    files: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    """Described files, path → schema or shape (and ``profile``: the profile object's oid)."""
    checks: tuple[dict[str, Any], ...] = ()
    """The contract's rule results, as ``RuleResult.to_dict`` shapes them."""
    override: Override | None = None
    code: Mapping[str, Any] | None = None
    """``{"git": COMMIT, "dirty": bool}`` when committed inside a git work tree."""
    follow_links: bool = False
    """Committed with ``--follow-links``: status and checkout scan the folder the same way."""
    has: frozenset[str] = frozenset()
    """Which of the known keys the stored JSON holds (an empty list is not a missing one)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VersionInfo:
        """Parse the stored shape; a known key holding an unexpected type is kept as it is."""
        fits = {k: k in d and isinstance(d[k], t) for k, t in _INFO_TYPES.items()}
        fits["override"] = fits["override"] and (
            d["override"] is None or _is_override(d["override"])
        )
        override = d.get("override") if fits["override"] else None
        return cls(
            files=d["files"] if fits["files"] else {},
            checks=tuple(d["checks"]) if fits["checks"] else (),
            override=Override.from_dict(override) if override is not None else None,
            code=d["code"] if fits["code"] else None,
            follow_links=bool(fits["follow_links"] and d["follow_links"]),
            has=frozenset(k for k, ok in fits.items() if ok),
            extra={k: v for k, v in d.items() if not fits.get(k)},
        )

    @classmethod
    def from_json(cls, text: str | None) -> VersionInfo:
        """Parse the catalog's ``info`` column."""
        return cls.from_dict(json.loads(text or "{}"))

    def to_dict(self) -> dict[str, Any]:
        """The stored shape: only the keys it was built with."""
        d: dict[str, Any] = dict(self.extra)
        values: dict[str, Any] = {
            "files": self.files,
            "checks": list(self.checks),
            "override": self.override.to_dict() if self.override else None,
            "code": self.code,
            "follow_links": self.follow_links,
        }
        for k in self.has:
            d[k] = values[k]
        return d

    def to_json(self) -> str:
        """The catalog's ``info`` column."""
        return json.dumps(self.to_dict(), sort_keys=True)


@sealed
@dataclass(frozen=True, slots=True)
class Version:
    """One immutable version of an asset, as the catalog records it."""

    id: VersionId
    asset: str
    number: int
    parent: VersionId | None
    tree: str
    manifest: Oid
    author: str
    created_at: str
    message: str
    meta: dict[str, str]
    files: int
    bytes: int
    base: str
    roots: tuple[str, ...]
    info: VersionInfo = field(default_factory=VersionInfo)

    @property
    def label(self) -> str:
        """``asset@vN``: how people talk about a version."""
        return f"{self.asset}@v{self.number}"

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Version:
        """Build from a row selected with ``VERSION_COLUMNS``."""
        return cls(
            id=row[0],
            asset=row[1],
            number=row[2],
            parent=row[3],
            tree=row[4],
            manifest=row[5],
            author=row[6],
            created_at=row[7],
            message=row[8] or "",
            meta=json.loads(row[9] or "{}"),
            files=row[10],
            bytes=row[11],
            base=row[12],
            roots=tuple(json.loads(row[13] or '["."]')),
            info=VersionInfo.from_json(row[14]),
        )


@sealed
@dataclass(frozen=True, slots=True)
class Asset:
    """A named, versioned thing and a summary of its newest version."""

    name: str
    kind: str
    base: str
    roots: tuple[str, ...]
    created_at: str
    owner: str | None
    latest: int | None
    latest_id: str | None
    bytes: int
    files: int


@sealed
@dataclass(frozen=True, slots=True)
class Tag:
    """A name given to one version of an asset."""

    asset: str
    name: str
    version: VersionId
    number: int
    created_at: str
    author: str


class VersionQueries(Db):
    """Queries over assets, versions and tags."""

    # -- assets and versions ------------------------------------------------------------------

    def asset_names(self, *, include_removed: bool = False) -> list[str]:
        """Every tracked asset name (with ``include_removed``, also those ``rm`` untracked)."""
        where = "" if include_removed else "WHERE removed_at IS NULL "
        return [r[0] for r in self.conn.execute(f"SELECT name FROM assets {where}ORDER BY name")]

    def get_asset_kind(self, name: str) -> str | None:
        """The kind of an asset, or None when it does not exist."""
        row = self.conn.execute("SELECT kind FROM assets WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def list_assets(self, *, include_removed: bool = False) -> list[Asset]:
        """Every tracked asset (or every asset) with its newest version's summary."""
        rows = self.conn.execute(
            """
            SELECT a.name, a.kind, a.base, a.roots, a.created_at, a.owner,
                   v.number, v.id, v.bytes, v.files
            FROM assets a
            LEFT JOIN versions v ON v.asset = a.name
                AND v.number = (SELECT MAX(number) FROM versions WHERE asset = a.name)
            WHERE a.removed_at IS NULL OR ?
            ORDER BY a.name
            """,
            (include_removed,),
        )
        return [
            Asset(
                name=r[0],
                kind=r[1],
                base=r[2],
                roots=tuple(json.loads(r[3])),
                created_at=r[4],
                owner=r[5],
                latest=r[6],
                latest_id=r[7],
                bytes=r[8] or 0,
                files=r[9] or 0,
            )
            for r in rows
        ]

    def upsert_asset(
        self, name: str, *, kind: str, base: str, roots: Sequence[str], created_at: str
    ) -> None:
        """Create the asset, or update where its newest version lives."""
        self.conn.execute(
            """
            INSERT INTO assets (name, kind, base, roots, created_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(name) DO UPDATE SET base = excluded.base, roots = excluded.roots,
                removed_at = NULL
            """,
            (name, kind, base, json.dumps(list(roots)), created_at),
        )

    def latest_version(self, asset: str) -> Version | None:
        """The newest version of ``asset``."""
        row = self.conn.execute(
            f"SELECT {VERSION_COLUMNS} FROM versions WHERE asset = ? ORDER BY number DESC LIMIT 1",
            (asset,),
        ).fetchone()
        return Version.from_row(row) if row else None

    def version_by_number(self, asset: str, number: int) -> Version | None:
        """Version ``number`` of ``asset``."""
        row = self.conn.execute(
            f"SELECT {VERSION_COLUMNS} FROM versions WHERE asset = ? AND number = ?",
            (asset, number),
        ).fetchone()
        return Version.from_row(row) if row else None

    def version(self, version_id: str) -> Version | None:
        """The version with exactly this id."""
        row = self.conn.execute(
            f"SELECT {VERSION_COLUMNS} FROM versions WHERE id = ?", (version_id,)
        ).fetchone()
        return Version.from_row(row) if row else None

    def versions_with_prefix(self, prefix: str, *, limit: int = 10) -> list[Version]:
        """Versions whose id starts with ``prefix`` (a lower-case hex string)."""
        rows = self.conn.execute(
            f"SELECT {VERSION_COLUMNS} FROM versions WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, prefix + "g", limit),
        )
        return [Version.from_row(r) for r in rows]

    def versions(self, asset: str | None = None, *, limit: int | None = None) -> list[Version]:
        """Versions newest first, of one asset or of all."""
        where, args = ("WHERE asset = ?", [asset]) if asset else ("", [])
        args_: list[str | int] = list(args)
        sql = (
            f"SELECT {VERSION_COLUMNS} FROM versions {where} ORDER BY created_at DESC, number DESC"
        )
        if limit is not None:
            sql += " LIMIT ?"
            args_.append(limit)
        return [Version.from_row(r) for r in self.conn.execute(sql, args_)]

    def insert_version(self, v: Version) -> None:
        """Record a new version (inside the caller's transaction)."""
        self.conn.execute(
            f"INSERT INTO versions ({VERSION_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                v.id,
                v.asset,
                v.number,
                v.parent,
                v.tree,
                v.manifest,
                v.author,
                v.created_at,
                v.message,
                json.dumps(v.meta, sort_keys=True),
                v.files,
                v.bytes,
                v.base,
                json.dumps(list(v.roots)),
                v.info.to_json(),
            ),
        )

    # -- tags ---------------------------------------------------------------------------------

    def tags(self, asset: str | None = None) -> list[Tag]:
        """Tags of one asset or of all, by asset then name."""
        where, args = ("WHERE t.asset = ?", (asset,)) if asset else ("", ())
        rows = self.conn.execute(
            "SELECT t.asset, t.name, t.version, v.number, t.created_at, t.author FROM tags t "
            f"JOIN versions v ON v.id = t.version {where} ORDER BY t.asset, t.name",
            args,
        )
        return [Tag(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def tag(self, asset: str, name: str) -> Tag | None:
        """One tag of an asset."""
        for t in self.tags(asset):
            if t.name == name:
                return t
        return None

    def tags_of(self, version_id: VersionId) -> list[str]:
        """Names of the tags on a version."""
        rows = self.conn.execute(
            "SELECT name FROM tags WHERE version = ? ORDER BY name", (version_id,)
        )
        return [r[0] for r in rows]

    def insert_tag(
        self, asset: str, name: str, version: str, *, created_at: str, author: str
    ) -> None:
        """Record a tag (inside the caller's transaction).

        Raises:
            ConflictError: the asset already has a tag of that name (tags never move).
        """
        try:
            self.conn.execute(
                "INSERT INTO tags (asset, name, version, created_at, author) "
                "VALUES (?, ?, ?, ?, ?)",
                (asset, name, version, created_at, author),
            )
        except sqlite3.IntegrityError:
            raise ConflictError(
                f"tag {asset}@{name} exists", hint="choose another tag name"
            ) from None
