"""``dvlin audit log``, ``dvlin audit verify`` and ``dvlin audit head``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.render.output import short_time
from dvlin.render.text import plural, quote

audit_app = typer.Typer(
    help="The tamper-evident audit log of every change to the catalog.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(audit_app, name="audit")


@audit_app.command("log")
def audit_log(
    asset: str = typer.Option(None, "--asset", help="Only entries about this asset."),
    action: str = typer.Option(None, "--action", help="Only this action (commit, tag, …)."),
    since: str = typer.Option(None, "--since", help="Only entries at or after this UTC date."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """List audit entries in order: sequence, time, actor, action, target, outcome, reason."""
    from dvlin.audit.log import entries

    out = output(json, quiet)
    with open_repo() as repo:
        found = entries(repo.catalog, asset=asset, action=action, since=since)
    if out.json:
        out.emit_json([e.to_dict() for e in found])
        return
    if not found:
        out.line("no audit entries")
    for e in found:
        reason = f"  reason: {quote(e.reason)}" if e.reason else ""
        out.line(
            f"{e.seq:>6}  {short_time(e.at)}  {quote(e.actor)}  {e.action}  {quote(e.target)}  "
            f"{e.outcome}{reason}"
        )


@audit_app.command("verify")
def audit_verify(
    expect_head: str = typer.Option(
        None,
        "--expect-head",
        metavar="SEQ:HASH",
        help="Also prove the log still reaches this head (nothing cut off the end).",
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Recompute the hash chain; exit 1 at the first edited, removed, inserted or moved entry."""
    from dvlin.audit.log import verify

    out = output(json, quiet)
    with open_repo() as repo:
        result = verify(repo.catalog, expect_head=expect_head)
    if out.json:
        out.emit_json(result.to_dict())
    elif result.ok:
        out.line(
            f"✓ {plural(result.entries, 'entry', 'entries')}, chain intact, head {result.head}"
        )
    else:
        typer.echo(typer.style("✗ ", fg="red") + quote(str(result.problem), marks=False), err=True)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("head")
def audit_head(json: bool = JSON) -> None:
    """Print the head of the log as SEQ:HASH, for CI logs to anchor."""
    from dvlin.audit.log import verify

    out = output(json, False)
    with open_repo() as repo:
        result = verify(repo.catalog)
    if out.json:
        out.emit_json({"head": result.head, "seq": result.head_seq, "hash": result.head_hash})
    else:
        out.line(result.head)
