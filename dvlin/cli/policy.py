"""``dvlin policy show``: the effective policy of an asset, as dvlin.toml defines it."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output

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
    from dvlin.errors import NotFoundError
    from dvlin.policy.config import load_policy

    out = output(json, quiet)
    with open_repo() as repo:
        policy = load_policy(repo.root)
    if name is not None:
        found = policy.get(name)
        if found is None:
            raise NotFoundError(
                f"asset {name!r} has no policy in dvlin.toml",
                hint=f"policies: {', '.join(sorted(policy.assets)) or 'none'}",
                candidates=sorted(policy.assets),
            )
        chosen = [found]
    else:
        chosen = [policy.assets[k] for k in sorted(policy.assets)]
    if out.json:
        docs = [p.to_dict() for p in chosen]
        out.emit_json(docs[0] if name is not None else docs)
        return
    if not chosen:
        out.line("no policies (dvlin.toml has no [assets.NAME] tables)")
    import tomli_w

    for p in chosen:
        d = p.to_dict()
        entry = {k: d[k] for k in ("kind", "path", "owner", "schema") if d[k] is not None}
        entry["compatibility"] = d["compatibility"]
        if d["quality"]:
            entry["quality"] = d["quality"]
        if d["drift"]:
            entry["drift"] = d["drift"]
        out.line(f"# {p.name}, from {policy.source}")
        out.line(tomli_w.dumps({"assets": {p.name: entry}}))
