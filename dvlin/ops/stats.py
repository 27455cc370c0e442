"""``dvlin stats``: the stored profile of each table and array file of a version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.errors import NotFoundError
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.repo import Repo

_BLOBS = ("kll", "centroid", "sample")
"""Serialized sketches and vectors: kept in the stored profile for drift, left out of reports."""


def public(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile without its binary parts (sketches, centroid, sample), for ``--json``."""
    out: dict[str, Any] = {}
    for k, v in profile.items():
        if k in _BLOBS:
            continue
        if isinstance(v, dict):
            out[k] = public(v)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            out[k] = [public(x) for x in v]
        else:
            out[k] = v
    return out


@sealed
@dataclass(frozen=True, slots=True)
class FileStats:
    """One file's profile."""

    path: str
    profile: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of one file."""
        return {"path": self.path, **public(self.profile)}


@sealed
@dataclass(frozen=True, slots=True)
class StatsReport:
    """The profiles of a version's table and array files."""

    ref: str
    version: str
    files: tuple[FileStats, ...]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin stats``."""
        return {
            "ref": self.ref,
            "version": self.version,
            "files": [f.to_dict() for f in self.files],
        }


def within(path: str, prefix: str | None) -> bool:
    """True when ``path`` is ``prefix`` or inside the folder ``prefix`` (no prefix: always)."""
    if not prefix or prefix in (".", "./"):
        return True
    prefix = prefix.strip("/")
    return path == prefix or path.startswith(prefix + "/")


def stats(repo: Repo, ref: str, path: str | None = None) -> StatsReport:
    """Profiles of the version ``ref`` names, for every table and array file (or under ``path``).

    Profiles missing from older versions are computed from the stored bytes and saved.

    Raises:
        NotFoundError: an unknown ref, or no table or array file at ``path`` (exit 3).
    """
    from dvlin.ops.manifests import load_manifest
    from dvlin.ops.profiles import profiled_entries, version_profiles
    from dvlin.ops.refs import resolve

    version = resolve(repo, ref)
    chosen = [e.path for e in profiled_entries(load_manifest(repo, version), path)]
    if not chosen:
        what = f"at {path!r} in {version.label}" if path else f"in {version.label}"
        raise NotFoundError(
            f"no table or array file {what}",
            hint=f"`dvlin ls {version.label}` lists its files",
        )
    profiles = version_profiles(repo, version, paths=chosen)
    files = tuple(FileStats(p, prof) for p, prof in sorted(profiles.items()))
    return StatsReport(version.label, version.id, files)
