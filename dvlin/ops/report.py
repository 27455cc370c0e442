"""``dvlin audit report``: one document for reviewers, from the catalog, the log and profiles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dvlin.audit.report import AuditReport
from dvlin.errors import NotFoundError, UsageError
from dvlin.ids import Oid

if TYPE_CHECKING:
    from dvlin.catalog.catalog import Version
    from dvlin.catalog.versions import VersionInfo
    from dvlin.inspect.drift import Thresholds
    from dvlin.repo import Repo

__all__ = ["FORMATS", "AuditReport", "check_format", "report", "write_report"]

FORMATS = ("html", "md", "json")


def report(
    repo: Repo,
    *,
    assets: Sequence[str] = (),
    since: str | None = None,
    now: dt.datetime | None = None,
) -> AuditReport:
    """Assemble the audit report (verification included; the caller decides the exit code).

    Raises:
        UsageError: ``since`` is not a date or RFC 3339 time.
        NotFoundError: an asset in ``assets`` is not an asset of this repo.
    """
    from dvlin.audit.log import parse_since
    from dvlin.audit.report import assemble
    from dvlin.audit.verify import verify
    from dvlin.identity import utc_now
    from dvlin.policy.config import load_policy
    from dvlin.policy.drift import parse_thresholds

    start = parse_since(since) if since is not None else None
    known = set(repo.catalog.asset_names(include_removed=True))
    for name in assets:
        if name not in known:
            raise NotFoundError(f"unknown asset {name!r}", hint="`dvlin ls` lists assets")
    policy = load_policy(repo.root)
    policies = {
        name: {"owner": p.owner, "retention": p.retention} for name, p in policy.assets.items()
    }
    verification = verify(repo.catalog, algorithm=repo.config.hash)
    chain = verification.to_dict()
    chain.pop("redacted", None)
    chain.pop("legacy_entries", None)
    chain["head_hash"] = verification.head_hash
    chain["head_seq"] = verification.head_seq
    every = repo.catalog.versions()
    when = now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if now else utc_now()
    result = assemble(
        repo.catalog,
        repo_id=repo.config.repo_id,
        chain=chain,
        assets=assets,
        since=start,
        since_text=since,
        policies=policies,
        versions=every,
        now=when,
    )
    shown = {(v["asset"], v["number"]) for v in result.versions}
    thresholds = parse_thresholds(policy.drift)
    drift = tuple(_drifts(repo, every, shown, thresholds))
    return replace(result, drift=drift)


def _drifts(
    repo: Repo, every: Sequence[Version], shown: set[tuple[str, int]], thresholds: Thresholds
) -> list[dict[str, Any]]:
    """Drift between each shown version and its parent, from profiles stored on commit.

    Versions committed before profiles existed are skipped rather than profiled here: a
    report reads, it does not compute over every file of every version.
    """
    if not shown:
        return []
    out: list[dict[str, Any]] = []
    by_id = {v.id: v for v in every}
    for v in sorted(by_id.values(), key=lambda v: (v.asset, v.number)):
        if (v.asset, v.number) not in shown or not v.parent or v.parent not in by_id:
            continue
        parent = by_id[v.parent]
        pa, pb = _stored(v.info), _stored(parent.info)
        paths = sorted(set(pa) & set(pb))
        if not paths:
            continue
        files = [d for p in paths if (d := _file(repo, p, pb[p], pa[p], thresholds))]
        if files:
            out.append({"asset": v.asset, "from": parent.label, "to": v.label, "files": files})
    return out


def _stored(info: VersionInfo) -> dict[str, Oid]:
    return {
        p: Oid(m["profile"])
        for p, m in info.files.items()
        if isinstance(m, dict) and m.get("profile")
    }


_RANK = {None: 0, "low": 1, "medium": 2, "high": 3}


def _file(
    repo: Repo, path: str, old: Oid, new: Oid, thresholds: Thresholds
) -> dict[str, Any] | None:
    from dvlin.inspect.drift import file_drift
    from dvlin.ops.profiles import load_profile

    if old == new:
        return None  # the same profile object: the file did not change
    a, b = load_profile(repo, old), load_profile(repo, new)
    if a is None or b is None:
        return None
    d = file_drift(a, b, thresholds)
    columns = [
        {
            "name": c["name"],
            "psi": c.get("psi"),
            "ks": c.get("ks"),
            "drift": c.get("drift"),
        }
        for c in d.get("columns", [])
    ]
    labels = [c["drift"] for c in columns]
    emb = d.get("embedding")
    if isinstance(emb, dict):
        labels.append(emb.get("drift"))
    worst = max(labels, key=lambda x: _RANK.get(x, 0), default=None)
    return {
        "path": path,
        "rows": d.get("rows"),
        "added_columns": d.get("added_columns", []),
        "removed_columns": d.get("removed_columns", []),
        "columns": columns,
        "embedding_drift": emb.get("drift") if isinstance(emb, dict) else None,
        "drift": worst,
    }


def check_format(fmt: str) -> str:
    """Refuse a format the report cannot be written in."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint="one of: " + ", ".join(FORMATS))
    return fmt


def write_report(path: str, text: str) -> None:
    """Write the report to ``path`` atomically (beside it, then rename).

    Raises:
        FileSystemError: the file or its folder cannot be written (exit 2).
    """
    import os
    import uuid
    from pathlib import Path

    from dvlin.errors import FileSystemError

    target = Path(path)
    if target.is_dir():
        raise UsageError(f"-o {path!r} is a folder", hint="give a file name, e.g. audit.html")
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        raise FileSystemError.from_os(exc, action="write", path=path) from None
    finally:
        tmp.unlink(missing_ok=True)
