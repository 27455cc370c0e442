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
    from dvlin.repo import Repo

    out = output(json, quiet)
    if storage.split("://", 1)[0].split("::")[0].lower() == "memory" or storage.startswith(
        "memory:"
    ):
        from dvlin.errors import UsageError

        raise UsageError(
            f"storage {storage!r} lives in memory and ends with this command",
            hint="use a folder or a cloud URL (file:///mnt/objects, s3://bucket/prefix); "
            "memory:// stores are for the Python API in tests",
        )
    repo = Repo.init(path, storage=storage, hash=hash)
    store = repo.config.storage or ".dvlin/objects"
    if out.json:
        out.emit_json(
            {
                "root": str(repo.root),
                "storage": store,
                "hash": repo.config.hash,
                "repo_id": repo.config.repo_id,
            }
        )
    else:
        out.line(
            f"Initialised dvlin repo in {quote(str(repo.root))} "
            f"(objects: {quote(store)}, hash: {repo.config.hash})"
        )
