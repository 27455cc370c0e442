"""``dvlin lineage``, ``dvlin stale`` and ``dvlin repro``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.cli.complete import complete_ref
from dvlin.errors import CommandFailedError
from dvlin.render.text import quote

if TYPE_CHECKING:
    from rich.tree import Tree

    from dvlin.ops.lineage import Provenance, TreeItem


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
    from dvlin.ops.lineage import check_format, trace

    if sum((upstream, downstream, both)) > 1:
        raise UsageError(
            "choose one of --upstream, --downstream, --both", hint="--both shows the two"
        )
    check_format(fmt)
    out = output(False, quiet)
    with open_repo() as repo:
        result = trace(
            repo,
            ref,
            direction="downstream" if downstream else "both" if both else "upstream",
            depth=depth,
            fmt="json" if json else fmt,
            namespace=namespace,
        )
    if quiet:
        return
    if result.tree is not None and out.is_terminal:
        out.print(_rich_tree(result.tree))
        return
    text = result.text
    if result.fmt == "tree":  # names, transforms and commands in it are user text
        text = "\n".join(quote(line, marks=False) for line in text.split("\n"))
    out.stdout.write(text)


def _rich_tree(item: TreeItem) -> Tree:
    from rich.text import Text
    from rich.tree import Tree

    def add(parent: Tree, child: TreeItem) -> None:
        style = "dim" if child.repeated else ("bold" if child.node is None else "")
        branch = parent.add(Text(quote(child.text, marks=False), style=style))
        for c in child.children:
            add(branch, c)

    root = Tree(Text(quote(item.text, marks=False), style="bold"))
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
            f"{quote(s.version.label)} built from {quote(s.input.label)}; "
            f"{quote(s.input.asset)} is now "
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
        out.line(f"{quote(result.target.label)} is up to date with its inputs")
    elif result.dry_run:
        for st in result.steps:
            manual = f" [manual: recorded by {st.run.kind}]" if st.manual else ""
            out.line(
                f"would re-run {quote(st.run.transform)} {st.run.short} ({quote(st.reason)}); "
                f"replaces {', '.join(quote(o) for o in st.outputs) or '—'}{manual}"
            )
    else:
        # The versions printed are the ones the re-runs made, never those they replace.
        for st, r in zip(result.steps, result.results, strict=False):
            outs = ", ".join(
                quote(o.version.label) + ("" if o.created else " (unchanged)") for o in r.outputs
            )
            out.line(
                f"re-ran {quote(st.run.transform)} ({quote(st.reason)}) → run {r.run.short}  "
                f"exit {r.run.exit_code}  {outs or '—'}"
            )
        if result.rebuilt is not None:
            out.line(f"{quote(result.target.asset)} is now {quote(result.rebuilt.label)}")
    if not result.ok:
        failed = next(r for r in result.results if not r.ok)
        raise CommandFailedError(
            f"run {failed.run.short} failed: {failed.run.error or ''}; stopped",
            code=failed.run.exit_code,
            report=result,
        )


def provenance_rows(prov: Provenance) -> list[tuple[str, str]]:
    """The lineage lines of ``dvlin show``: producing run, its inputs, the consumers."""
    r = prov.produced_by
    made = f"run {quote(r.transform)} {r.short} ({r.status})" if r else "— (committed by hand)"
    return [
        ("made by", made),
        ("inputs", ", ".join(quote(i) for i in prov.inputs) or "—"),
        ("used by", ", ".join(quote(c) for c in prov.consumers) or "—"),
    ]
