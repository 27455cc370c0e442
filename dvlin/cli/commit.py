"""``dvlin commit``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, output
from dvlin.cli.short import run_commit


@app.command()
def commit(
    paths: list[str] = typer.Argument(..., help="Files and folders to snapshot."),
    name: str = typer.Option(None, "--name", "-n", help="Asset name (default: the path)."),
    message: str = typer.Option("", "--message", "-m", help="What changed and why."),
    kind: str = typer.Option(
        None, "--kind", help="dataset, features, embeddings or model (default: dataset)."
    ),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Tag the new version (repeatable)."),
    meta: list[str] = typer.Option(
        [], "--meta", help="Metadata KEY=VALUE (repeatable).", metavar="KEY=VALUE"
    ),
    force: bool = typer.Option(
        False, "--force", help="Commit even if the asset's contract fails (needs --reason)."
    ),
    reason: str = typer.Option(
        None, "--reason", help="Why the contract is overridden; stored with the version."
    ),
    allow_overlap: bool = typer.Option(
        False,
        "--allow-overlap",
        help="Let a path inside another asset's folder (or containing one) be its own asset.",
    ),
    follow_links: bool = typer.Option(
        False, "--follow-links", help="Snapshot what links out of the tree point at."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Snapshot files and folders as a new immutable version of an asset."""
    run_commit(
        output(json, quiet),
        paths,
        name=name,
        message=message,
        kind=kind,
        tags=tag,
        meta=meta,
        force=force,
        reason=reason,
        allow_overlap=allow_overlap,
        follow_links=follow_links,
    )
