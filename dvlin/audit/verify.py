"""Verify the audit log: recompute the chain, then replay it against the catalog.

The chain proves the log itself is whole. The replay proves the catalog is what the log says:
for every record kind (version, tag, hold, model stage, override, expiry) the newest entry
naming a record must carry the digest of the row as it is now, every row must be named by
some entry, and every version's id must still hash from its contents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dvlin.audit.entry import LEGACY, AuditEntry, genesis
from dvlin.audit.log import iter_entries, parse_head
from dvlin.audit.records import label as record_label
from dvlin.audit.records import snapshot, version_id, version_identity, version_label
from dvlin.catalog import Catalog
from dvlin.errors import ExitCode, UsageError
from dvlin.values import sealed


@sealed
@dataclass(frozen=True, slots=True)
class Mismatch:
    """A catalog row that disagrees with the audit chain."""

    kind: str
    key: str
    label: str
    """The row, as people name it: ``tag d@release-1``, ``version d@v2`` …"""
    seq: int | None
    """The newest entry that describes the row, if any."""
    problem: str
    versions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "kind": self.kind,
            "key": self.key,
            "row": self.label,
            "seq": self.seq,
            "problem": self.problem,
            "versions": list(self.versions),
        }


@sealed
@dataclass(frozen=True, slots=True)
class Redaction:
    """An entry whose payload fields were erased, and the entry that records it."""

    seq: int
    fields: tuple[str, ...]
    by: int | None

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"seq": self.seq, "fields": list(self.fields), "by": self.by}


@sealed
@dataclass(frozen=True, slots=True)
class Verification:
    """The result of recomputing the chain and replaying it against the catalog."""

    entries: int
    head_seq: int
    head_hash: str
    problem: str | None = None
    """The first break in the chain itself, or None when the chain is whole."""
    first_bad_seq: int | None = None
    mismatches: tuple[Mismatch, ...] = ()
    redacted: tuple[Redaction, ...] = ()
    legacy: int = 0
    """How many entries are in the format written before schema 6."""

    @property
    def ok(self) -> bool:
        """True when the chain is whole and the catalog agrees with it."""
        return self.problem is None and not self.mismatches

    @property
    def exit_code(self) -> ExitCode:
        """4 when catalog rows disagree with the chain, 1 when the chain is broken, else 0."""
        if self.mismatches:
            return ExitCode.INTEGRITY
        return ExitCode.CHECK_FAILED if self.problem else ExitCode.OK

    @property
    def head(self) -> str:
        """``SEQ:HASH`` of the last entry, for CI logs to anchor."""
        return f"{self.head_seq}:{self.head_hash}"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "problem": self.problem,
            "first_bad_seq": self.first_bad_seq,
            "mismatches": [m.to_dict() for m in self.mismatches],
            "redacted": [r.to_dict() for r in self.redacted],
            "legacy_entries": self.legacy,
        }


def check_entry(e: AuditEntry, prev: str, head_seq: int) -> str | None:
    """Why ``e`` does not continue a chain at ``head_seq`` / ``prev`` (None when it does)."""
    if e.seq != head_seq + 1:
        return f"entry {head_seq + 1} is missing (the next entry is {e.seq})"
    if e.prev != prev:
        return f"entry {e.seq} does not follow entry {head_seq}: removed, inserted or reordered"
    try:
        if e.format not in (LEGACY, 2):
            return f"entry {e.seq} has an unknown format {e.format}"
        payload = None if e.format == LEGACY else e.compute_payload_hash()
        if payload is not None and e.payload_hash != payload:
            return f"entry {e.seq} was edited: its payload does not match its hash"
        if e.compute_hash(payload=payload) != e.hash:
            return f"entry {e.seq} was edited: its contents do not match its hash"
    except (KeyError, ValueError, TypeError, UsageError):
        return f"entry {e.seq} is malformed"
    return None


def verify(
    catalog: Catalog,
    *,
    algorithm: str | None = None,
    expect_head: str | None = None,
    records: bool = True,
) -> Verification:
    """Recompute every hash, then replay the chain against the catalog's records.

    Args:
        algorithm: the repo's hash (``repo.config.hash``), to recompute every version id
            from its contents; without it ids are not recomputed.
        expect_head: ``SEQ:HASH`` the log must still reach (catches a cut-off tail).
        records: replay the chain against the catalog (False: the chain alone, as
            ``audit head`` needs).
    """
    expected = parse_head(expect_head) if expect_head else None
    repo_id = catalog.get_meta("repo_id") or ""
    prev = genesis(repo_id)
    count = head_seq = legacy = 0
    head_hash = prev
    problem: str | None = None
    first_bad: int | None = None
    newest: dict[tuple[str, str], AuditEntry] = {}
    hashes: dict[int, str] = {}
    redacted: dict[int, tuple[str, ...]] = {}
    claimed: dict[int, tuple[int | None, set[str]]] = {}
    for e in iter_entries(catalog.conn):
        count += 1
        if problem is None:
            problem = check_entry(e, prev, head_seq)
            if problem is not None:
                first_bad = e.seq
            else:
                prev, head_seq, head_hash = e.hash, e.seq, e.hash
        hashes[e.seq] = e.hash
        legacy += e.format == LEGACY
        if e.record is not None:
            newest[(e.record.kind, e.record.key)] = e
        if e.redacted:
            redacted[e.seq] = tuple(sorted(e.redacted))
        target = e.details.get("seq")
        if e.action == "redact" and isinstance(target, int) and target < e.seq:
            named = {str(f) for f in e.details.get("fields") or ()}
            old = claimed.get(target, (e.seq, set()))[1]
            claimed[target] = (e.seq, old | named)
    if problem is None and expected is not None:
        want_seq, want_hash = expected
        if head_seq < want_seq:
            problem, first_bad = (
                f"the log ends at entry {head_seq}, before the expected head "
                f"{want_seq}: entries were cut off the end",
                head_seq + 1,
            )
        elif hashes.get(want_seq) != want_hash:
            problem = f"entry {want_seq} is not the expected head {want_hash[:12]}…"
            first_bad = want_seq
    redactions = []
    for seq, fields in sorted(redacted.items()):
        by, claims = claimed.get(seq, (None, set()))
        if not set(fields) <= claims and problem is None:
            problem = (
                f"entry {seq} has redacted fields ({', '.join(fields)}) that no redact "
                "entry records: erased outside dvlin"
            )
            first_bad = seq
        redactions.append(Redaction(seq, fields, by))
    return Verification(
        entries=count,
        head_seq=head_seq,
        head_hash=head_hash,
        problem=problem,
        first_bad_seq=first_bad,
        mismatches=replay(catalog, newest, algorithm=algorithm) if records else (),
        redacted=tuple(redactions),
        legacy=legacy,
    )


def replay(
    catalog: Catalog,
    newest: dict[tuple[str, str], AuditEntry],
    *,
    algorithm: str | None,
) -> tuple[Mismatch, ...]:
    """Compare each record with the newest entry that describes it; recompute version ids."""
    found: list[Mismatch] = []
    if algorithm is not None:
        found += _bad_ids(catalog, algorithm)
    records = snapshot(catalog.conn)
    bad_ids = {m.key for m in found}
    for key in sorted(set(records) | set(newest)):
        row, entry = records.get(key), newest.get(key)
        kind, rkey = key
        if row is not None and kind == "version" and rkey in bad_ids:
            continue  # already named, with the sharper message
        if entry is None:
            assert row is not None
            found.append(
                Mismatch(
                    kind,
                    rkey,
                    row.label,
                    None,
                    f"{row.label} has no audit entry: added outside dvlin",
                    _versions(row.version),
                )
            )
            continue
        assert entry.record is not None
        want = entry.record.digest
        if row is None and want is None:
            continue  # removed, and the log says so (a released hold)
        label = row.label if row is not None else _missing_label(catalog, kind, rkey, entry)
        if row is None:
            problem = f"{label} is gone, but audit entry {entry.seq} records it"
        elif want is None:
            problem = f"{label} exists, but audit entry {entry.seq} records its removal"
        elif row.digest != want:
            problem = f"{label} does not match audit entry {entry.seq}: changed outside dvlin"
        else:
            continue
        versions = _versions(row.version if row is not None else None)
        if kind != "tag" and not versions and "@" in entry.target:
            versions = (entry.target,)
        found.append(Mismatch(kind, rkey, label, entry.seq, problem, versions))
    return tuple(found)


def _missing_label(catalog: Catalog, kind: str, key: str, entry: AuditEntry) -> str:
    version = None
    if kind in ("version", "hold", "override", "expiry"):
        version = version_label(catalog.conn, key)  # a bare read: the row may be mangled
    return record_label(kind, key, version or entry.target)


def _versions(label: str | None) -> tuple[str, ...]:
    return (label,) if label else ()


def _bad_ids(catalog: Catalog, algorithm: str) -> list[Mismatch]:
    found = []
    rows = catalog.conn.execute(
        "SELECT id, asset, number, parent, tree, manifest, author, created_at, message, meta "
        "FROM versions ORDER BY asset, number"
    )
    # An id hashes the asset's name at commit time: its name now, or one `dvlin mv` left behind.
    aliases: dict[str, list[str]] = {}
    for alias, asset in catalog.conn.execute("SELECT alias, asset FROM asset_aliases"):
        aliases.setdefault(asset, []).append(alias)
    for r in rows:
        try:
            meta = json.loads(r[9] or "{}")
            ok = any(
                version_id(
                    algorithm,
                    version_identity(
                        asset=name,
                        parent=r[3],
                        tree=r[4],
                        manifest=r[5],
                        author=r[6],
                        created_at=r[7],
                        message=r[8] or "",
                        meta=meta,
                    ),
                )
                == r[0]
                for name in (r[1], *aliases.get(r[1], ()))
            )
        except (ValueError, TypeError):
            ok = False
        if not ok:
            label = f"{r[1]}@v{r[2]}"
            found.append(
                Mismatch(
                    "version",
                    r[0],
                    f"version {label}",
                    None,
                    f"version {label}: its id {r[0][:12]} does not hash from its contents "
                    "(edited outside dvlin)",
                    (label,),
                )
            )
    return found
