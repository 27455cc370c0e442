"""``dvlin lineage``, ``dvlin stale`` and ``dvlin repro``."""

from __future__ import annotations

import json as _json
from typing import TYPE_CHECKING

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.cli.complete import complete_ref

if TYPE_CHECKING:
    from rich.tree import Tree

    from dvlin.lineage.export import TreeItem
    from dvlin.lineage.graph import Direction
    from dvlin.ops.lineage import Provenance


@app.command()
def lineage(
    ref: str = typer.Argument(
        ..., help="A version (NAME, NAME@vN, id) or a run id (r-…).", autocompletion=complete_ref
    ),
    upstream: bool = typer.Option(
        False, "--upstream", "-u", help="Where it came from (the default)."
    ),
    downstream: bool = typer.Option(False, "--downstream", "-d", help="What was built from it."),
    both: bool = typer.Option(False, "--both", "-b", help="Upstream and downstream."),
    depth: int = typer.Option(None, "--depth", help="At most N edges away (default: no limit)."),
    fmt: str = typer.Option(
        "tree", "--format", "-f", help="tree, json, dot, mermaid or openlineage."
    ),
    namespace: str = typer.Option(
        "dvlin", "--namespace", help="OpenLineage job namespace (with --format openlineage)."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Trace a version or run: the runs and versions upstream and/or downstream of it."""
    from dvlin.errors import UsageError
    from dvlin.lineage.export import FORMATS, export, tree
    from dvlin.ops.lineage import lineage as lineage_

    if sum((upstream, downstream, both)) > 1:
        raise UsageError(
            "choose one of --upstream, --downstream, --both", hint="--both shows the two"
        )
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    if json:
        fmt = "json"
    direction: Direction = "downstream" if downstream else "both" if both else "upstream"
    out = output(False, quiet)
    with open_repo() as repo:
        if fmt == "openlineage":
            from dvlin.ops.lineage import openlineage

            events = openlineage(repo, ref, direction=direction, depth=depth, namespace=namespace)
            text = "".join(_json.dumps(e, sort_keys=True) + "\n" for e in events)
        else:
            lin = lineage_(repo, ref, direction=direction, depth=depth)
            text = export(lin, fmt)
    if quiet:
        return
    if fmt == "tree" and out.is_terminal:
        out.print(_rich_tree(tree(lin)))
        return
    out.stdout.write(text)


def _rich_tree(item: TreeItem) -> Tree:
    from rich.text import Text
    from rich.tree import Tree

    def add(parent: Tree, child: TreeItem) -> None:
        style = "dim" if child.repeated else ("bold" if child.node is None else "")
        branch = parent.add(Text(child.text, style=style))
        for c in child.children:
            add(branch, c)

    root = Tree(Text(item.text, style="bold"))
    for c in item.children:
        add(root, c)
    return root


@app.command()
def stale(
    names: list[str] = typer.Argument(None, help="Assets to look at (default: all)."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """List versions built from inputs that now have newer versions (exit 0 either way)."""
    from dvlin.ops.stale import stale as stale_

    out = output(json, quiet)
    with open_repo() as repo:
        found = stale_(repo, names or [])
    if out.json:
        out.emit_json([s.to_dict() for s in found])
        return
    if not found:
        out.line("everything is up to date with its inputs")
        return
    for s in found:
        out.line(
            f"{s.version.label} built from {s.input.label}; {s.input.asset} is now "
            f"@v{s.newest.number}"
        )
    out.line("hint: `dvlin repro NAME` re-runs the recorded transforms on the newest inputs")


@app.command()
def repro(
    ref: str = typer.Argument(..., help="The version to bring up to date (NAME = its newest)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", "-n", help="Show the runs that would execute; change nothing."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Re-run the recorded transforms REF was built by, on the newest input versions."""
    import sys

    from dvlin.cli.run import _sink
    from dvlin.ops.stale import repro as repro_

    out = output(json, quiet)
    with open_repo() as repo:
        result = repro_(
            repo,
            ref,
            dry_run=dry_run,
            on_stdout=_sink(sys.stderr if json else sys.stdout),
            on_stderr=_sink(sys.stderr),
        )
    if out.json:
        out.emit_json(result.to_dict())
    elif not result.steps:
        out.line(f"{result.target.label} is up to date with its inputs")
    else:
        verb = "would re-run" if result.dry_run else "re-ran"
        for st in result.steps:
            manual = f" [manual: recorded by {st.run.kind}]" if st.manual else ""
            out.line(
                f"{verb} {st.run.transform} {st.run.short} ({st.reason}) → "
                f"{', '.join(st.outputs)}{manual}"
            )
        for r in result.results:
            outs = ", ".join(o.version.label for o in r.outputs) or "—"
            out.line(f"→ run {r.run.short}  {r.run.transform}  exit {r.run.exit_code}  {outs}")
    if not result.ok:
        failed = next(r for r in result.results if not r.ok)
        typer.echo(
            typer.style("error: ", fg="red", bold=True)
            + f"run {failed.run.short} failed: {failed.run.error}; stopped",
            err=True,
        )
        raise typer.Exit(failed.run.exit_code or 1)


def provenance_rows(prov: Provenance) -> list[tuple[str, str]]:
    """The lineage lines of ``dvlin show``: producing run, its inputs, the consumers."""
    r = prov.produced_by
    made = f"run {r.transform} {r.short} ({r.status})" if r else "— (committed by hand)"
    return [
        ("made by", made),
        ("inputs", ", ".join(prov.inputs) or "—"),
        ("used by", ", ".join(prov.consumers) or "—"),
    ]
