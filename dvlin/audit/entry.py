"""The audit entry format: what the chain hashes, in both formats, and its JSON shape.

* **format 1** (entries written before schema 6): the hash covers ``{seq, at, actor, action,
  target, outcome, reason, details}`` directly.
* **format 2**: the hash covers a header ``{format, clone, seq, at, action, target, record,
  payload}`` where ``record`` names the catalog record the change left behind (kind, key,
  digest) and ``payload`` is the hash of the salted field hashes of ``actor``, ``outcome``,
  ``reason`` and ``details``. Each payload field has its own random salt, stored beside it,
  so a field can later be erased (see :mod:`dvlin.audit.redact`): its value and salt go, its
  field hash stays, and the chain still verifies.

Remotes push and pull :class:`AuditEntry` values through :meth:`AuditEntry.to_dict` /
:meth:`AuditEntry.from_dict`; :meth:`AuditEntry.compute_hash` checks one against its chain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from dvlin.audit.records import RecordRef
from dvlin.errors import UsageError
from dvlin.sha import sha256
from dvlin.values import sealed

LEGACY, CURRENT = 1, 2
PAYLOAD_FIELDS = ("actor", "outcome", "reason", "details")
ACTIONS = (
    "commit",
    "tag",
    "contract-override",
    "run",
    "link",
    "model-stage",
    "hold",
    "release",
    "expire",
    "gc-delete",
    "gc",
    "adopt",
    "redact",
    "tag-delete",
    "rm",
    "mv",
    "config-set",
    "profile",
    "fetch",
    "rebase",
    "gc-remote",
)


def _no_floats(value: Any, where: str = "details") -> None:
    if isinstance(value, float):
        raise UsageError(
            f"audit {where} holds a float ({value!r})",
            hint="floats have no single canonical form; record them as strings",
        )
    if isinstance(value, Mapping):
        for k, v in value.items():
            _no_floats(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _no_floats(v, f"{where}[{i}]")


def canonical(fields: Mapping[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, no floats, UTF-8."""
    _no_floats(dict(fields))
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def genesis(repo_id: str) -> str:
    """The 'previous hash' of the first entry: ties the chain to one repo."""
    return sha256(f"dvlin-audit-genesis:{repo_id}".encode()).hexdigest()


def field_hash(name: str, value: Any, salt: str) -> str:
    """The salted commitment to one payload field."""
    return sha256(bytes.fromhex(salt) + b"\n" + canonical({name: value})).hexdigest()


@sealed
@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log (either format); what remotes push and pull."""

    seq: int
    at: str
    actor: str
    action: str
    target: str
    outcome: str
    reason: str | None
    details: dict[str, Any]
    prev: str
    hash: str
    format: int = CURRENT
    clone: str = ""
    """The id of the repo (clone) whose chain this entry belongs to."""
    record: RecordRef | None = None
    salts: dict[str, str] = field(default_factory=dict)
    """Per-field random salts of the payload; a redacted field has none."""
    redacted: dict[str, str] = field(default_factory=dict)
    """Field → its salted hash, for fields whose value was erased."""
    payload_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (the ``--json`` and remote shape)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEntry:
        """Inverse of :meth:`to_dict`."""
        rec = data.get("record")
        return cls(
            seq=int(data["seq"]),
            at=str(data["at"]),
            actor=str(data["actor"]),
            action=str(data["action"]),
            target=str(data["target"]),
            outcome=str(data["outcome"]),
            reason=data.get("reason"),
            details=dict(data.get("details") or {}),
            prev=str(data["prev"]),
            hash=str(data["hash"]),
            format=int(data.get("format", LEGACY)),
            clone=str(data.get("clone") or ""),
            record=RecordRef.from_dict(rec) if rec else None,
            salts=dict(data.get("salts") or {}),
            redacted=dict(data.get("redacted") or {}),
            payload_hash=data.get("payload_hash"),
        )

    def payload(self) -> dict[str, Any]:
        """The erasable fields, as stored (redacted ones hold a marker)."""
        return {
            "actor": self.actor,
            "outcome": self.outcome,
            "reason": self.reason,
            "details": self.details,
        }

    def compute_payload_hash(self) -> str:
        """Hash of the per-field salted hashes (redacted fields contribute their kept hash)."""
        values = self.payload()
        hashes = {
            name: self.redacted[name]
            if name in self.redacted
            else field_hash(name, values[name], self.salts[name])
            for name in PAYLOAD_FIELDS
        }
        return sha256(canonical(hashes)).hexdigest()

    def canonical_bytes(self, *, payload: str | None = None) -> bytes:
        """What the chain hashes after ``prev``: the header (format 2) or all fields (format 1).

        ``payload`` is the payload hash when the caller has just computed it (verification
        checks it first), so it is not computed twice.

        Raises:
            KeyError, ValueError, UsageError: the entry is malformed.
        """
        if self.format == LEGACY:
            return canonical({k: v for k, v in self.payload().items()} | self._core())
        header = {
            **self._core(),
            "format": self.format,
            "clone": self.clone,
            "record": self.record.to_dict() if self.record else None,
            "payload": payload if payload is not None else self.compute_payload_hash(),
        }
        return canonical(header)

    def _core(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "action": self.action, "target": self.target}

    def compute_hash(self, *, payload: str | None = None) -> str:
        """SHA-256 over the previous hash and :meth:`canonical_bytes`."""
        return sha256(
            self.prev.encode("ascii") + b"\n" + self.canonical_bytes(payload=payload)
        ).hexdigest()
