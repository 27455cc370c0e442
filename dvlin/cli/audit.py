"""``dvlin audit log``, ``dvlin audit verify`` and ``dvlin audit head``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.render.output import short_time

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
    clones: bool = typer.Option(
        False, "--clones", help="Also other clones' entries (brought by fetch), with clone ids."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """List audit entries in order: sequence, time, actor, action, target, outcome, reason."""
    from dvlin.audit.log import entries

    out = output(json, quiet)
    with open_repo() as repo:
        found = entries(repo.catalog, asset=asset, action=action, since=since)
        if clones:
            from dvlin.audit.clones import clone_entries

            own = repo.config.repo_id
            rows = [(own, e) for e in found] + [
                (c, e)
                for c, e in clone_entries(repo.catalog)
                if (not action or e.action == action)
                and (not since or e.at >= since)
                and (not asset or e.target == asset or e.target.startswith(asset + "@"))
            ]
            rows.sort(key=lambda r: (r[1].at, r[0], r[1].seq))
            if out.json:
                out.emit_json([{"clone": c, **e.to_dict()} for c, e in rows])
                return
            for c, e in rows:
                reason = f"  reason: {e.reason}" if e.reason else ""
                out.line(
                    f"{c[:12]}  {e.seq:>6}  {short_time(e.at)}  {e.actor}  {e.action}  "
                    f"{e.target}  {e.outcome}{reason}"
                )
            return
    if out.json:
        out.emit_json([e.to_dict() for e in found])
        return
    if not found:
        out.line("no audit entries")
    for e in found:
        reason = f"  reason: {e.reason}" if e.reason else ""
        out.line(
            f"{e.seq:>6}  {short_time(e.at)}  {e.actor}  {e.action}  {e.target}  "
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
    """Recompute the hash chain; exit 1 at the first edited, removed, inserted or moved entry.

    Other clones' chains brought in by fetch and pull are verified too.
    """
    from dvlin.audit.clones import verify_clones
    from dvlin.audit.log import verify

    out = output(json, quiet)
    with open_repo() as repo:
        result = verify(repo.catalog, expect_head=expect_head)
        clones = verify_clones(repo.catalog)
    if out.json:
        out.emit_json({**result.to_dict(), "clones": [c.to_dict() for c in clones]})
    elif result.ok:
        out.line(f"✓ {result.entries:,} entries, chain intact, head {result.head}")
    else:
        typer.echo(typer.style("✗ ", fg="red") + str(result.problem), err=True)
    for c in clones:
        if c.ok:
            out.line(f"✓ clone {c.clone[:12]}: {c.entries:,} entries, chain intact")
        else:
            typer.echo(typer.style("✗ ", fg="red") + f"clone {c.clone[:12]}: {c.problem}", err=True)
    if not result.ok or not all(c.ok for c in clones):
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
