"""``dvlin check`` and commit enforcement: run each asset's contract over its files.

Nothing here writes: :func:`check` reads the workspace and the catalog, and :func:`enforce`
runs inside ``commit`` before a single object is stored.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.errors import CheckFailedError, NotFoundError
from dvlin.policy.config import AssetPolicy, load_policy
from dvlin.policy.results import failed
from dvlin.policy.runner import AssetCheck, evaluate
from dvlin.values import sealed
from dvlin.wording import plural

if TYPE_CHECKING:
    from dvlin.policy.compat import Columns
    from dvlin.repo import Repo
    from dvlin.workspace.scan import Item


@sealed
@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``dvlin check`` found, asset by asset."""

    assets: tuple[AssetCheck, ...]

    @property
    def passed(self) -> bool:
        """True when every asset passed."""
        return all(a.passed for a in self.assets)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin check``."""
        return {
            "passed": self.passed,
            "checked": len(self.assets),
            "failed": sum(1 for a in self.assets if not a.passed),
            "assets": [a.to_dict() for a in self.assets],
        }


class PolicyViolation(CheckFailedError):
    """A commit stopped by its asset's contract; carries every result (exit 1)."""

    def __init__(self, check: AssetCheck) -> None:
        n = len(check.failures)
        super().__init__(
            f"{plural(n, 'rule')} failed for {check.asset} — nothing committed",
            hint='fix the data, or commit anyway with --force --reason "why"',
        )
        self.check = check

    def to_dict(self) -> dict[str, object]:
        """The error shape plus the results, for ``commit --json``."""
        return {**super().to_dict(), "results": [r.to_dict() for r in self.check.results]}


def _earlier_schemas(repo: Repo, name: str) -> list[tuple[str, Columns]]:
    """The table schemas recorded with asset ``name``'s versions, newest first."""
    from dvlin.policy.compat import schema_from_info

    earlier = []
    for v in sorted(repo.catalog.versions(name), key=lambda v: -v.number):
        old = schema_from_info(v.info.files)
        if old is not None:
            earlier.append((v.label, old))
    return earlier


def _evaluate(
    repo: Repo,
    policy: AssetPolicy,
    base_abs: str,
    files: Sequence[tuple[str, int]],
    *,
    now: dt.datetime | None,
) -> AssetCheck:
    """:func:`~dvlin.policy.runner.evaluate`, comparing schemas with the catalog's versions.

    Drift rules compare the files with the latest version's stored profiles, so they run here,
    where the catalog is, after the runner's rules.
    """
    result = evaluate(
        policy,
        base_abs,
        files,
        earlier=lambda: _earlier_schemas(repo, policy.name),
        now=now,
    )
    if policy.drift is None:
        return result
    from dvlin.ops.profiles import drift_check

    drift = drift_check(repo, policy, base_abs, files)
    return AssetCheck(result.asset, result.path, (*result.results, *drift))


# -- dvlin check ------------------------------------------------------------------------------


def _workspace_files(repo: Repo, base: str, roots: Sequence[str]) -> list[tuple[str, int]]:
    from dvlin.workspace.scan import scan

    base_abs = str(repo.root / base)
    items = scan(base_abs, roots, store_root=repo.local_store_root, strict=False)
    return [(i.path, i.size) for i in items if i.type == "file"]


def _location(repo: Repo, policy: AssetPolicy) -> tuple[str, tuple[str, ...]] | None:
    """Where an asset's files are in the workspace: ``dvlin.toml``'s path, else the catalog's."""
    if policy.path:
        rel = repo.relpath(repo.root / policy.path)
        full = repo.root / rel
        if full.is_dir():
            return rel, (".",)
        if full.exists():
            return os.path.dirname(rel) or ".", (os.path.basename(rel),)
        return None
    for a in repo.catalog.list_assets():
        if a.name == policy.name:
            return a.base, a.roots
    return None


def check(
    repo: Repo, targets: Sequence[str] = (), *, now: dt.datetime | None = None
) -> CheckReport:
    """Run the contracts of the named assets (or paths; default: every asset with a policy).

    Reads the workspace as it is now; writes nothing.
    """
    policy = load_policy(repo.root)
    chosen: dict[str, AssetPolicy] = {}
    for target in targets:
        found = policy.get(target)
        if found is not None:
            chosen[found.name] = found
            continue
        matches = _policies_at(repo, policy.assets.values(), target)
        if not matches:
            raise NotFoundError(
                f"no asset with a policy named or at {target!r}",
                hint="add it to dvlin.toml, or see `dvlin policy show`",
                candidates=sorted(policy.assets),
            )
        for m in matches:
            chosen[m.name] = m
    if not targets:
        chosen = dict(policy.assets)
    out = []
    for name, p in sorted(chosen.items()):
        where = _location(repo, p)
        if where is None:
            missing = failed(
                "path",
                f"{p.path} exists" if p.path else "a path in dvlin.toml or a committed version",
                "missing" if p.path else "asset has no path",
            )
            out.append(AssetCheck(name, p.path, (missing,)))
            continue
        base, roots = where
        files = _workspace_files(repo, base, roots)
        result = _evaluate(repo, p, str(repo.root / base), files, now=now)
        shown = base if roots == (".",) else os.path.join(base, *roots[:1])
        out.append(AssetCheck(name, shown, result.results))
    return CheckReport(tuple(out))


def _policies_at(repo: Repo, policies: Any, target: str) -> list[AssetPolicy]:
    if not os.path.exists(target):
        return []
    rel = repo.relpath(target)
    hits = []
    for p in policies:
        where = _location(repo, p)
        if where is None:
            continue
        base, roots = where
        for root in roots:
            path = base if root == "." else os.path.normpath(os.path.join(base, root))
            if rel in (".", "", path) or path.startswith(rel + "/") or rel.startswith(path + "/"):
                hits.append(p)
                break
    return hits


# -- on commit --------------------------------------------------------------------------------


def enforce(
    repo: Repo,
    name: str,
    base_abs: str,
    items: Sequence[Item],
    *,
    force: bool = False,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Run asset ``name``'s contract on the files about to be committed.

    Returns what the version stores (``{"checks": [...], "override": {...}}``; empty when the
    asset has no policy).

    Raises:
        PolicyViolation: a rule failed and ``force`` is not set (exit 1).
        UsageError: a malformed ``dvlin.toml`` (exit 2).
    """
    from dvlin.identity import author, utc_now

    policy = load_policy(repo.root).get(name)
    if policy is None:
        return {}
    files = [(i.path, i.size) for i in items if i.type == "file"]
    result = _evaluate(repo, policy, base_abs, files, now=now)
    info: dict[str, Any] = {"checks": [r.to_dict() for r in result.results]}
    if result.failures:
        if not force:
            raise PolicyViolation(result)
        assert reason is not None
        info["override"] = {
            "reason": reason.strip(),
            "author": author(),
            "at": utc_now(),
            "failed": len(result.failures),
        }
    return info
