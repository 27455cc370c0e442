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


def _quoted(values: Any) -> Any:
    """Each string as a JSON literal (``json.dumps(..., ensure_ascii=False)``), null as null.

    Strings without a quote, backslash or control character are wrapped in quotes on the
    column; the rare others go through the json module one by one.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    escape = pc.fill_null(pc.match_substring_regex(values, '[\\x00-\\x1f"\\\\]'), False)
    quoted = pc.binary_join_element_wise('"', values, '"', "")
    if pc.any(escape).as_py():
        odd = [json.dumps(v, ensure_ascii=False) for v in values.filter(escape).to_pylist()]
        quoted = pc.replace_with_mask(quoted, escape, pa.array(odd, pa.string()))
    return pc.fill_null(quoted, "null")


def json_chunks(manifest: Manifest) -> Iterator[str]:
    """The ``--json`` array in pieces (one per batch of rows), ending in a newline.

    Each row's text is built on the columns (quoting, octal modes, sizes), so even the whole
    listing of a million files costs a few Arrow passes rather than a million dictionaries.
    """
    import pyarrow.compute as pc

    from dvlin.objects import columns

    table = manifest.table.select(["path", "type", "mode", "size", "oid", "target"])
    first = True
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        if not batch.num_rows:
            continue
        rows = pc.binary_join_element_wise(
            '  {\n    "path": ',
            _quoted(batch.column(0)),
            ',\n    "type": ',
            _quoted(columns.strings(batch.column(1))),
            ',\n    "mode": "',
            columns.octal(batch.column(2)),
            '",\n    "size": ',
            pc.fill_null(batch.column(3).cast("string"), "null"),
            ',\n    "oid": ',
            _quoted(batch.column(4)),
            ',\n    "target": ',
            _quoted(batch.column(5)),
            "\n  }",
            "",
        )
        yield ("[\n" if first else ",\n") + ",\n".join(rows.to_pylist())
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
