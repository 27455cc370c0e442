"""``dvlin run``: execute a transform and record it — inputs → run → outputs — in the DAG.

The user's command runs without the repo lock; only recording takes it. Outputs are
prepared (objects written and flushed) first, then the run, its edges and every output
version go into the catalog in one transaction: a crash leaves all of it or none of it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.catalog import Version
from dvlin.catalog.runs import RUN_PREFIX, Edge, LineageStore, Run
from dvlin.errors import DvlinError, UsageError
from dvlin.identity import author, utc_now
from dvlin.ops import lock
from dvlin.ops.common import check_asset_name, check_kind
from dvlin.ops.inputs import resolve_inputs as resolve_inputs
from dvlin.process import Sink as Sink
from dvlin.process import execute
from dvlin.provenance import environment, git_info
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.audit.change import Change
    from dvlin.ops.commit import CommitResult, PreparedCommit
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class OutputSpec:
    """Where an output is (paths relative to the repo root) and the asset it becomes."""

    paths: tuple[str, ...]
    asset: str
    kind: str | None = None

    def to_text(self) -> str:
        """``PATH:ASSET`` as ``-o`` takes it (one path)."""
        return f"{self.paths[0]}:{self.asset}"


@sealed
@dataclass(frozen=True, slots=True)
class RunResult:
    """A recorded run, the versions it read, and what committing its outputs did."""

    run: Run
    inputs: tuple[Version, ...]
    outputs: tuple[CommitResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the run succeeded and its outputs were committed."""
        return self.run.status == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``dvlin run``."""
        return {
            "run": self.run.to_dict(),
            "inputs": [{"label": v.label, "id": v.id} for v in self.inputs],
            "outputs": [
                {"label": o.version.label, "id": o.version.id, "created": o.created}
                for o in self.outputs
            ],
        }


@dataclass
class PendingRun:
    """A run being built: what ``dvlin run``, ``dvlin.track`` and ``model register`` share."""

    transform: str
    kind: str
    command: tuple[str, ...] = ()
    shell: bool = False
    cwd: str = "."
    params: dict[str, str] = field(default_factory=dict)
    inputs: list[Version] = field(default_factory=list)
    outputs: list[OutputSpec] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    id: str = field(default_factory=lambda: RUN_PREFIX + uuid.uuid4().hex)
    started_at: str = field(default_factory=utc_now)
    code: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)


# -- arguments --------------------------------------------------------------------------------


def parse_output(repo: Repo, text: str, *, kind: str | None = None) -> OutputSpec:
    """Parse ``PATH[:ASSET]``; the asset defaults to the path relative to the repo root."""
    path, sep, asset = text.rpartition(":")
    if not sep:
        path, asset = text, ""
    if not path.strip() or (sep and not asset.strip()):
        raise UsageError(
            f"bad output {text!r}: expected PATH or PATH:ASSET",
            hint="e.g. -o features/user_daily:user_daily",
        )
    rel = repo.relpath(path)
    if rel in ("", "."):
        raise UsageError(
            f"bad output {text!r}: the repo root cannot be an output",
            hint="name a file or folder inside the repo",
        )
    from dvlin.ops.refs import asset_for_paths

    # Without :ASSET a path that an asset owns (by contract or an earlier commit) is that asset.
    name = asset or asset_for_paths(repo, [rel], name=None) or rel
    try:
        check_asset_name(name)
    except UsageError as exc:
        raise UsageError(f"bad output {text!r}: {exc.message}", hint=exc.hint) from None
    if kind is not None:
        check_kind(kind)
    return OutputSpec((rel,), name, kind)


def check_outputs(specs: Sequence[OutputSpec]) -> None:
    """Refuse two outputs with one asset name, or one output path inside another."""
    seen: dict[str, OutputSpec] = {}
    for s in specs:
        if s.asset in seen:
            raise UsageError(f"asset {s.asset} is named by two outputs", hint="give each its own")
        seen[s.asset] = s
    paths = [p for s in specs for p in s.paths]
    for a in paths:
        for b in paths:
            if a != b and b.startswith(a + "/"):
                raise UsageError(f"output {b} is inside output {a}", hint="name the outer one")
    if len(paths) != len(set(paths)):
        raise UsageError("the same path is named by two outputs", hint="give each its own")


def check_params(params: Mapping[str, object]) -> dict[str, str]:
    """Parameters as strings, with non-empty keys."""
    out: dict[str, str] = {}
    for k, v in params.items():
        if not str(k).strip():
            raise UsageError("a parameter needs a name", hint="e.g. --param window=7d")
        out[str(k)] = str(v)
    return out


def run(
    repo: Repo,
    command: Sequence[str],
    *,
    transform: str | None = None,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    params: Mapping[str, str] | None = None,
    shell: bool = False,
    commit_inputs: bool = False,
    checkout_inputs: bool = False,
    on_stdout: Sink | None = None,
    on_stderr: Sink | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Execute ``command`` and record the run; on success commit ``outputs`` as new versions.

    The command runs in ``cwd`` (default: the working folder); relative paths in
    ``inputs`` and ``outputs`` are relative to the working folder, as on the command line.

    Raises:
        UsageError: no command, a bad ``-o`` spec or parameter.
        NotFoundError: an unknown input ref or untracked input path.
        ConflictError: an input path with uncommitted changes, an input ref whose version
            the asset's folder does not hold (unless ``checkout_inputs`` checks it out), or
            an expired input.
    """
    if not command or not command[0]:
        raise UsageError(
            "no command to run", hint="put it after --: dvlin run -o out -- python make.py"
        )
    specs = [parse_output(repo, o) for o in outputs]
    check_outputs(specs)
    pending = PendingRun(
        transform=transform or _default_transform(command, shell=shell),
        kind="run",
        command=tuple(command),
        shell=shell,
        cwd=cwd_in(repo, cwd),
        params=check_params(params or {}),
        outputs=specs,
    )
    if transform is not None:
        check_asset_name(transform)
    pending.inputs = resolve_inputs(
        repo,
        inputs,
        commit_inputs=commit_inputs,
        in_workspace=True,
        checkout_inputs=checkout_inputs,
    )
    pending.spec = {
        "inputs": [v.asset for v in pending.inputs],
        "outputs": [s.to_text() for s in specs],
    }
    pending.code = git_info(cwd or os.getcwd())
    pending.env = environment()
    pending.started_at = utc_now()
    env = {**os.environ, "DVLIN_RUN_ID": pending.id}
    try:
        code, error = execute(
            command, shell=shell, env=env, on_stdout=on_stdout, on_stderr=on_stderr, cwd=cwd
        )
    except KeyboardInterrupt:
        record_run(repo, pending, exit_code=130, error="interrupted")
        raise
    return record_run(repo, pending, exit_code=code, error=error)


