"""``dvlin log``, ``dvlin show`` and ``dvlin ls``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.cli.complete import complete_asset, complete_ref
from dvlin.render.output import human_bytes, short_time
from dvlin.render.text import plural, quote


@app.command()
def log(
    name: str = typer.Argument(
        None, help="Asset (default: every asset).", autocompletion=complete_asset
    ),
    number: int = typer.Option(None, "-n", "--max-count", min=1, help="Show at most N versions."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """List versions newest first: id, author, date, size and message."""
    from dvlin.ops.log import history

    out = output(json, quiet)
    with open_repo() as repo:
        entries = history(repo, name, limit=number)
    if out.json:
        out.emit_json([e.to_dict() for e in entries])
        return
    if not entries:
        out.line("no versions yet")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for col in ("version", "id", "author", "date (UTC)", "files", "size", "run", "message"):
        table.add_column(col, justify="right" if col in ("files", "size") else "left")
    for e in entries:
        v = e.version
        tag_text = f" ({', '.join(quote(t) for t in e.tags)})" if e.tags else ""
        tag_text += " (expired)" if e.expired_at else ""
        table.add_row(
            quote(v.label) + tag_text,
            v.id[:10],
            quote(v.author),
            short_time(v.created_at),
            f"{v.files:,}",
            human_bytes(v.bytes),
            e.run[:10] if e.run else "",
            quote(v.message),
        )
    out.print(table)


@app.command()
def show(
    ref: str = typer.Argument(
        ..., help="Version: NAME, NAME@vN, NAME@TAG, NAME@~N or an id.", autocompletion=complete_ref
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Show everything recorded about one version, including table schemas."""
    from dvlin.cli.lineage import provenance_rows
    from dvlin.ops.log import show_version

    out = output(json, quiet)
    with open_repo() as repo:
        shown = show_version(repo, ref)
    if out.json:
        out.emit_json(shown.to_dict())
        return
    detail, prov = shown.detail, shown.lineage
    v = detail.version
    rows = [
        (
            "version",
            f"{quote(v.label)} (latest v{detail.latest})"
            + (f" — expired {detail.expired_at[:10]}" if detail.expired_at else ""),
        ),
        ("id", v.id),
        ("kind", detail.kind),
        ("parent", v.parent or "—"),
        ("author", quote(v.author)),
        ("date", v.created_at),
        ("message", quote(v.message) if v.message else "—"),
        (
            "path",
            quote(v.base)
            if v.roots == (".",)
            else f"{quote(v.base)}: {', '.join(quote(r) for r in v.roots)}",
        ),
        ("files", f"{plural(v.files, 'file')} ({human_bytes(v.bytes)})"),
        ("tags", ", ".join(quote(t) for t in detail.tags) or "—"),
        ("manifest", v.manifest),
    ]
    rows += [(quote(f"meta.{k}"), quote(val)) for k, val in sorted(v.meta.items())]
    rows += provenance_rows(prov)
    for key, value in rows:
        out.line(f"{key:>10}  {value}")
    described = v.info.files
    if len(described) > 20:
        out.line(f"  {len(described):,} tables and arrays; the first 20 (all with --json):")
    for path, d in sorted(described.items())[:20]:
        if "error" in d:
            out.line(f"  {quote(path)}: {d['format']} (unreadable: {quote(d['error'])})")
        elif d.get("format") == "npy":
            out.line(f"  {quote(path)}: array {d['dtype']} shape {tuple(d['shape'])}")
        else:
            cols = ", ".join(f"{quote(c['name'])}: {c['type']}" for c in d["columns"][:12])
            more = " …" if len(d["columns"]) > 12 else ""
            rows_text = plural(d["rows"], "row")
            out.line(f"  {quote(path)}: {d['format']} table, {rows_text} — {cols}{more}")
    checks = v.info.checks
    if checks:
        from dvlin.render.checks import results_table

        bad = detail.failed_checks
        out.line(f"{'checks':>10}  {len(checks) - len(bad)} passed, {len(bad)} failed")
        override = v.info.override
        if override is not None:
            out.line(
                f"{'override':>10}  {quote(override.reason)} "
                f"({quote(override.author)}, {override.at})"
            )
        if bad:
            out.print(results_table(bad, status=False))


@app.command(name="ls")
def ls(
    ref: str = typer.Argument(
        None,
        help="A version to list the files of (default: list assets).",
        autocompletion=complete_ref,
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """List assets (name, kind, latest version, size, owner), or the files of a version."""
    from dvlin.ops.log import assets

    out = output(json, quiet)
    with open_repo() as repo:
        if ref is None:
            rows = assets(repo)
            if out.json:
                out.emit_json([a.to_dict() for a in rows])
                return
            if not rows:
                out.line("no assets yet (dvlin commit PATH --name NAME)")
                return
            from rich.table import Table

            table = Table(box=None, pad_edge=False, show_edge=False)
            for col in ("asset", "kind", "latest", "files", "size", "owner", "path"):
                table.add_column(col, justify="right" if col in ("files", "size") else "left")
            for a in (r.asset for r in rows):
                table.add_row(
                    quote(a.name),
                    a.kind,
                    f"v{a.latest}" if a.latest else "—",
                    f"{a.files:,}",
                    human_bytes(a.bytes),
                    quote(a.owner) if a.owner else "—",
                    quote(a.base),
                )
            out.print(table)
            return
        from dvlin.ops.log import listing

        manifest = listing(repo, ref)
    from dvlin.render.listing import json_chunks, text_lines

    # Written a batch at a time: `dvlin ls REF --json | head` of a million files answers at once.
    with out.pipe_closed_quietly():
        if out.json:
            for chunk in json_chunks(manifest):
                out.stdout.write(chunk)
            return
        for text in text_lines(manifest):
            out.line(text)
