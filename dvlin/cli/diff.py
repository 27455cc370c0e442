"""``dvlin diff``: what changed inside the data between two versions, or a version and now."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output


@app.command()
def diff(
    a: str = typer.Argument(..., help="The older version (NAME@v4, NAME@TAG, id prefix)."),
    b: str = typer.Argument(None, help="The newer version (default: the workspace)."),
    key: str = typer.Option(
        None, "--key", "-k", help="Compare rows matched by these columns (comma-separated)."
    ),
    path: str = typer.Option(None, "--path", "-p", help="Only this file or folder."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Diff files, schema (with its compatibility verdict), statistics, drift and rows.

    Drift per column comes from the two stored profiles: PSI over shared quantile bins and KS
    for numbers, PSI over categories for strings, centroid shift, NN moved and MMD for
    embeddings; labelled low/medium/high by the [drift] thresholds of dvlin.toml.
    """
    from dvlin.errors import UsageError
    from dvlin.ops.datadiff import datadiff
    from dvlin.render.inspect import diff_lines

    keys = [k.strip() for k in key.split(",")] if key is not None else []
    if key is not None and not all(keys):
        raise UsageError(f"--key expects column names, got {key!r}", hint="e.g. --key event_id")
    out = output(json, quiet)
    with open_repo() as repo:
        result = datadiff(repo, a, b, key=keys, path=path)
    if out.json:
        from dvlin.render.inspect import diff_json_chunks

        with out.pipe_closed_quietly():
            out.stdout.writelines(diff_json_chunks(result))
        return
    with out.pipe_closed_quietly():  # `dvlin diff A B | head`: the rest is not wanted
        out.lines(diff_lines(result))
