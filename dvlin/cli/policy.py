"""``dvlin policy show``: the effective policy of an asset, as dvlin.toml defines it."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.render.text import quote

policy_app = typer.Typer(
    help="Show the contracts that dvlin.toml defines for assets.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(policy_app, name="policy")


@policy_app.command("show")
def show(
    name: str = typer.Argument(None, help="Asset name (default: every asset with a policy)."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Print the effective policy of an asset (defaults filled in), or of every asset."""
    from dvlin.ops.policy import show as show_policy

    out = output(json, quiet)
    with open_repo() as repo:
        shown = show_policy(repo, name)
    if out.json:
        out.emit_json(shown.to_dict())
        return
    if not shown.policies:
        out.line("no policies (dvlin.toml has no [assets.NAME] tables)")
    import tomli_w

    for p in shown.policies:
        d = p.to_dict()
        entry = {k: d[k] for k in ("kind", "path", "owner", "schema") if d[k] is not None}
        entry["compatibility"] = d["compatibility"]
        if d["quality"]:
            entry["quality"] = d["quality"]
        if d["drift"]:
            entry["drift"] = d["drift"]
        out.line(f"# {quote(p.name)}, from {quote(str(shown.source))}")
        out.line(tomli_w.dumps({"assets": {p.name: entry}}))
