"""JSON Schema (2020-12) for every record of a table: vectorised where it can be, exact always.

A record is one row as a JSON object; a null cell is an *absent* property (so ``required``
means "present and not null", and a nullable column is an optional property). Timestamps are
RFC 3339 strings, dates ``YYYY-MM-DD``.

Three modules, by noun:

- :mod:`~dvlin.policy.records.schema` — :func:`compile_schema` splits a schema: per-column
  keywords that pyarrow.compute can decide plus the top-level ``required`` and
  ``additionalProperties: false``, and a *residual* schema that jsonschema applies record by
  record; also the records as jsonschema sees them.
- :mod:`~dvlin.policy.records.kernels` — the vectorised per-column checks (pyarrow.compute).
- :mod:`~dvlin.policy.records.check` — :class:`RecordCheck`, which runs both paths over the
  batches of an asset's tables and reports per keyword.

Both paths give the same verdicts — a property test holds them to it.
"""

from dvlin.policy.records.check import RecordCheck
from dvlin.policy.records.kernels import column_failures, column_vectorisable
from dvlin.policy.records.schema import (
    ANNOTATIONS,
    VECTOR_KEYWORDS,
    CompiledSchema,
    compile_schema,
    record_failures,
    to_records,
    validator_for,
)

__all__ = [
    "ANNOTATIONS",
    "VECTOR_KEYWORDS",
    "CompiledSchema",
    "RecordCheck",
    "column_failures",
    "column_vectorisable",
    "compile_schema",
    "record_failures",
    "to_records",
    "validator_for",
]
