"""``dvlin model``: register trained models with their lineage, metrics and stages."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.audit.records import stage_record
from dvlin.catalog import Version
from dvlin.catalog.runs import LineageStore, Run, StageChange
from dvlin.errors import UsageError
from dvlin.identity import author, utc_now
from dvlin.ops.common import check_asset_name
from dvlin.ops.inputs import resolve_inputs
from dvlin.ops.refs import check_live, resolve
from dvlin.ops.run import (
    OutputSpec,
    PendingRun,
    RunResult,
    check_params,
    record_run,
)
from dvlin.provenance import environment, git_info
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.audit.change import Change
    from dvlin.ops.commit import CommitResult
    from dvlin.repo import Repo

STAGES = ("staging", "production", "archived")


def check_stage(stage: str) -> str:
    """Validate a stage name."""
    if stage not in STAGES:
        raise UsageError(f"unknown stage {stage!r}", hint=f"one of: {', '.join(STAGES)}")
    return stage


def parse_metrics(metrics: Mapping[str, object]) -> dict[str, float]:
    """Metric values as finite floats."""
    out: dict[str, float] = {}
    for k, v in metrics.items():
        try:
            number = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise UsageError(
                f"metric {k} is not a number: {v!r}", hint="e.g. --metric auc=0.91"
            ) from None
        if not math.isfinite(number):
            raise UsageError(f"metric {k} is not a finite number: {v!r}", hint="e.g. auc=0.91")
        out[str(k)] = number
    return out


@sealed
@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A model version with its stage, the run that registered or trained it, and its data."""

    version: Version
    stage: str | None
    run: Run | None
    trained_on: tuple[str, ...]
    history: tuple[StageChange, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin model show``."""
        r = self.run
        return {
            "model": self.version.asset,
            "label": self.version.label,
            "id": self.version.id,
            "number": self.version.number,
            "created_at": self.version.created_at,
            "author": self.version.author,
            "stage": self.stage,
            "metrics": r.metrics if r else {},
            "params": r.params if r else {},
            "run": r.id if r else None,
            "trained_on": list(self.trained_on),
            "stages": [
                {"stage": c.stage, "author": c.author, "created_at": c.created_at}
                for c in self.history
            ],
        }


def register(
    repo: Repo,
    paths: Sequence[str | os.PathLike[str]],
    *,
    name: str,
    trained_on: Sequence[str] = (),
    metrics: Mapping[str, object] | None = None,
    params: Mapping[str, object] | None = None,
    stage: str | None = None,
    transform: str | None = None,
) -> tuple[RunResult, ModelVersion]:
    """Commit model file(s) as a version of kind ``model``, linked to its training data by a
    ``register`` run that carries the metrics and parameters, with an optional first stage."""
    if not paths:
        raise UsageError("no model files given", hint="e.g. dvlin model register models/m.pt")
    check_asset_name(name)
    if stage is not None:
        check_stage(stage)
    kind = repo.catalog.get_asset_kind(name)
    if kind is not None and kind != "model":
        raise UsageError(f"asset {name} is a {kind}, not a model", hint="choose another name")
    rels = tuple(repo.relpath(p) for p in paths)
    for p in paths:
        if not os.path.lexists(p):
            from dvlin.errors import NotFoundError

            raise NotFoundError(f"{p} does not exist", hint="check the path")
    pending = PendingRun(
        transform=transform or f"train-{name}",
        kind="register",
        params=check_params(params or {}),
        metrics=parse_metrics(metrics or {}),
        outputs=[OutputSpec(rels, name, "model")],
    )
    pending.inputs = resolve_inputs(repo, trained_on)
    pending.code = git_info(os.getcwd())
    pending.env = environment()
    s = LineageStore(repo.catalog)

    def set_first_stage(results: tuple[CommitResult, ...], tx: Change) -> None:
        if stage is not None:
            change = StageChange(results[0].version.id, stage, author(), utc_now())
            s.insert_stage(change)
            tx.audit(
                action="model-stage",
                target=results[0].version.label,
                actor=change.author,
                at=change.created_at,
                details={"stage": stage, "id": change.version},
                record=("stage", stage_record(repo.catalog, change.version).key),
            )

    result = record_run(repo, pending, exit_code=0, error=None, inside=set_first_stage)
    return result, show(repo, result.outputs[0].version.id)


def _model_version(repo: Repo, ref: str) -> Version:
    v = resolve(repo, ref)
    kind = repo.catalog.get_asset_kind(v.asset)
    if kind != "model":
        raise UsageError(
            f"{v.label} is a {kind}, not a model",
            hint="`dvlin model list` lists models",
        )
    return v


def show(repo: Repo, ref: str) -> ModelVersion:
    """A model version with its stage history, metrics, parameters and training data."""
    v = _model_version(repo, ref)
    s = LineageStore(repo.catalog)
    run_id = s.producers([v.id]).get(v.id)
    return _model(s, v, s.run(run_id) if run_id else None)


def _model(s: LineageStore, v: Version, run: Run | None) -> ModelVersion:
    """One model version, whole: what ``show`` prints and ``list`` lists alike."""
    inputs = [e.src for e in s.edges_into(run.id)] if run else []
    inputs += [e.src for e in s.edges_into(v.id) if e.kind == "derived_from"]
    versions = s.versions(inputs)
    history = tuple(s.stage_history(v.id))
    return ModelVersion(
        version=v,
        stage=history[-1].stage if history else None,
        run=run,
        trained_on=tuple(sorted(versions[i].label for i in inputs if i in versions)),
        history=history,
    )


def list_models(repo: Repo, name: str | None = None) -> list[ModelVersion]:
    """Every version of every model (or of one), newest first, with stages and metrics."""
    names = [a.name for a in repo.catalog.list_assets() if a.kind == "model"]
    if name is not None:
        names = [_model_version(repo, name).asset]
    s = LineageStore(repo.catalog)
    found: list[ModelVersion] = []
    for n in names:
        versions = repo.catalog.versions(n)
        producers = s.producers([v.id for v in versions])
        runs = s.runs(set(producers.values()))
        for v in versions:
            found.append(_model(s, v, runs.get(producers.get(v.id, ""))))
    return found


@sealed
@dataclass(frozen=True, slots=True)
class StageResult:
    """What ``dvlin model stage`` did: the stage change, on which version."""

    change: StageChange
    version: Version

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "version": self.version.label,
            "id": self.change.version,
            "stage": self.change.stage,
            "author": self.change.author,
            "created_at": self.change.created_at,
        }


def set_stage(repo: Repo, ref: str, stage: str) -> StageResult:
    """Move a model version to ``stage``; the change is recorded with who and when."""
    check_stage(stage)
    v = _model_version(repo, ref)
    if stage != "archived":
        check_live(repo, v, action=f"stage as {stage}")
    change = StageChange(v.id, stage, author(), utc_now())
    s = LineageStore(repo.catalog)
    with repo.change("model-stage", v.label) as tx:
        s.insert_stage(change)
        tx.audit(
            actor=change.author,
            at=change.created_at,
            details={"stage": stage, "id": v.id},
            record=("stage", stage_record(repo.catalog, v.id).key),
        )
    return StageResult(change, v)
