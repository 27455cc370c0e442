"""The contract runner: one asset's policy over its files, every rule's result.

:func:`evaluate` reads the files it is given (tables batch by batch, JSON documents, ``.npy``
arrays) and feeds them to the rule accumulators — :class:`TableQuality`, :class:`RecordCheck`,
:class:`EmbeddingQuality` — then collects their verdicts. It knows nothing of repos or the
catalog: the caller says where the files are and, for compatibility rules, hands in the
schemas of earlier versions.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.errors import UsageError
from dvlin.policy.config import AssetPolicy, Quality
from dvlin.policy.results import RuleResult, failed
from dvlin.values import sealed

if TYPE_CHECKING:
    import pyarrow as pa

    from dvlin.policy.compat import Columns
    from dvlin.policy.embeddings import EmbeddingQuality
    from dvlin.policy.quality import TableQuality
    from dvlin.policy.records import RecordCheck

EarlierSchemas = Callable[[], Sequence[tuple[str, "Columns"]]]
"""Gives the table schemas of an asset's earlier versions, newest first ``(label, columns)``."""


@sealed
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


def evaluate(
    policy: AssetPolicy,
    base_abs: str,
    files: Sequence[tuple[str, int]],
    *,
    earlier: EarlierSchemas = tuple,
    now: dt.datetime | None = None,
) -> AssetCheck:
    """Run ``policy`` over ``files`` (``(path, size)``, relative to ``base_abs``).

    ``earlier`` is called only when a compatibility rule has table schemas to compare.
    """
    from dvlin.inspect.tables import table_format
    from dvlin.policy.compat import check_compatibility, merge_schemas
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
    schemas: list[pa.Schema] = []
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
        results += check_compatibility(policy.compatibility, new, earlier())
    if emb is not None:
        results += emb.results()
    return AssetCheck(policy.name, None, tuple(results))


def _scan_table(
    full: str,
    path: str,
    fmt: str,
    *,
    tq: TableQuality | None,
    rc: RecordCheck | None,
    emb: EmbeddingQuality | None,
    schemas: list[pa.Schema],
    q: Quality,
) -> RuleResult | None:
    from dvlin.inspect.batches import UnreadableTable, iter_batches, read_schema

    try:
        schema = read_schema(full, fmt)
        schemas.append(schema)
        if tq is not None:
            tq.start_file(path, schema.names)
        column = q.vector_column
        vectors = emb if column and column in schema.names else None
        if vectors is not None:
            _start_vectors(vectors, path, schema.field(column).type)
        if not (tq or rc or vectors):
            return None
        offset = 0
        for batch in iter_batches(full, fmt):
            if tq is not None:
                tq.feed(batch, file=path, offset=offset)
            if rc is not None:
                rc.feed(batch, file=path, offset=offset)
            if vectors is not None:
                _feed_vectors(vectors, batch.column(column), path, offset)
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


def _start_vectors(emb: EmbeddingQuality, path: str, t: pa.DataType) -> None:
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


def _feed_vectors(emb: EmbeddingQuality, arr: pa.Array, path: str, offset: int) -> None:
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


def _scan_npy(full: str, path: str, emb: EmbeddingQuality) -> None:
    np = _numpy()
    try:
        array = np.load(full, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
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
