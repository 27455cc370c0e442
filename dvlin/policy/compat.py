"""Schema compatibility between versions, with Confluent Schema Registry's meanings.

Applied to the columns of an asset's tables; "optional" means nullable. ``backward``: readers
on the new schema can read the previous data; ``forward``: readers on the previous schema can
read the new data; ``full``: both; ``*_transitive``: against every earlier version, not only
the previous one. The full rule table is in docs/policy.md.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.policy.results import MAX_EXAMPLES, RuleResult, verdict
from dvlin.values import sealed

if TYPE_CHECKING:
    import pyarrow as pa


@sealed
@dataclass(frozen=True, slots=True)
class Column:
    """One column of an asset's table schema."""

    name: str
    type: pa.DataType
    nullable: bool


Columns = dict[str, Column]


def merge_schemas(schemas: Iterable[pa.Schema]) -> tuple[Columns, list[str]]:
    """The columns of several table files as one schema, and any type disagreements.

    A column missing from some files is nullable (readers see nulls there).
    """
    merged: Columns = {}
    seen = 0
    present: dict[str, int] = {}
    conflicts: list[str] = []
    for schema in schemas:
        seen += 1
        for f in schema:
            present[f.name] = present.get(f.name, 0) + 1
            old = merged.get(f.name)
            if old is None:
                merged[f.name] = Column(f.name, f.type, f.nullable)
            elif old.type != f.type:
                conflicts.append(
                    f"column {f.name!r} is {old.type} in one file, {f.type} in another"
                )
            elif f.nullable and not old.nullable:
                merged[f.name] = Column(f.name, f.type, True)
    for name, count in present.items():
        if count < seen:
            merged[name] = Column(name, merged[name].type, True)
    return merged, conflicts


def schema_from_info(files: Mapping[str, Mapping[str, Any]]) -> Columns | None:
    """The merged table schema of a version's described files (None when it has no tables)."""
    import pyarrow as pa

    schemas = []
    for d in files.values():
        if isinstance(d, dict) and d.get("arrow_schema"):
            data = base64.b64decode(d["arrow_schema"])
            schemas.append(pa.ipc.read_schema(pa.py_buffer(data)))
    if not schemas:
        return None
    return merge_schemas(schemas)[0]


_INT_CHAIN = ["int8", "int16", "int32", "int64"]
_UINT_CHAIN = ["uint8", "uint16", "uint32", "uint64"]
_FLOAT_CHAIN = ["halffloat", "float", "double"]


def widens(old: pa.DataType, new: pa.DataType) -> bool:
    """True when every value of type ``old`` is a value of type ``new`` (or they are equal)."""
    import pyarrow as pa

    if old == new:
        return True
    for chain in (_INT_CHAIN, _UINT_CHAIN, _FLOAT_CHAIN):
        if str(old) in chain and str(new) in chain:
            return chain.index(str(old)) < chain.index(str(new))
    if str(old) in _UINT_CHAIN and str(new) in _INT_CHAIN:
        return _INT_CHAIN.index(str(new)) > _UINT_CHAIN.index(str(old))
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        return bool(
            new.scale >= old.scale and new.precision - new.scale >= old.precision - old.scale
        )
    if pa.types.is_date(old) and (pa.types.is_timestamp(new) or pa.types.is_date64(new)):
        return True
    if pa.types.is_string(old) and pa.types.is_large_string(new):
        return True
    if pa.types.is_binary(old) and pa.types.is_large_binary(new):
        return True
    return False


def can_read(reader: Columns, writer: Columns) -> list[str]:
    """Why readers on ``reader``'s schema cannot read data written with ``writer``'s (empty: they can)."""
    problems: list[str] = []
    for name, r in reader.items():
        w = writer.get(name)
        if w is None:
            if not r.nullable:
                problems.append(f"column {name!r} (not null) has no values in the data read")
            continue
        if not widens(w.type, r.type):
            problems.append(f"column {name!r}: {w.type} cannot be read as {r.type}")
        if w.nullable and not r.nullable:
            problems.append(f"column {name!r}: nullable data read as not null")
    return problems


def problems(mode: str, old: Columns, new: Columns) -> list[str]:
    """Why ``new`` breaks ``mode`` against ``old``, in the words of the change made."""
    out: list[str] = []
    base = mode.removesuffix("_transitive")
    if base in ("backward", "full"):
        out += _describe(can_read(new, old), old, new, "backward")
    if base in ("forward", "full"):
        out += [p for p in _describe(can_read(old, new), old, new, "forward") if p not in out]
    return out


def _describe(raw: list[str], old: Columns, new: Columns, mode: str) -> list[str]:
    """Restate reader/writer problems as changes: added, removed, narrowed, widened…"""
    out = []
    for p in raw:
        name = p.split("'")[1]
        o, n = old.get(name), new.get(name)
        if o is None and n is not None:
            out.append(f"column {name!r} (not null) added")
        elif n is None and o is not None:
            out.append(f"column {name!r} (not null) removed")
        elif o is not None and n is not None and "cannot be read" in p:
            word = (
                "widened"
                if widens(o.type, n.type)
                else "narrowed"
                if widens(n.type, o.type)
                else "changed"
            )
            out.append(f"column {name!r} {word} from {o.type} to {n.type}")
        elif o is not None and n is not None:
            now = "nullable" if n.nullable else "not null"
            out.append(f"column {name!r} made {now}")
        else:
            out.append(p)
    return out


def check_compatibility(
    mode: str, new: Columns, earlier: Sequence[tuple[str, Columns]]
) -> list[RuleResult]:
    """Results of ``mode`` for ``new`` against earlier versions, newest first ``(label, columns)``."""
    if mode == "none":
        return []
    against = list(earlier) if mode.endswith("_transitive") else list(earlier[:1])
    if not against:
        return [verdict(True, "compatibility", mode, "no earlier version to compare")]
    out = []
    for label, old in against:
        found = problems(mode, old, new)
        out.append(
            verdict(
                not found,
                "compatibility",
                f"{mode.removesuffix('_transitive')} vs {label}",
                "; ".join(found[:3]) + (" …" if len(found) > 3 else "") if found else "compatible",
                measured=len(found),
                examples=tuple(found[:MAX_EXAMPLES]),
            )
        )
    return out
