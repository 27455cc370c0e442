"""``dvlin diff A [B]``: what changed inside the data, at every level.

Files (added / removed / modified with sizes), the table schema with the compatibility verdict,
statistics and drift per column from the two stored profiles, embeddings, and with a key the
rows themselves. B defaults to the workspace (the asset's folder as it is now).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.errors import NotFoundError, UsageError
from dvlin.ops.stats import within
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.catalog import Version
    from dvlin.inspect.rowdiff import RowDiff
    from dvlin.objects.manifest import Entry
    from dvlin.repo import Repo

WORKSPACE = "workspace"


@sealed
@dataclass(frozen=True, slots=True)
class FileChange:
    """One file that differs: ``added``, ``removed`` or ``modified``, with its sizes."""

    path: str
    change: str
    size_a: int | None
    size_b: int | None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"path": self.path, "change": self.change, "size": [self.size_a, self.size_b]}


@sealed
@dataclass(frozen=True, slots=True)
class SchemaChange:
    """Columns added, removed and retyped across the asset's tables, and the verdicts."""

    added: tuple[tuple[str, str], ...]
    removed: tuple[tuple[str, str], ...]
    retyped: tuple[tuple[str, str, str], ...]
    nullability: tuple[tuple[str, bool, bool], ...]
    verdicts: dict[str, list[str]]
    """Compatibility mode → the problems (empty: compatible)."""
    policy_mode: str | None

    @property
    def changed(self) -> bool:
        """True when some column differs."""
        return bool(self.added or self.removed or self.retyped or self.nullability)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "added": [{"name": n, "type": t} for n, t in self.added],
            "removed": [{"name": n, "type": t} for n, t in self.removed],
            "retyped": [{"name": n, "from": a, "to": b} for n, a, b in self.retyped],
            "nullability": [{"name": n, "from": a, "to": b} for n, a, b in self.nullability],
            "compatibility": {
                mode: {"ok": not found, "problems": found} for mode, found in self.verdicts.items()
            },
            "policy": self.policy_mode,
        }


@sealed
@dataclass(frozen=True, slots=True)
class DataDiff:
    """Everything ``dvlin diff`` found between A and B."""

    asset: str
    a: str
    b: str
    files: tuple[FileChange, ...]
    schema: SchemaChange | None
    tables: tuple[dict[str, Any], ...]
    """Per compared file: ``path`` (and ``path_b`` when the names differ), rows, columns with
    statistics and drift (see :func:`dvlin.inspect.drift.file_drift`)."""
    rows: dict[str, RowDiff] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many files of each kind of change."""
        out = {"added": 0, "removed": 0, "modified": 0}
        for f in self.files:
            out[f.change] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin diff``."""
        return {
            "asset": self.asset,
            "a": self.a,
            "b": self.b,
            "files": {"counts": self.counts(), "changes": [f.to_dict() for f in self.files]},
            "schema": self.schema.to_dict() if self.schema is not None else None,
            "tables": list(self.tables),
            "rows": {p: r.to_dict() for p, r in self.rows.items()},
            "thresholds": self.thresholds,
        }


