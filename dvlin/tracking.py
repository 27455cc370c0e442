"""``dvlin.track``: record a run from inside a Python program, as ``dvlin run`` would.

    with dvlin.track("train", inputs=["user_daily@v5"],
                     outputs={"models/fraud.pt": "fraud-detector"}, params={"lr": 0.01}) as run:
        ...
        run.log_metric("auc", 0.91)

On a clean exit the outputs are committed and linked to the run in one transaction; when the
block raises, a failed run (with the error) is recorded, nothing is committed, and the
exception goes on. (The module is ``tracking``, not ``track``: a submodule named ``track``
would shadow the function ``dvlin.track`` once imported.)
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from dvlin.errors import UsageError

if TYPE_CHECKING:
    from dvlin.catalog import Version
    from dvlin.ops.run import PendingRun, RunResult
    from dvlin.repo import Repo


class TrackedRun:
    """The handle a ``with dvlin.track(...)`` block gets: its id, metrics, and afterwards its
    result."""

    def __init__(self, pending: PendingRun) -> None:
        self._pending = pending
        self.result: RunResult | None = None
        """What was recorded, once the block has ended."""

    @property
    def id(self) -> str:
        """The run id (``r-…``)."""
        return self._pending.id

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics logged so far."""
        return dict(self._pending.metrics)

    def log_metric(self, key: str, value: float) -> None:
        """Record a metric (the last value logged for a key wins)."""
        if not key or not isinstance(key, str):
            raise UsageError("a metric needs a name", hint='e.g. run.log_metric("auc", 0.91)')
        number = float(value)
        if not math.isfinite(number):
            raise UsageError(f"metric {key} is not a finite number: {value!r}")
        self._pending.metrics[key] = number

    def log_param(self, key: str, value: object) -> None:
        """Record a parameter learnt while running."""
        if not key:
            raise UsageError("a parameter needs a name")
        self._pending.params[key] = str(value)


# Versions read through ``dvlin://`` while a ``track`` block runs, per open block. A plain
# list under a lock, not a context variable: pyarrow opens files from its own threads.
_READS_LOCK = threading.Lock()
_READS: list[list[tuple[str, Version]]] = []


def note_read(repo_root: os.PathLike[str] | str, version: Version) -> None:
    """Record that ``version`` of the repo at ``repo_root`` was read (``dvlin.fs`` calls this)."""
    with _READS_LOCK:
        for reads in _READS:
            reads.append((os.fspath(repo_root), version))


@contextlib.contextmanager
def _recording_reads() -> Iterator[list[tuple[str, Version]]]:
    reads: list[tuple[str, Version]] = []
    with _READS_LOCK:
        _READS.append(reads)
    try:
        yield reads
    finally:
        with _READS_LOCK:
            _READS.remove(reads)


def _add_reads(repo: Repo, pending: PendingRun, reads: list[tuple[str, Version]]) -> None:
    known = {v.id for v in pending.inputs}
    for root, version in reads:
        if root == os.fspath(repo.root) and version.id not in known:
            known.add(version.id)
            pending.inputs.append(version)


@contextlib.contextmanager
def track(
    transform: str,
    *,
    inputs: Sequence[str] = (),
    outputs: Mapping[str, str] | Sequence[str] = (),
    params: Mapping[str, object] | None = None,
    repo: Repo | str | os.PathLike[str] | None = None,
    commit_inputs: bool = False,
    kind: str | None = None,
) -> Iterator[TrackedRun]:
    """Record the ``with`` block as a run of ``transform``.

    Args:
        inputs: refs (``user_daily@v5``) or tracked paths, resolved before the block runs.
        outputs: ``{path: asset}`` (or ``PATH[:ASSET]`` strings), committed after it.
        repo: a :class:`~dvlin.Repo` or a path in one (default: the working folder's repo).
        kind: the kind of new output assets (``model`` for a trained model).
    """
    from dvlin.ops.common import check_asset_name
    from dvlin.ops.run import (
        PendingRun,
        check_outputs,
        check_params,
        cwd_in,
        parse_output,
        record_run,
        resolve_inputs,
    )
    from dvlin.provenance import environment, git_info
    from dvlin.repo import Repo

    check_asset_name(transform)
    own = not isinstance(repo, Repo)
    r = Repo.open(repo if repo is not None else ".") if not isinstance(repo, Repo) else repo
    try:
        texts = (
            [f"{p}:{a}" for p, a in outputs.items()]
            if isinstance(outputs, Mapping)
            else list(outputs)
        )
        specs = [parse_output(r, t, kind=kind) for t in texts]
        check_outputs(specs)
        pending = PendingRun(
            transform=transform,
            kind="track",
            command=tuple(getattr(sys, "orig_argv", sys.argv)),
            cwd=cwd_in(r),
            params=check_params(params or {}),
            outputs=specs,
        )
        pending.inputs = resolve_inputs(r, inputs, commit_inputs=commit_inputs)
        pending.spec = {
            "inputs": [v.asset for v in pending.inputs],
            "outputs": [s.to_text() for s in specs],
        }
        pending.code = git_info(os.getcwd())
        pending.env = environment()
        handle = TrackedRun(pending)
        with _recording_reads() as reads:
            try:
                yield handle
            except BaseException as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                code = 130 if isinstance(exc, KeyboardInterrupt) else 1
                _add_reads(r, pending, reads)
                handle.result = record_run(r, pending, exit_code=code, error=error)
                raise
            _add_reads(r, pending, reads)
        handle.result = record_run(r, pending, exit_code=0, error=None)
    finally:
        if own:
            r.close()
