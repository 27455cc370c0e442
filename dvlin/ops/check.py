"""``dvlin check`` and commit enforcement: run each asset's contract over its files.

Nothing here writes: :func:`check` reads the workspace and the catalog, and :func:`enforce`
runs inside ``commit`` before a single object is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.errors import CheckFailedError, NotFoundError, UsageError
from dvlin.policy.config import AssetPolicy, load_policy
from dvlin.policy.results import RuleResult, failed

if TYPE_CHECKING:
    from dvlin.repo import Repo
    from dvlin.workspace.scan import Item


@dataclass(frozen=True, slots=True)
class AssetCheck:
    """Every rule's result for one asset."""

    asset: str
    path: str | None
    results: tuple[RuleResult, ...]

    @property
    def failures(self) -> list[RuleResult]:
        """The results that failed."""
        return [r for r in self.results if not r.passed]

    @property
    def passed(self) -> bool:
        """True when no rule failed."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of one asset's check."""
        return {
            "asset": self.asset,
            "path": self.path,
            "passed": self.passed,
            "failed": len(self.failures),
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``dvlin check`` found, asset by asset."""

    assets: tuple[AssetCheck, ...]

    @property
    def passed(self) -> bool:
        """True when every asset passed."""
        return all(a.passed for a in self.assets)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin check``."""
        return {
            "passed": self.passed,
            "checked": len(self.assets),
            "failed": sum(1 for a in self.assets if not a.passed),
            "assets": [a.to_dict() for a in self.assets],
        }


class PolicyViolation(CheckFailedError):
    """A commit stopped by its asset's contract; carries every result (exit 1)."""

    def __init__(self, check: AssetCheck) -> None:
        n = len(check.failures)
        super().__init__(
            f"{n} rule{'s' if n != 1 else ''} failed for {check.asset} — nothing committed",
            hint='fix the data, or commit anyway with --force --reason "why"',
        )
        self.check = check

    def to_dict(self) -> dict[str, object]:
        """The error shape plus the results, for ``commit --json``."""
        return {**super().to_dict(), "results": [r.to_dict() for r in self.check.results]}


def evaluate(
    repo: Repo,
    policy: AssetPolicy,
    base_abs: str,
    files: Sequence[tuple[str, int]],
    *,
    now: dt.datetime | None = None,
) -> AssetCheck:
    """Run ``policy`` over ``files`` (``(path, size)``, relative to ``base_abs``)."""
    from dvlin.inspect.tables import table_format
    from dvlin.policy.compat import check_compatibility, merge_schemas, schema_from_info
    from dvlin.policy.embeddings import EmbeddingQuality
    from dvlin.policy.files import file_rules
    from dvlin.policy.quality import TableQuality
    from dvlin.policy.records import RecordCheck

    now = now or dt.datetime.now(dt.UTC)
    q = policy.quality
    files = sorted(files)
    results = file_rules(q, files)
    tq = TableQuality(q, now=now) if q.has_table_rules else None
    rc = (
        RecordCheck(policy.schema, source=policy.schema_file or "the schema")
        if policy.schema is not None
        else None
    )
    emb = EmbeddingQuality(q) if q.has_embedding_rules else None
    schemas: list[Any] = []
    for path, _ in files:
        full = os.path.join(base_abs, path)
        fmt = table_format(path)
        if fmt is not None and (tq or rc or emb or policy.compatibility != "none"):
            problem = _scan_table(full, path, fmt, tq=tq, rc=rc, emb=emb, schemas=schemas, q=q)
            if problem:
                results.append(problem)
        elif rc is not None and path.lower().endswith(".json"):
            try:
                with open(full, encoding="utf-8") as f:
                    doc = json.load(f)
            except (ValueError, UnicodeDecodeError) as exc:
                results.append(failed("readable", "valid JSON", str(exc)[:200], file=path))
                continue
            rc.feed_document(doc, file=path)
        elif emb is not None and path.lower().endswith(".npy"):
            _scan_npy(full, path, emb)
    if tq is not None:
        results += tq.results()
    if rc is not None:
        results += rc.results()
    if policy.compatibility != "none" and schemas:
        new, conflicts = merge_schemas(schemas)
        for c in conflicts[:3]:
            results.append(failed("compatibility", "one schema across table files", c))
        earlier = []
        for v in sorted(repo.catalog.iter_versions(policy.name), key=lambda v: -v.number):
            old = schema_from_info(v.info)
            if old is not None:
                earlier.append((v.label, old))
        results += check_compatibility(policy.compatibility, new, earlier)
    if emb is not None:
        results += emb.results()
    if policy.drift is not None:
        from dvlin.ops.profiles import drift_check

        results += drift_check(repo, policy, base_abs, files)
    return AssetCheck(policy.name, None, tuple(results))


def _scan_table(
    full: str,
    path: str,
    fmt: str,
    *,
    tq: Any,
    rc: Any,
    emb: Any,
    schemas: list[Any],
    q: Any,
) -> RuleResult | None:
    from dvlin.inspect.batches import UnreadableTable, iter_batches, read_schema

    try:
        schema = read_schema(full, fmt)
        schemas.append(schema)
        if tq is not None:
            tq.start_file(path, schema.names)
        vectors = emb is not None and q.vector_column and q.vector_column in schema.names
        if vectors:
            _start_vectors(emb, path, schema.field(q.vector_column).type)
        if not (tq or rc or vectors):
            return None
        offset = 0
        for batch in iter_batches(full, fmt):
            if tq is not None:
                tq.feed(batch, file=path, offset=offset)
            if rc is not None:
                rc.feed(batch, file=path, offset=offset)
            if vectors:
                _feed_vectors(emb, batch.column(q.vector_column), path, offset)
            offset += batch.num_rows
    except UnreadableTable as exc:
        return failed("readable", f"a readable {fmt} table", str(exc), file=path)
    return None


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:  # numpy is not a dependency of dvlin itself
        raise UsageError("embedding rules need numpy", hint="pip install numpy") from None
    return numpy


def _start_vectors(emb: Any, path: str, t: Any) -> None:
    import pyarrow as pa

    np = _numpy()
    if not (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)):
        emb.start_file(path, dim=None, dtype=str(t))
        emb.note(f"column is {t}, not a list of numbers")
        return
    dim = t.list_size if pa.types.is_fixed_size_list(t) else None
    try:
        dtype = np.dtype(t.value_type.to_pandas_dtype()).name
    except (NotImplementedError, TypeError):
        dtype = str(t.value_type)
    emb.start_file(path, dim=dim, dtype=dtype)


