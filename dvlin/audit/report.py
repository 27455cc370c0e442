"""The audit report's facts, read through the catalog: inventory, verdicts, holds, gc, models.

:func:`assemble` gathers everything a reviewer asks about into one :class:`AuditReport`; the
verb (:mod:`dvlin.ops.report`) adds what needs the object store or ``dvlin.toml`` (owners,
retention settings, drift from stored profiles) and the chain's verification, and the
renderers (:mod:`dvlin.render.report`) draw it as HTML, Markdown or JSON.
The JSON shape is :meth:`AuditReport.to_dict`, described by ``report.schema.json`` beside
this module (``SCHEMA_VERSION`` counts its incompatible changes).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from dvlin.audit.log import instant
from dvlin.catalog import Catalog
from dvlin.catalog.catalog import Version
from dvlin.catalog.gc import GcStore
from dvlin.catalog.holds import RetentionStore
from dvlin.catalog.runs import LineageStore, is_run_id
from dvlin.values import sealed

SCHEMA_ID = "urn:dvlin:audit-report:1"
SCHEMA_VERSION = 1


def report_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of the report's JSON, as shipped in the package."""
    text = resources.files("dvlin.audit").joinpath("report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@sealed
@dataclass(frozen=True, slots=True)
class AuditReport:
    """Everything one audit report says; sections are lists of JSON-ready dicts."""

    generated_at: str
    repo: str
    assets_filter: tuple[str, ...]
    since: str | None
    chain: dict[str, Any]
    assets: tuple[dict[str, Any], ...]
    versions: tuple[dict[str, Any], ...]
    holds: tuple[dict[str, Any], ...]
    expiries: tuple[dict[str, Any], ...]
    gc: tuple[dict[str, Any], ...]
    models: tuple[dict[str, Any], ...]
    drift: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the audit chain verified."""
        return bool(self.chain.get("ok"))

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON shape (see ``report.schema.json``)."""
        return {
            "$schema": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "generated_at": self.generated_at,
            "repo": self.repo,
            "filters": {"assets": list(self.assets_filter), "since": self.since},
            "chain": self.chain,
            "assets": list(self.assets),
            "versions": list(self.versions),
            "holds": list(self.holds),
            "expiries": list(self.expiries),
            "gc": list(self.gc),
            "models": list(self.models),
            "drift": list(self.drift),
        }


def _after(text: str, since: dt.datetime | None) -> bool:
    if since is None:
        return True
    when = instant(text)
    return when is not None and when >= since


def _checks(v: Version) -> dict[str, Any]:
    results = [r for r in v.info.checks if isinstance(r, Mapping)]
    failed = [r for r in results if not r.get("passed")]
    return {
        "passed": len(results) - len(failed),
        "failed": len(failed),
        "results": [
            {
                "rule": str(r.get("rule", "")),
                "passed": bool(r.get("passed")),
                "column": r.get("column"),
                "file": r.get("file"),
                "expected": str(r.get("expected", "")),
                "found": str(r.get("found", "")),
            }
            for r in results
        ],
    }


def _override(v: Version) -> dict[str, Any] | None:
    o = v.info.override
    if o is None:
        return None
    return {"reason": o.reason, "actor": o.author, "at": o.at, "failed": o.failed}


def assemble(
    catalog: Catalog,
    *,
    repo_id: str,
    chain: dict[str, Any],
    assets: Sequence[str] = (),
    since: dt.datetime | None = None,
    since_text: str | None = None,
    policies: Mapping[str, Mapping[str, Any]] | None = None,
    versions: Sequence[Version] | None = None,
    now: str,
) -> AuditReport:
    """Read the report's facts from ``catalog``.

    ``assets`` limits every section to those assets (a model's lineage still reaches
    whatever it came from); ``since`` keeps versions, holds, expiries and gc runs from that
    time on. ``policies`` gives each asset's ``owner`` and ``retention`` from ``dvlin.toml``;
    ``versions`` is every version of the catalog when the caller already read them.
    """
    from dvlin.audit.log import entries

    policies = policies or {}
    lineage = LineageStore(catalog)
    wanted = set(assets)
    listed = [
        a for a in catalog.list_assets(include_removed=True) if not wanted or a.name in wanted
    ]
    names = {a.name for a in listed}
    every = catalog.versions() if versions is None else versions
    all_versions = [v for v in every if v.asset in names]
    counts: dict[str, int] = {}
    for v in all_versions:
        counts[v.asset] = counts.get(v.asset, 0) + 1
    inventory = tuple(
        {
            "name": a.name,
            "kind": a.kind,
            "owner": a.owner or (policies.get(a.name) or {}).get("owner"),
            "versions": counts.get(a.name, 0),
            "latest": a.latest,
            "bytes": a.bytes,
            "files": a.files,
            "retention": (policies.get(a.name) or {}).get("retention"),
            "created_at": a.created_at,
        }
        for a in sorted(listed, key=lambda a: a.name)
    )
    holds = RetentionStore(catalog).holds()
    expired = GcStore(catalog).expired_at()
    stages = lineage.current_stages()
    tags: dict[str, list[str]] = {}
    for t in catalog.tags():
        tags.setdefault(t.version, []).append(t.name)
    shown = sorted(
        (v for v in all_versions if _after(v.created_at, since)), key=lambda v: (v.asset, v.number)
    )
    rows = tuple(
        {
            "asset": v.asset,
            "number": v.number,
            "label": v.label,
            "id": v.id,
            "created_at": v.created_at,
            "author": v.author,
            "message": v.message,
            "files": v.files,
            "bytes": v.bytes,
            "tags": sorted(tags.get(v.id, [])),
            "checks": _checks(v),
            "override": _override(v),
            "hold": holds[v.id].reason if v.id in holds else None,
            "expired_at": expired.get(v.id),
            "stage": stages.get(v.id),
        }
        for v in shown
    )
    by_id: dict[str, Version] = {v.id: v for v in all_versions}
    hold_rows = tuple(
        {
            "version": by_id[h.version].label,
            "reason": h.reason,
            "actor": h.author,
            "at": h.created_at,
        }
        for h in sorted(holds.values(), key=lambda h: h.created_at)
        if h.version in by_id and _after(h.created_at, since)
    )
    expiries = tuple(
        {"version": by_id[vid].label, "at": at}
        for vid, at in sorted(expired.items(), key=lambda kv: (kv[1], kv[0]))
        if vid in by_id and _after(at, since)
    )
    gc_runs = tuple(
        {
            "seq": e.seq,
            "at": e.at,
            "actor": e.actor,
            "plan": e.target,
            "versions": int(e.details.get("versions", 0)),
            "objects": int(e.details.get("objects", 0)),
            "bytes": int(e.details.get("bytes", 0)),
        }
        for e in entries(catalog, action="gc", since=since)
    )
    models = tuple(
        _model(lineage, v, stages.get(v.id))
        for v in shown
        if next((a["kind"] for a in inventory if a["name"] == v.asset), None) == "model"
    )
    return AuditReport(
        generated_at=now,
        repo=repo_id,
        assets_filter=tuple(sorted(wanted)),
        since=since_text,
        chain=chain,
        assets=inventory,
        versions=rows,
        holds=hold_rows,
        expiries=expiries,
        gc=gc_runs,
        models=models,
    )


def _model(lineage: LineageStore, v: Version, stage: str | None) -> dict[str, Any]:
    """A model version, its stage history and its upstream lineage down to raw data."""
    edges = lineage.walk(v.id, upstream=True)
    ids = {v.id} | {e.src for e in edges} | {e.dst for e in edges}
    version_ids = [n for n in ids if not is_run_id(n)]
    known = lineage.versions(version_ids)
    runs = lineage.runs([n for n in ids if is_run_id(n)])
    has_input = {e.dst for e in edges}
    nodes = []
    for n in sorted(ids):
        if is_run_id(n):
            run = runs.get(n)
            label = f"{run.short} {run.transform}".strip() if run else n[:10]
            nodes.append({"id": n, "type": "run", "label": label, "raw": False})
        else:
            ver = known.get(n)
            nodes.append(
                {
                    "id": n,
                    "type": "version",
                    "label": ver.label if ver else n[:12],
                    "raw": n not in has_input,
                }
            )
    return {
        "version": v.label,
        "id": v.id,
        "stage": stage,
        "stages": [
            {"stage": c.stage, "actor": c.author, "at": c.created_at}
            for c in lineage.stage_history(v.id)
        ],
        "lineage": {
            "nodes": nodes,
            "edges": [
                {"src": e.src, "dst": e.dst, "kind": e.kind}
                for e in sorted(edges, key=lambda e: (e.src, e.dst, e.kind))
            ],
        },
    }
