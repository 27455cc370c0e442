"""Erase personal data from audit entries while the chain still verifies.

An entry of format 2 commits to each payload field (``actor``, ``outcome``, ``reason``,
``details``) through its own salted hash. Redacting a field replaces its value with a marker,
drops its salt (so a short value cannot be brute-forced back from the hash) and keeps the
field hash, so the payload hash and the chain are unchanged. A ``redact`` entry records who
erased which fields of which entry, and why; ``audit verify`` reports every redacted entry and
fails on one that no ``redact`` entry accounts for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from dvlin.audit.entry import LEGACY, PAYLOAD_FIELDS, AuditEntry, field_hash
from dvlin.audit.log import append, get_entry, save_entry
from dvlin.catalog import Catalog
from dvlin.errors import NotFoundError, UsageError

MARKER = "[redacted]"


def _marker(name: str) -> Any:
    return {} if name == "details" else MARKER


def redact(
    catalog: Catalog,
    seq: int,
    fields: Sequence[str],
    *,
    reason: str,
    actor: str | None = None,
) -> AuditEntry:
    """Erase ``fields`` of entry ``seq``; returns the ``redact`` entry that records it.

    Runs inside the caller's transaction (and under the repo lock); ``dvlin audit redact``
    goes through :func:`erase` inside a unit of work instead.
    """
    details = erase(catalog, seq, fields, reason=reason)
    return append(
        catalog,
        action="redact",
        target=f"#{seq}",
        reason=reason.strip(),
        actor=actor,
        details=details,
    )


def erase(catalog: Catalog, seq: int, fields: Sequence[str], *, reason: str) -> dict[str, Any]:
    """Erase ``fields`` of entry ``seq``; returns the details of the ``redact`` entry it needs.

    Raises:
        NotFoundError: there is no entry ``seq``.
        UsageError: unknown or already redacted fields, a legacy entry, or no reason.
    """
    if not reason.strip():
        raise UsageError("a redaction needs a reason", hint='e.g. --reason "erasure request E-12"')
    wanted = tuple(dict.fromkeys(fields))
    if not wanted:
        raise UsageError("no fields to redact", hint="name one of: " + ", ".join(PAYLOAD_FIELDS))
    for name in wanted:
        if name not in PAYLOAD_FIELDS:
            raise UsageError(
                f"cannot redact field {name!r}", hint="one of: " + ", ".join(PAYLOAD_FIELDS)
            )
    entry = get_entry(catalog, seq)
    if entry is None:
        raise NotFoundError(f"no audit entry {seq}", hint="`dvlin audit log` lists entries")
    if entry.format == LEGACY:
        raise UsageError(
            f"entry {seq} is in the format written before schema 6 and cannot be redacted",
            hint="its fields are hashed directly into the chain",
        )
    if entry.action == "redact" and "details" in wanted:
        raise UsageError(
            f"entry {seq} records a redaction; its details must stay",
            hint="redact its actor or reason instead",
        )
    done = [name for name in wanted if name in entry.redacted]
    if done:
        raise UsageError(
            f"entry {seq} already has {', '.join(done)} redacted",
            hint="`dvlin audit verify` lists redacted entries",
        )
    values = entry.payload()
    kept = dict(entry.redacted)
    salts = dict(entry.salts)
    for name in wanted:
        kept[name] = field_hash(name, values[name], salts.pop(name))
    changes: dict[str, Any] = {name: _marker(name) for name in wanted}
    save_entry(catalog, dataclasses.replace(entry, salts=salts, redacted=kept, **changes))
    return {"seq": seq, "fields": list(wanted)}