class _Side:
    """One side of a diff: a committed version, or the workspace folder of an asset."""

    def __init__(self, repo: Repo, version: Version | None, base: str, roots: Sequence[str]):
        from dvlin.ops.manifests import load_entries

        self.repo = repo
        self.version = version
        self.base_abs = str(repo.root / base)
        if version is not None:
            self.entries = load_entries(repo, version)
            self.label = version.label
        else:
            from dvlin.ops.status import workspace_entries

            found, _, _ = workspace_entries(repo, base, tuple(roots))
            self.entries = {e.path: e for e in found}
            self.label = WORKSPACE
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def files(self) -> dict[str, Entry]:
        return {p: e for p, e in self.entries.items() if e.type == "file"}

    def profiles(self, paths: Sequence[str]) -> dict[str, dict[str, Any]]:
        from dvlin.ops.profiles import profile_local, version_profiles

        if not paths:
            return {}
        if self.version is not None:
            return version_profiles(self.repo, self.version, paths=list(paths))
        out = {}
        for p in paths:
            prof = profile_local(os.path.join(self.base_abs, p), p)
            if prof is not None:
                out[p] = prof
        return out

    def schema(self, path: str | None = None) -> Any:
        from dvlin.inspect.batches import UnreadableTable, read_schema
        from dvlin.inspect.tables import table_format
        from dvlin.policy.compat import merge_schemas, schema_from_info

        if self.version is not None:
            files = self.version.info.files
            return schema_from_info({p: d for p, d in files.items() if within(p, path)})
        schemas = []
        for p in sorted(p for p in self.files() if within(p, path)):
            fmt = table_format(p)
            if fmt is None:
                continue
            try:
                schemas.append(read_schema(os.path.join(self.base_abs, p), fmt))
            except UnreadableTable:
                continue
        return merge_schemas(schemas)[0] if schemas else None

    def local(self, path: str) -> str:
        """A readable copy of one file (the workspace file itself, or a temporary copy)."""
        from dvlin.workspace.materialize import Writer

        if self.version is None:
            return os.path.join(self.base_abs, path)
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dvlin-diff-")
        e = self.entries[path]
        flat = e._replace(path=f"{len(os.listdir(self._tmp.name))}{os.path.splitext(path)[1]}")
        Writer(self.repo.store, self._tmp.name, link="copy").write_one(flat)
        return os.path.join(self._tmp.name, flat.path)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def _schema_change(
    repo: Repo, asset: str, a: _Side, b: _Side, path: str | None
) -> SchemaChange | None:
    from dvlin.policy.compat import problems
    from dvlin.policy.config import load_policy

    old, new = a.schema(path), b.schema(path)
    if old is None or new is None:
        return None
    policy = load_policy(repo.root).get(asset)
    mode = policy.compatibility if policy is not None else None
    verdicts = {m: problems(m, old, new) for m in ("backward", "forward", "full")}
    if mode and mode not in ("none", *verdicts):
        verdicts[mode] = problems(mode, old, new)
    return SchemaChange(
        added=tuple((n, str(c.type)) for n, c in new.items() if n not in old),
        removed=tuple((n, str(c.type)) for n, c in old.items() if n not in new),
        retyped=tuple(
            (n, str(old[n].type), str(c.type))
            for n, c in new.items()
            if n in old and old[n].type != c.type
        ),
        nullability=tuple(
            (n, old[n].nullable, c.nullable)
            for n, c in new.items()
            if n in old and old[n].type == c.type and old[n].nullable != c.nullable
        ),
        verdicts=verdicts,
        policy_mode=None if mode in (None, "none") else mode,
    )