def _default_transform(command: Sequence[str], *, shell: bool) -> str:
    first = command[0].split()[0] if shell and command[0].split() else command[0]
    return os.path.basename(first) or "run"


def cwd_in(repo: Repo, cwd: str | os.PathLike[str] | None = None) -> str:
    """The folder a command runs in, relative to the repo root (``.`` when outside it)."""
    try:
        return repo.relpath(cwd or os.getcwd()) or "."
    except UsageError:
        return "."


# -- recording --------------------------------------------------------------------------------


def record_run(
    repo: Repo,
    pending: PendingRun,
    *,
    exit_code: int | None,
    error: str | None,
    inside: Callable[[tuple[CommitResult, ...], Change], None] | None = None,
) -> RunResult:
    """Record ``pending`` as finished: on success commit its outputs, all in one transaction.

    ``inside`` runs in the same unit of work after the outputs are recorded (model stages).
    A failed run is recorded with its input edges and no outputs. When an output cannot be
    committed (a path the command did not create), the run is recorded as failed and the
    error is raised.
    """
    from dvlin.faults import BEFORE_CATALOG, pause_point
    from dvlin.ops.commit import prepare
    from dvlin.ops.commit import record as record_commit
    from dvlin.ops.commit_request import CommitRequest

    failure: DvlinError | None = None
    succeeded = exit_code == 0 and error is None
    s = LineageStore(repo.catalog)
    with repo.lock():
        prepared: list[PreparedCommit] = []
        if succeeded:
            try:
                for o in pending.outputs:
                    prepared.append(
                        prepare(
                            repo,
                            CommitRequest.parse(
                                repo,
                                [repo.root / p for p in o.paths],
                                name=o.asset,
                                kind=o.kind,
                                message=f"{pending.transform} {pending.id[:10]}",
                                meta={"run": pending.id},
                            ),
                        )
                    )
            except DvlinError as exc:
                failure = exc
                prepared = []
                succeeded = False
                error = f"output not committed: {exc.message}"
        run = Run(
            id=pending.id,
            kind=pending.kind,
            transform=pending.transform,
            status="succeeded" if succeeded else "failed",
            exit_code=exit_code,
            command=pending.command,
            shell=pending.shell,
            cwd=pending.cwd,
            started_at=pending.started_at,
            ended_at=utc_now(),
            params=pending.params,
            metrics=pending.metrics,
            code=pending.code,
            env=pending.env,
            spec=pending.spec,
            author=author(),
            error=error,
        )
        if prepared:
            pause_point(BEFORE_CATALOG)
        with repo.change("run", run.id) as tx:
            s.insert_run(run)
            s.insert_edges(Edge(v.id, run.id, "input") for v in pending.inputs)
            results = tuple(record_commit(repo, p, tx) for p in prepared)
            out_edges = []
            for r in results:
                # An unchanged output is an existing version: link it to this run too (the
                # run reproduced it) unless it is upstream of the run — that would be a cycle.
                if r.created or not s.is_upstream(r.version.id, of=run.id):
                    out_edges.append(Edge(run.id, r.version.id, "output"))
            s.insert_edges(out_edges)
            # After the outputs, so the entry commits to the run with all its edges.
            tx.audit(
                outcome=run.status,
                details={
                    "transform": run.transform,
                    "exit_code": run.exit_code,
                    "inputs": [v.label for v in pending.inputs],
                },
                record=("run", run.id),
            )
            if inside is not None:
                inside(results, tx)
        if results:
            lock.sync(repo)  # dvlin.lock names the outputs now in the workspace
    if failure is not None:
        raise failure
    return RunResult(run, tuple(pending.inputs), results)
