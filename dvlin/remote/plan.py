"""What a push sends: the records a remote lacks, split by storage group, and the new refs.

Pure functions over records as plain dicts of column values (as the catalog's remote state
reads them): :mod:`dvlin.ops.push` reads the catalog and the remote, and asks these what to
send and what ``refs.json`` becomes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dvlin.remote.refs import Head, Refs

Row = dict[str, Any]


def push_plan(
    held: Mapping[str, Mapping[str, str | None]],
    local: Mapping[str, Mapping[str, Row]],
    selected: set[str] | None,
) -> dict[str, list[Row]]:
    """The records the remote lacks, limited to what ``selected`` versions need (all: None).

    ``held`` is, per record kind, the keys (and values) the remote holds; ``local`` this
    clone's records by kind and key.
    """
    on_remote = set(held["version"])
    allowed = on_remote | (selected if selected is not None else set(local["version"]))
    plan: dict[str, list[Row]] = {}
    versions = [
        row
        for vid, row in local["version"].items()
        if vid not in held["version"] and vid in allowed
    ]
    versions.sort(key=lambda r: (r["asset"], r["number"]))
    plan["version"] = versions
    assets = {r["asset"] for r in versions}
    plan["asset"] = [
        row for key, row in local["asset"].items() if key in assets and key not in held["asset"]
    ]
    for kind in ("stage", "hold", "expiry"):
        plan[kind] = [
            row
            for key, row in local[kind].items()
            if key not in held[kind] and row["version"] in allowed
        ]
    # A hold released here is lifted on the remote too, if the remote holds it.
    plan["release"] = [
        row
        for key, row in local.get("release", {}).items()
        if key in held.get("hold", {}) and key not in held.get("release", {})
    ]
    # A tag the remote gives to another version stays in the plan, for _check to refuse.
    plan["tag"] = [
        row
        for key, row in local["tag"].items()
        if held["tag"].get(key, "") != row["version"] and row["version"] in allowed
    ]
    all_versions = set(local["version"])
    edges = [
        row
        for key, row in local["edge"].items()
        if key not in held["edge"]
        and all(n in allowed or n not in all_versions for n in (row["src"], row["dst"]))
    ]
    plan["edge"] = edges
    if selected is None:
        plan["run"] = [row for key, row in local["run"].items() if key not in held["run"]]
    else:
        runs = {n for e in edges for n in (e["src"], e["dst"]) if n not in all_versions}
        plan["run"] = [
            row for key, row in local["run"].items() if key not in held["run"] and key in runs
        ]
    plan["audit"] = [row for key, row in local["audit"].items() if key not in held["audit"]]
    return {k: v for k, v in plan.items() if v}


def split_by_group(
    plan: dict[str, list[Row]], groups: Mapping[str, str], versions: Mapping[str, Row]
) -> dict[str | None, dict[str, list[Row]]]:
    """The plan per storage group: a group's assets, versions and the records about them go
    to its own segment; runs and audit entries to the shared one."""
    if not groups:
        return {None: plan}

    def of_version(vid: str) -> str | None:
        row = versions.get(vid)
        return groups.get(row["asset"]) if row else None

    parts: dict[str | None, dict[str, list[Row]]] = {}
    for kind, rows in plan.items():
        for row in rows:
            if kind in ("asset",):
                group = groups.get(row["name"])
            elif kind in ("version", "tag"):
                group = groups.get(row["asset"])
            elif kind in ("stage", "hold", "release", "expiry"):
                group = of_version(row["version"])
            elif kind == "edge":
                group = of_version(row["src"]) or of_version(row["dst"])
            else:
                group = None
            parts.setdefault(group, {}).setdefault(kind, []).append(row)
    return parts


def next_refs(
    algorithm: str,
    refs: Refs | None,
    plan: Mapping[str, list[Row]],
    sids: list[str],
    clone: str,
    groups: Mapping[str, str],
    *,
    chunker: str,
) -> Refs:
    """The refs a push swaps in: its versions as heads, its segments, its audit chain head;
    the pushing repo's ``chunker`` is recorded if the remote records none yet (clones take it)."""
    heads = dict(refs.heads) if refs else {}
    for row in plan.get("version", ()):
        head = heads.get(row["asset"])
        if head is None or row["number"] > head.number:
            heads[row["asset"]] = Head(row["id"], row["number"])
    clones = dict(refs.clones) if refs else {}
    audit = plan.get("audit", ())
    if audit:
        last = max(audit, key=lambda r: r["seq"])
        clones[clone] = (int(last["seq"]), str(last["hash"]))
    return Refs(
        hash=algorithm,
        heads=heads,
        segments=(*(refs.segments if refs else ()), *sids),
        clones=clones,
        groups={**(refs.groups if refs else {}), **groups},
        chunker=refs.chunker if refs and refs.chunker else chunker,
    )