def datadiff(
    repo: Repo,
    a_ref: str,
    b_ref: str | None = None,
    *,
    key: Sequence[str] = (),
    path: str | None = None,
    max_rows: int | None = None,
) -> DataDiff:
    """Compare version ``a_ref`` with ``b_ref`` (default: the asset's folder in the workspace).

    Raises:
        NotFoundError: an unknown ref, or nothing at ``path`` (exit 3).
        UsageError: ``key`` names a column that is missing or not unique (exit 2).
    """
    from dvlin.inspect.drift import file_drift
    from dvlin.inspect.merge import ALL_TABLES, merge_profiles
    from dvlin.inspect.tables import table_format
    from dvlin.ops.profiles import profile_format
    from dvlin.ops.refs import resolve
    from dvlin.policy.config import load_policy
    from dvlin.policy.drift import parse_thresholds

    va = resolve(repo, a_ref)
    vb = resolve(repo, b_ref) if b_ref else None
    a = _Side(repo, va, va.base, va.roots)
    b = (
        _Side(repo, vb, va.base, va.roots)
        if vb is not None
        else _Side(repo, None, va.base, va.roots)
    )
    try:
        fa = {p: e for p, e in a.files().items() if within(p, path)}
        fb = {p: e for p, e in b.files().items() if within(p, path)}
        # Links are versioned as their target string (git's way): a new target is a change.
        la = {p: e for p, e in a.entries.items() if e.type in ("file", "link") and within(p, path)}
        lb = {p: e for p, e in b.entries.items() if e.type in ("file", "link") and within(p, path)}

        if path and not la and not lb:
            raise NotFoundError(
                f"nothing at {path!r} in {a.label} or {b.label}",
                hint=f"`dvlin ls {va.label}` lists its files",
            )

        def same(x: Entry, y: Entry) -> bool:
            return (x.type, x.oid, x.target) == (y.type, y.oid, y.target)

        changes = [FileChange(p, "added", None, lb[p].size) for p in lb if p not in la]
        changes += [FileChange(p, "removed", la[p].size, None) for p in la if p not in lb]
        changes += [
            FileChange(p, "modified", la[p].size, lb[p].size)
            for p in la
            if p in lb and not same(la[p], lb[p])
        ]
        changes.sort(key=lambda c: c.path)
        pairs = [(p, p) for p in sorted(fa) if p in fb and fa[p].oid != fb[p].oid]
        pairs = [(x, y) for x, y in pairs if profile_format(x)]
        ta = [p for p in fa if profile_format(p)]
        tb = [p for p in fb if profile_format(p)]
        whole = False
        if not pairs and len(ta) == 1 and len(tb) == 1 and ta != tb:
            # One table on each side under different names (train vs serving): compare them.
            pairs = [(ta[0], tb[0])]
        elif ta and tb and not set(ta) & set(tb) and any(table_format(p) for p in ta + tb):
            # Every part file renamed (a rewritten dataset): compare the tables as a whole.
            whole = True
        thresholds = parse_thresholds(load_policy(repo.root).drift)
        pa_ = a.profiles(sorted({x for x, _ in pairs} | (set(ta) if whole else set())))
        pb_ = b.profiles(sorted({y for _, y in pairs} | (set(tb) if whole else set())))
        tables = []
        for x, y in pairs:
            if x in pa_ and y in pb_:
                d = file_drift(pa_[x], pb_[y], thresholds)
                tables.append({"path": x, **({"path_b": y} if x != y else {}), **d})
        if whole:
            merged_a = merge_profiles([pa_[p] for p in sorted(ta) if p in pa_])
            merged_b = merge_profiles([pb_[p] for p in sorted(tb) if p in pb_])
            if merged_a["columns"] and merged_b["columns"]:
                d = file_drift(merged_a, merged_b, thresholds)
                tables.append({"path": ALL_TABLES, **d})
        rows: dict[str, RowDiff] = {}
        if key:
            wholes = (sorted(ta), sorted(tb)) if whole else None
            rows = _row_diffs(a, b, pairs, key, wholes=wholes, max_rows=max_rows)
        schema = _schema_change(repo, va.asset, a, b, path)
        return DataDiff(
            va.asset,
            a.label,
            b.label,
            tuple(changes),
            schema,
            tuple(tables),
            rows,
            {"psi_medium": thresholds.psi_medium, "psi_high": thresholds.psi_high},
        )
    finally:
        a.close()
        b.close()


def _row_diffs(
    a: _Side,
    b: _Side,
    pairs: list[tuple[str, str]],
    key: Sequence[str],
    *,
    wholes: tuple[list[str], list[str]] | None,
    max_rows: int | None,
) -> dict[str, RowDiff]:
    """Keyed diffs of each changed table, and of all tables together when ``wholes`` (the
    table paths of each side) is given."""
    from dvlin.inspect.merge import ALL_TABLES
    from dvlin.inspect.rowfiles import MAX_ROWS_IN_MEMORY, diff_files
    from dvlin.inspect.tables import table_format

    tables = [(x, y) for x, y in pairs if table_format(x) and table_format(y)]
    if wholes is not None:
        wholes = (
            [p for p in wholes[0] if table_format(p)],
            [p for p in wholes[1] if table_format(p)],
        )
    if not tables and not (wholes and wholes[0] and wholes[1]):
        raise UsageError(
            f"--key needs a table that changed between {a.label} and {b.label}; none did",
            hint="drop --key, or pick the file with --path",
        )
    budget = max_rows or MAX_ROWS_IN_MEMORY
    out = {}
    for x, y in tables:
        out[x] = diff_files(
            (a.local(x), table_format(x) or ""),
            (b.local(y), table_format(y) or ""),
            key,
            label_a=f"{a.label}:{x}",
            label_b=f"{b.label}:{y}",
            max_rows=budget,
        )
    if wholes and wholes[0] and wholes[1]:
        out[ALL_TABLES] = diff_files(
            [(a.local(p), table_format(p) or "") for p in wholes[0]],
            [(b.local(p), table_format(p) or "") for p in wholes[1]],
            key,
            label_a=f"{a.label} {ALL_TABLES}",
            label_b=f"{b.label} {ALL_TABLES}",
            max_rows=budget,
        )
    return out
