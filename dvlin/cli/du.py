"""``dvlin du``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.cli.complete import complete_asset
from dvlin.render.output import human_bytes


@app.command()
def du(
    names: list[str] = typer.Argument(
        None, metavar="[ASSET]...", help="Assets (or their paths).", autocompletion=complete_asset
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Storage use: logical vs stored bytes, shared vs unique, objects, what gc would free."""
    from dvlin.ops.du import du as ops_du

    out = output(json, quiet)
    with open_repo() as repo:
        report = ops_du(repo, names or ())
    if out.json:
        out.emit_json(report.to_dict())
        return
    header = f"{'ASSET / VERSION':<28} {'LOGICAL':>10} {'STORED':>10} {'UNIQUE':>10} {'SHARED':>10} {'OBJECTS':>8}"
    out.line(header)
    for a in report.assets:
        out.line(
            f"{a.name:<28} {human_bytes(a.logical):>10} {human_bytes(a.stored):>10} "
            f"{human_bytes(a.unique):>10} {human_bytes(a.shared):>10} {a.objects:>8,}"
        )
        for v in a.versions:
            label = f"  v{v.label.rpartition('@v')[2]}" + (" (expired)" if v.expired else "")
            out.line(
                f"{label:<28} {human_bytes(v.logical):>10} {human_bytes(v.stored):>10} "
                f"{human_bytes(v.unique):>10} {human_bytes(v.shared):>10} {v.objects:>8,}"
            )
    out.line(
        f"total: {human_bytes(report.logical)} of versions stored in "
        f"{human_bytes(report.stored)} ({human_bytes(report.saved)} saved by dedup); "
        f"{report.objects:,} objects, {report.packs:,} packs holding "
        f"{report.packed_files:,} small files"
    )
    if report.unreferenced_objects:
        out.line(
            f"unreferenced: {report.unreferenced_objects:,} objects, "
            f"{human_bytes(report.unreferenced_bytes)} (no version needs them)"
        )
    out.line(
        f"gc would free: {human_bytes(report.gc_bytes)} in {report.gc_objects:,} objects "
        f"({report.gc_versions:,} versions expire)"
    )
