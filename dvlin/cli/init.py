"""``dvlin init``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, output
from dvlin.render.text import quote


@app.command()
def init(
    path: str = typer.Argument(".", help="Folder to make a repo (created if missing)."),
    storage: str = typer.Option(
        "",
        "--storage",
        help="Object store as an fsspec URL (default: .dvlin/objects).",
        metavar="URL",
    ),
    hash: str = typer.Option(
        "xxh3-128",
        "--hash",
        help="Object hash: xxh3-128, sha256 or blake3 (fixed).",
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Create a repo: .dvlin/ with the catalog, config.toml and the local object store."""
    from dvlin.ops.init import init as make_repo

    out = output(json, quiet)
    result = make_repo(path, storage=storage, hash=hash)
    if out.json:
        out.emit_json(result.to_dict())
    else:
        out.line(
            f"Initialised dvlin repo in {quote(result.root)} "
            f"(objects: {quote(result.storage)}, hash: {result.hash})"
        )
