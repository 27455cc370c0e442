"""``dvlin link``: record lineage for work done outside dvlin (a Spark job, a notebook)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.catalog import Version
from dvlin.catalog.runs import Edge, LineageStore, Run
from dvlin.errors import ConflictError, UsageError
from dvlin.identity import author, utc_now
from dvlin.ops.common import check_asset_name
from dvlin.ops.refs import resolve_live
from dvlin.ops.run import PendingRun, check_params
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.repo import Repo


class CycleError(ConflictError):
    """A link that would make a version its own ancestor."""


@sealed
@dataclass(frozen=True, slots=True)
class LinkResult:
    """What ``dvlin link`` recorded: a run between sources and target, or direct edges."""

    sources: tuple[Version, ...]
    target: Version
    run: Run | None
    edges: tuple[Edge, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "sources": [{"label": v.label, "id": v.id} for v in self.sources],
            "target": {"label": self.target.label, "id": self.target.id},
            "run": self.run.to_dict() if self.run else None,
            "edges": [{"origin": e.src, "destination": e.dst, "kind": e.kind} for e in self.edges],
        }


def link(
    repo: Repo,
    sources: Sequence[str],
    target: str,
    *,
    transform: str | None = None,
    params: Mapping[str, str] | None = None,
) -> LinkResult:
    """Record that ``target`` was made from ``sources``.

    With a transform name (or parameters) the link is a run of kind ``link``: sources → run →
    target. Without, each source gets a ``derived_from`` edge to the target.

    Raises:
        CycleError: the target is already upstream of a source (or is one).
    """
    if not sources:
        raise UsageError("nothing to link from", hint="pass --from REF (repeatable)")
    if transform is not None:
        check_asset_name(transform)
    checked = check_params(params or {})
    catalog = repo.catalog
    s = LineageStore(catalog)
    with repo.lock():
        dst = resolve_live(repo, target, action="link")
        srcs = list(
            {v.id: v for v in (resolve_live(repo, r, action="link") for r in sources)}.values()
        )
        for v in srcs:
            if s.is_upstream(dst.id, of=v.id):
                raise CycleError(
                    f"cannot link {v.label} → {dst.label}: {dst.label} is "
                    + ("the same version" if v.id == dst.id else f"already upstream of {v.label}"),
                    hint="a version cannot be its own ancestor",
                )
        run: Run | None = None
        if transform is not None or checked:
            pending = PendingRun(transform=transform or "external", kind="link", params=checked)
            now = utc_now()
            run = Run(
                id=pending.id,
                kind="link",
                transform=pending.transform,
                status="succeeded",
                exit_code=None,
                command=(),
                shell=False,
                cwd=".",
                started_at=now,
                ended_at=now,
                params=checked,
                author=author(),
            )
            edges = [Edge(v.id, run.id, "input") for v in srcs] + [Edge(run.id, dst.id, "output")]
        else:
            edges = [Edge(v.id, dst.id, "derived_from") for v in srcs]
        with repo.change("link", dst.label) as tx:
            if run is not None:
                s.insert_run(run)
            s.insert_edges(edges)
            tx.audit(
                details={
                    "from": [v.label for v in srcs],
                    "run": run.id if run is not None else None,
                },
                record=("run", run.id) if run is not None else ("derivation", dst.id),
            )
    return LinkResult(tuple(srcs), dst, run, tuple(edges))
