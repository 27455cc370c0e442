"""``dvlin ls REF``: a version's files written a batch at a time, as text or a JSON array.

The JSON is byte for byte what ``json.dumps([row.to_dict() ...], indent=2)`` gives for the
:class:`dvlin.ops.log.FileRow` rows, but written row by row from the manifest's columns, so
``dvlin ls REF --json | head`` of a million-file version answers at once and memory stays flat.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dvlin.render.text import quote

if TYPE_CHECKING:
    from dvlin.objects.manifest import Manifest

BATCH_ROWS = 16_384


def _batches(manifest: Manifest) -> Iterator[tuple[list[Any], ...]]:
    """The listed columns as Python lists, one batch of rows at a time."""
    for batch in manifest.table.select(
        ["path", "type", "mode", "size", "oid", "target"]
    ).to_batches(max_chunksize=BATCH_ROWS):
        yield tuple(
            [None] * batch.num_rows if column.null_count == batch.num_rows else column.to_pylist()
            for column in batch.columns
        )


def json_chunks(manifest: Manifest) -> Iterator[str]:
    """The ``--json`` array in pieces (one per batch of rows), ending in a newline."""
    text: Any = json.encoder.encode_basestring

    def value(v: str | None) -> str:
        return "null" if v is None else str(text(v))

    first = True
    for paths, kinds, modes, sizes, oids, targets in _batches(manifest):
        rows = [
            f'  {{\n    "path": {text(p)},\n    "type": {value(k)},\n    "mode": "{m:o}",\n'
            f'    "size": {s},\n    "oid": {value(o)},\n    "target": {value(t)}\n  }}'
            for p, k, m, s, o, t in zip(paths, kinds, modes, sizes, oids, targets, strict=True)
        ]
        if rows:
            yield ("[\n" if first else ",\n") + ",\n".join(rows)
            first = False
    yield "[]\n" if first else "\n]\n"


def text_lines(manifest: Manifest) -> Iterator[str]:
    """One line per path: kind, mode, size and the quoted path (links with their target)."""
    for paths, kinds, modes, sizes, _, targets in _batches(manifest):
        for path, kind, mode, size, target in zip(paths, kinds, modes, sizes, targets, strict=True):
            if kind == "dir":
                yield f"d {mode:o}  {'':>10}  {quote(path + '/')}"
            elif kind == "link":
                yield f"l {mode:o}  {'':>10}  {quote(path)} -> {quote(target or '')}"
            else:
                yield f"- {mode:o}  {size:>10,}  {quote(path)}"
