"""``dvlin tag`` and ``dvlin tags``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.cli.complete import complete_asset, complete_ref
from dvlin.render.output import short_time
from dvlin.render.text import quote


@app.command()
def tag(
    ref: str = typer.Argument(..., help="The version to tag.", autocompletion=complete_ref),
    name: str = typer.Argument(..., help="Tag name; it then works as NAME@TAG."),
    retain: str = typer.Option(
        None,
        "--retain",
        metavar="DURATION",
        help="The tag's own maximum age for retention (e.g. 180d).",
    ),
    delete: bool = typer.Option(
        False, "--delete", "-d", help="Delete the tag instead (on purpose; audited)."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Name a version (tags never move; --delete removes one on purpose)."""
    out = output(json, quiet)
    if delete:
        from dvlin.cli.asset import delete_tag

        delete_tag(out, ref, name)
        return
    from dvlin.ops.tag import tag as tag_version

    with open_repo() as repo:
        result = tag_version(repo, ref, name, retain=retain)
    t = result.tag
    if out.json:
        out.emit_json(result.to_dict())
    else:
        out.line(f"tagged {quote(f'{t.asset}@v{t.number}')} as {quote(f'{t.asset}@{t.name}')}")


@app.command()
def tags(
    name: str = typer.Argument(
        None, help="Asset (default: every asset).", autocompletion=complete_asset
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """List tags (asset, tag, version, date, author)."""
    from dvlin.ops.tag import tags as list_tags

    out = output(json, quiet)
    with open_repo() as repo:
        found = list_tags(repo, name)
    if out.json:
        out.emit_json([t.to_dict() for t in found])
        return
    if not found:
        out.line("no tags")
    for t in (r.tag for r in found):
        out.line(
            f"{quote(f'{t.asset}@{t.name}')}  v{t.number}  {t.version[:10]}  "
            f"{short_time(t.created_at)}  {quote(t.author)}"
        )
