"""``dvlin stale`` and ``dvlin repro``: versions built from inputs that have newer versions,
and re-running the recorded transforms that bring them up to date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.catalog import Version
from dvlin.catalog.runs import LineageStore, Run, is_run_id
from dvlin.errors import NotFoundError, UsageError
from dvlin.ops.refs import resolve, resolve_asset
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.ops.run import RunResult, Sink
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class StaleInput:
    """``version`` was built from ``input``; its asset is now at ``newest``."""

    version: Version
    input: Version
    newest: Version
    via: str | None
    """The producing run, or None for a hand-recorded ``derived_from`` link."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of one stale input."""
        return {
            "version": self.version.label,
            "version_id": self.version.id,
            "input": self.input.label,
            "input_id": self.input.id,
            "newest": self.newest.label,
            "newest_id": self.newest.id,
            "run": self.via,
        }


def _sources(s: LineageStore, version_id: str) -> tuple[Run | None, list[str]]:
    """The producing run of a version and the versions it was made from."""
    run_id = s.producers([version_id]).get(version_id)
    run = s.run(run_id) if run_id else None
    srcs = [e.src for e in s.edges_into(run_id) if not is_run_id(e.src)] if run_id else []
    srcs += [e.src for e in s.edges_into(version_id) if e.kind == "derived_from"]
    return run, srcs


def stale(repo: Repo, names: Sequence[str] = ()) -> list[StaleInput]:
    """For the newest version of each asset (or of ``names``): inputs that have newer
    versions. An input of the asset's own kind (a run that rewrites its input) is skipped."""
    catalog = repo.catalog
    s = LineageStore(catalog)
    wanted = list(names) or catalog.asset_names()
    found: list[StaleInput] = []
    for name in wanted:
        if "@" in name:
            latest = resolve(repo, name)
        else:
            newest = catalog.latest_version(resolve_asset(repo, name))
            if newest is None:
                raise NotFoundError(f"asset {name!r} has no versions", hint="commit it first")
            latest = newest
        run, srcs = _sources(s, latest.id)
        versions = s.versions(srcs)
        for src in sorted(versions.values(), key=lambda v: v.label):
            if src.asset == latest.asset:
                continue
            newest = catalog.latest_version(src.asset)
            if newest is not None and newest.number > src.number:
                found.append(StaleInput(latest, src, newest, run.id if run else None))
    return found


@sealed
@dataclass(frozen=True, slots=True)
class ReproStep:
    """One recorded run to execute again, and the versions it will replace."""

    run: Run
    outputs: tuple[str, ...]
    reason: str

    @property
    def manual(self) -> bool:
        """True when dvlin cannot execute it again (a link, a script, a registration)."""
        return self.run.kind != "run" or not self.run.command

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of one step."""
        return {
            "run": self.run.id,
            "manual": self.manual,
            "transform": self.run.transform,
            "command": list(self.run.command),
            "outputs": list(self.outputs),
            "reason": self.reason,
        }


@sealed
@dataclass(frozen=True, slots=True)
class ReproResult:
    """The plan for bringing a version up to date, and (unless a dry run) the new runs."""

    target: Version
    steps: tuple[ReproStep, ...]
    dry_run: bool
    results: tuple[RunResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True unless a re-run failed."""
        return all(r.ok for r in self.results)

    @property
    def rebuilt(self) -> Version | None:
        """The target asset's version that the re-runs made (None on a dry run or failure)."""
        found = None
        for r in self.results:
            for o in r.outputs:
                if o.version.asset == self.target.asset:
                    found = o.version
        return found

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin repro``."""
        return {
            "target": self.target.label,
            "rebuilt": self.rebuilt.label if self.rebuilt is not None else None,
            "dry_run": self.dry_run,
            "up_to_date": not self.steps,
            "steps": [st.to_dict() for st in self.steps],
            "runs": [r.to_dict() for r in self.results],
        }


def plan(repo: Repo, ref: str) -> tuple[Version, list[ReproStep]]:
    """The runs to re-execute, upstream first, so that ``ref`` is built from the newest
    version of every input (and of their inputs, recursively)."""
    catalog = repo.catalog
    s = LineageStore(catalog)
    target = resolve(repo, ref)
    steps: list[ReproStep] = []
    memo: dict[str, bool] = {}

    def outdated(version: Version) -> bool:
        if version.id in memo:
            return memo[version.id]
        memo[version.id] = False  # a guard while this version is being looked at
        run, srcs = _sources(s, version.id)
        reasons: list[str] = []
        for src in sorted(s.versions(srcs).values(), key=lambda v: v.label):
            if src.asset == version.asset:
                continue  # a run that rewrites its own input
            newest = catalog.latest_version(src.asset) or src
            if newest.id != src.id:
                reasons.append(f"{src.label} → {newest.label}")
            if outdated(newest):
                reasons.append(f"{newest.asset} is rebuilt")
        if reasons and run is not None:
            outputs = tuple(
                v.label for v in s.versions(e.dst for e in s.edges_from(run.id)).values()
            )
            if not any(st.run.id == run.id for st in steps):
                steps.append(ReproStep(run, tuple(sorted(outputs)), "; ".join(reasons)))
        memo[version.id] = bool(reasons) and run is not None
        return memo[version.id]

    outdated(target)
    return target, steps


def repro(
    repo: Repo,
    ref: str,
    *,
    dry_run: bool = False,
    on_stdout: Sink | None = None,
    on_stderr: Sink | None = None,
) -> ReproResult:
    """Re-execute the recorded runs that bring ``ref`` up to date, each as a new recorded run.

    Before a step runs, each input asset's folder is checked out at its newest version (a
    folder with uncommitted changes stops it, as ``dvlin checkout`` would). Stops at the
    first failing step.

    Raises:
        UsageError: a needed run was not made by ``dvlin run`` (a link, a script, a model
            registration), so dvlin cannot execute it again.
    """
    from dvlin.ops.checkout import checkout
    from dvlin.ops.run import run as run_

    target, steps = plan(repo, ref)
    if dry_run or not steps:
        return ReproResult(target, tuple(steps), dry_run)
    for st in steps:
        if st.manual:
            raise UsageError(
                f"{', '.join(st.outputs) or st.run.short} comes from {st.run.transform} "
                f"{st.run.short}, recorded by {st.run.kind}: dvlin cannot re-run it",
                hint="re-run that step yourself, then `dvlin repro` the rest",
            )
    s = LineageStore(repo.catalog)
    results: list[RunResult] = []
    for st in steps:
        inputs: list[str] = []
        for e in s.edges_into(st.run.id):
            old = repo.catalog.version(e.src)
            if old is None:
                continue
            newest = repo.catalog.latest_version(old.asset) or old
            if repo.catalog.workspace_version(newest.asset) != newest.id:
                checkout(repo, newest.label)
            inputs.append(newest.label)
        outputs = []
        for text in st.run.spec.get("outputs", []):
            path, _, asset = str(text).rpartition(":")
            outputs.append(f"{repo.root / path}:{asset}")
        result = run_(
            repo,
            st.run.command,
            transform=st.run.transform,
            inputs=inputs,
            outputs=outputs,
            params=st.run.params,
            shell=st.run.shell,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            cwd=repo.root / st.run.cwd,
        )
        results.append(result)
        if not result.ok:
            break
    return ReproResult(target, tuple(steps), False, tuple(results))
