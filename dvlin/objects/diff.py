"""Compare two trees by path: what was added, changed or removed.

:func:`diff_entries` is the reference over entries keyed by path; :func:`diff_manifests` gives the
same answer from two :class:`Manifest` tables with vectorised joins, for big trees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.objects import manifest as manifests
from dvlin.objects.manifest import Entry, Manifest
from dvlin.values import sealed

if TYPE_CHECKING:
    import pyarrow as pa


@sealed
@dataclass(frozen=True, slots=True)
class Diff:
    """Paths added, changed and removed going from one tree to another (sorted)."""

    added: tuple[str, ...] = field(default_factory=tuple)
    changed: tuple[str, ...] = field(default_factory=tuple)
    removed: tuple[str, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        """True when nothing differs."""
        return not (self.added or self.changed or self.removed)

    def counts(self) -> dict[str, int]:
        """How many paths of each kind."""
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
        }


def _implied_folders_dropped(paths: list[str], tree: Mapping[str, Entry]) -> list[str]:
    """Drop folders whose addition (or removal) is implied by a path listed inside them."""
    inside = {p.rsplit("/", 1)[0] for p in paths if "/" in p}
    parents = set()
    for folder in inside:
        while folder:
            parents.add(folder)
            folder = folder.rpartition("/")[0]
    return [p for p in paths if not (tree[p].type == "dir" and p in parents)]


def diff_entries(old: Mapping[str, Entry], new: Mapping[str, Entry]) -> Diff:
    """Compare two trees keyed by path.

    Folders are listed only when they stand alone (an empty folder added or removed); a folder
    that comes or goes with files in it is implied by those files.
    """
    added = _implied_folders_dropped(sorted(p for p in new if p not in old), new)
    removed = _implied_folders_dropped(sorted(p for p in old if p not in new), old)
    changed = sorted(p for p, e in new.items() if p in old and not e.same_content(old[p]))
    return Diff(tuple(added), tuple(changed), tuple(removed))


def changed_rows(old: Manifest, new: Manifest) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Row indices of the added and changed paths (in ``new``) and removed ones (in ``old``).

    The same paths as :func:`diff_entries`, as Arrow int64 arrays in path order.
    """
    from dvlin.objects import columns

    return columns.changed_rows(old.table, new.table)


def diff_manifests(old: Manifest, new: Manifest) -> Diff:
    """:func:`diff_entries` of two manifests, by columns when either is big."""
    if len(old) < manifests.SMALL and len(new) < manifests.SMALL:
        return diff_entries(old.entry_map(), new.entry_map())
    added, changed, removed = changed_rows(old, new)
    return Diff(
        tuple(new.paths().take(added).to_pylist()),
        tuple(new.paths().take(changed).to_pylist()),
        tuple(old.paths().take(removed).to_pylist()),
    )
