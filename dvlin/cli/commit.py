"""``dvlin commit``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.render.output import human_bytes
from dvlin.render.text import plural, quote


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
    from dvlin.ops.commit_early import start_cutting

    start_cutting(paths)  # before pyarrow and the catalog load: a big file's cuts start now
    from dvlin.errors import CheckFailedError
    from dvlin.ops.commit import commit as commit_paths
    from dvlin.ops.common import parse_key_values

    out = output(json, quiet)
    metadata = parse_key_values(meta, flag="--meta")
    with open_repo() as repo:
        try:
            result = commit_paths(
                repo,
                paths,
                name=name,
                message=message,
                kind=kind,
                tags=tag,
                meta=metadata,
                progress=out.progress(),
                force=force,
                reason=reason,
                overlap=allow_overlap,
                follow_links=follow_links,
            )
        except CheckFailedError as exc:  # ops.check is imported only when a contract ran
            from dvlin.ops.check import PolicyViolation

            if not isinstance(exc, PolicyViolation):
                raise
            from dvlin.render.checks import results_table

            out.line(f"✗ {quote(exc.message, marks=False)}")
            out.print(results_table(exc.check.failures, status=False))
            raise
    if out.json:
        out.emit_json(result.to_dict())
        return
    v = result.version
    if not result.created:
        out.line(f"nothing to commit: {quote(v.label)} {v.id[:10]} already holds this tree")
        return
    c = result.diff.counts()
    out.line(
        f"→ {quote(v.label)}  {v.id[:10]}  {plural(v.files, 'file')}  {human_bytes(v.bytes)}  "
        f"(+{c['added']} ~{c['changed']} -{c['removed']}; "
        f"stored {human_bytes(result.new_bytes)} new)"
    )
    override = v.info.override
    if override is not None:
        out.line(f"{plural(override.failed, 'failed rule')} overridden: {quote(override.reason)}")
