"""``dvlin run`` and ``dvlin link``: record transforms in the lineage DAG."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.errors import CommandFailedError
from dvlin.render.text import quote

PARAM = typer.Option(
    [], "--param", "-p", help="A parameter KEY=VALUE (repeatable).", metavar="KEY=VALUE"
)


def _sink(stream: IO[str]) -> Callable[[bytes], None]:
    def write(chunk: bytes) -> None:
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            buffer.write(chunk)
            buffer.flush()
        else:
            stream.write(chunk.decode(errors="replace"))
            stream.flush()

    return write


@app.command(context_settings={"allow_interspersed_args": False})
def run(
    command: list[str] = typer.Argument(None, help="The command and its arguments, after --."),
    name: str = typer.Option(
        None, "--name", "-n", help="Transform name (default: the program's name)."
    ),
    inputs: list[str] = typer.Option(
        [], "--input", "-i", help="Input: a ref (events@v2) or a tracked path (repeatable)."
    ),
    outputs: list[str] = typer.Option(
        [],
        "--output",
        "-o",
        help="Output PATH or PATH:ASSET, committed when the command succeeds (repeatable).",
    ),
    param: list[str] = PARAM,
    shell: bool = typer.Option(
        False, "--shell", help="Run the command through /bin/sh (never implied)."
    ),
    commit_inputs: bool = typer.Option(
        False, "--commit-inputs", help="Commit input paths with uncommitted changes first."
    ),
    checkout_inputs: bool = typer.Option(
        False,
        "--checkout-inputs",
        help="Check out each input ref whose folder holds another version first.",
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Run a command as a recorded transform: inputs → run → outputs, in one transaction.

    The command's exit code becomes dvlin's when it fails; no output is committed then.
    """
    from dvlin.ops.common import parse_key_values
    from dvlin.ops.run import run as run_

    out = output(json, quiet)
    params = parse_key_values(param, flag="--param")
    with open_repo() as repo:
        result = run_(
            repo,
            command or [],
            transform=name,
            inputs=inputs,
            outputs=outputs,
            params=params,
            shell=shell,
            commit_inputs=commit_inputs,
            checkout_inputs=checkout_inputs,
            # With --json, stdout carries the JSON document: the command's output goes to stderr.
            on_stdout=_sink(sys.stderr if json else sys.stdout),
            on_stderr=_sink(sys.stderr),
        )
    r = result.run
    if out.json:
        out.emit_json(result.to_dict())
    else:
        took = f"{r.duration:.1f} s" if r.duration is not None else "?"
        ins = ", ".join(quote(v.label) for v in result.inputs) or "—"
        outs = ", ".join(
            quote(o.version.label) + ("" if o.created else " (unchanged)") for o in result.outputs
        )
        out.line(
            f"→ run {r.short}  {quote(r.transform)}  exit {r.exit_code}  {took}   "
            f"inputs: {ins}   outputs: {outs or '—'}"
        )
    if not result.ok:
        raise CommandFailedError(
            f"run {r.short} failed: {r.error or ''}; no outputs committed",
            code=r.exit_code,
            report=result,
        )


@app.command()
def link(
    sources: list[str] = typer.Option(
        ..., "--from", help="A version the target was made from (repeatable)."
    ),
    target: str = typer.Option(..., "--to", help="The version that was made."),
    transform: str = typer.Option(
        None, "--transform", "-t", help="Name of the outside transform (records a run)."
    ),
    param: list[str] = PARAM,
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Record lineage for work done outside dvlin (a Spark job, a notebook)."""
    from dvlin.ops.common import parse_key_values
    from dvlin.ops.link import link as link_

    out = output(json, quiet)
    params = parse_key_values(param, flag="--param")
    with open_repo() as repo:
        result = link_(repo, sources, target, transform=transform, params=params)
    if out.json:
        out.emit_json(result.to_dict())
        return
    srcs = ", ".join(quote(v.label) for v in result.sources)
    via = f" via run {quote(result.run.transform)} {result.run.short}" if result.run else ""
    out.line(f"linked {srcs} → {quote(result.target.label)}{via}")