def _feed_vectors(emb: Any, arr: Any, path: str, offset: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    if emb.notes:
        return
    arr = arr.filter(pc.is_valid(arr))
    if not len(arr):
        return
    if pa.types.is_fixed_size_list(arr.type):
        dim = arr.type.list_size
    else:
        lengths = pc.unique(pc.list_value_length(arr)).to_pylist()
        if len(lengths) != 1:
            emb.note(f"vectors of lengths {sorted(lengths)[:4]} in {path}")
            return
        dim = lengths[0]
        emb.dims.setdefault(dim, path)
    values = arr.flatten().to_numpy(zero_copy_only=False)
    emb.feed(values.reshape(-1, dim), file=path, offset=offset)


def _scan_npy(full: str, path: str, emb: Any) -> None:
    np = _numpy()
    try:
        array = np.load(full, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        emb.start_file(path, dim=None, dtype="?")
        emb.note(f"cannot read {path}: {str(exc)[:120]}")
        return
    if array.ndim != 2:
        emb.start_file(path, dim=None, dtype=array.dtype.name)
        emb.note(f"{path} has shape {tuple(array.shape)}, not (vectors, dim)")
        return
    emb.start_file(path, dim=int(array.shape[1]), dtype=array.dtype.name)
    step = max(1, (8 << 20) // max(1, array.shape[1] * array.itemsize))  # ~8 MiB per chunk
    for start in range(0, array.shape[0], step):
        emb.feed(np.asarray(array[start : start + step]), file=path, offset=start)


# -- dvlin check ------------------------------------------------------------------------------


def _workspace_files(repo: Repo, base: str, roots: Sequence[str]) -> list[tuple[str, int]]:
    from dvlin.workspace.scan import scan

    base_abs = str(repo.root / base)
    items = scan(base_abs, roots, store_root=repo.local_store_root, strict=False)
    return [(i.path, i.size) for i in items if i.type == "file"]


def _location(repo: Repo, policy: AssetPolicy) -> tuple[str, tuple[str, ...]] | None:
    """Where an asset's files are in the workspace: ``dvlin.toml``'s path, else the catalog's."""
    if policy.path:
        rel = repo.relpath(repo.root / policy.path)
        full = repo.root / rel
        if full.is_dir():
            return rel, (".",)
        if full.exists():
            return os.path.dirname(rel) or ".", (os.path.basename(rel),)
        return None
    for a in repo.catalog.list_assets():
        if a.name == policy.name:
            return a.base, a.roots
    return None


def check(
    repo: Repo, targets: Sequence[str] = (), *, now: dt.datetime | None = None
) -> CheckReport:
    """Run the contracts of the named assets (or paths; default: every asset with a policy).

    Reads the workspace as it is now; writes nothing.
    """
    policy = load_policy(repo.root)
    chosen: dict[str, AssetPolicy] = {}
    for target in targets:
        found = policy.get(target)
        if found is not None:
            chosen[found.name] = found
            continue
        matches = _policies_at(repo, policy.assets.values(), target)
        if not matches:
            raise NotFoundError(
                f"no asset with a policy named or at {target!r}",
                hint="add it to dvlin.toml, or see `dvlin policy show`",
                candidates=sorted(policy.assets),
            )
        for m in matches:
            chosen[m.name] = m
    if not targets:
        chosen = dict(policy.assets)
    out = []
    for name, p in sorted(chosen.items()):
        where = _location(repo, p)
        if where is None:
            missing = failed(
                "path",
                f"{p.path} exists" if p.path else "a path in dvlin.toml or a committed version",
                "missing" if p.path else "asset has no path",
            )
            out.append(AssetCheck(name, p.path, (missing,)))
            continue
        base, roots = where
        files = _workspace_files(repo, base, roots)
        result = evaluate(repo, p, str(repo.root / base), files, now=now)
        shown = base if roots == (".",) else os.path.join(base, *roots[:1])
        out.append(AssetCheck(name, shown, result.results))
    return CheckReport(tuple(out))


def _policies_at(repo: Repo, policies: Any, target: str) -> list[AssetPolicy]:
    if not os.path.exists(target):
        return []
    rel = repo.relpath(target)
    hits = []
    for p in policies:
        where = _location(repo, p)
        if where is None:
            continue
        base, roots = where
        for root in roots:
            path = base if root == "." else os.path.normpath(os.path.join(base, root))
            if rel in (".", "", path) or path.startswith(rel + "/") or rel.startswith(path + "/"):
                hits.append(p)
                break
    return hits


# -- on commit --------------------------------------------------------------------------------


def enforce(
    repo: Repo,
    name: str,
    base_abs: str,
    items: Sequence[Item],
    *,
    force: bool = False,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Run asset ``name``'s contract on the files about to be committed.

    Returns what the version stores (``{"checks": [...], "override": {...}}``; empty when the
    asset has no policy).

    Raises:
        PolicyViolation: a rule failed and ``force`` is not set (exit 1).
        UsageError: ``force`` without a ``reason``, or a malformed ``dvlin.toml`` (exit 2).
    """
    from dvlin.identity import author, utc_now

    if force and not (reason and reason.strip()):
        raise UsageError(
            "--force needs --reason", hint='e.g. --force --reason "backfill, DATA-231"'
        )
    if reason and not force:
        raise UsageError("--reason only applies with --force", hint="add --force, or drop --reason")
    policy = load_policy(repo.root).get(name)
    if policy is None:
        return {}
    files = [(i.path, i.size) for i in items if i.type == "file"]
    result = evaluate(repo, policy, base_abs, files, now=now)
    info: dict[str, Any] = {"checks": [r.to_dict() for r in result.results]}
    if result.failures:
        if not force:
            raise PolicyViolation(result)
        assert reason is not None
        info["override"] = {
            "reason": reason.strip(),
            "author": author(),
            "at": utc_now(),
            "failed": len(result.failures),
        }
    return info
