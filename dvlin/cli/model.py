"""``dvlin model register | list | show | stage``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.render.text import quote

model_app = typer.Typer(
    name="model",
    help="Register trained models with their training data, metrics and stages.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(model_app, name="model")


def _metrics_text(metrics: dict[str, float]) -> str:
    return ", ".join(f"{quote(k)}={v:g}" for k, v in sorted(metrics.items())) or "—"


@model_app.command()
def register(
    paths: list[str] = typer.Argument(..., help="The model file(s) or folder."),
    name: str = typer.Option(..., "--name", "-n", help="Model name."),
    trained_on: list[str] = typer.Option(
        [], "--trained-on", help="A version the model was trained on (repeatable)."
    ),
    metric: list[str] = typer.Option(
        [], "--metric", help="A metric KEY=NUMBER (repeatable).", metavar="KEY=NUMBER"
    ),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="A parameter KEY=VALUE (repeatable).", metavar="KEY=VALUE"
    ),
    stage: str = typer.Option(None, "--stage", help="staging, production or archived."),
    transform: str = typer.Option(
        None, "--transform", "-t", help="Name of the training transform (default: train-NAME)."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Commit model files as a new model version, linked to the data it was trained on."""
    from dvlin.ops.common import parse_key_values
    from dvlin.ops.model import register as register_

    out = output(json, quiet)
    metrics = parse_key_values(metric, flag="--metric")
    params = parse_key_values(param, flag="--param")
    with open_repo() as repo:
        _, model = register_(
            repo,
            paths,
            name=name,
            trained_on=trained_on,
            metrics=metrics,
            params=params,
            stage=stage,
            transform=transform,
        )
    if out.json:
        out.emit_json(model.to_dict())
        return
    v = model.version
    on = ", ".join(quote(t) for t in model.trained_on) or "—"
    stage_text = f"  stage: {model.stage}" if model.stage else ""
    out.line(f"→ {quote(v.label)}  {v.id[:10]}  trained on: {on}{stage_text}")


@model_app.command(name="list")
def list_(
    name: str = typer.Argument(None, help="One model (default: all)."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """List model versions newest first, with stage and metrics."""
    from dvlin.ops.model import list_models

    out = output(json, quiet)
    with open_repo() as repo:
        models = list_models(repo, name)
    if out.json:
        out.emit_json([m.to_dict() for m in models])
        return
    if not models:
        out.line("no models yet (dvlin model register PATH --name NAME)")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for col in ("model", "id", "stage", "metrics", "date (UTC)"):
        table.add_column(col)
    for m in models:
        table.add_row(
            quote(m.version.label),
            m.version.id[:10],
            m.stage or "—",
            _metrics_text(m.run.metrics if m.run else {}),
            m.version.created_at[:16].replace("T", " "),
        )
    out.print(table)


@model_app.command()
def show(
    ref: str = typer.Argument(..., help="A model version: NAME, NAME@vN, NAME@TAG or an id."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Show a model version: stage and its history, metrics, parameters, training data."""
    from dvlin.ops.model import show as show_

    out = output(json, quiet)
    with open_repo() as repo:
        m = show_(repo, ref)
    if out.json:
        out.emit_json(m.to_dict())
        return
    d = m.to_dict()
    rows = [
        ("model", quote(d["label"])),
        ("id", d["id"]),
        ("stage", d["stage"] or "—"),
        ("metrics", _metrics_text(d["metrics"])),
        ("params", ", ".join(quote(f"{k}={v}") for k, v in sorted(d["params"].items())) or "—"),
        ("trained on", ", ".join(quote(t) for t in d["trained_on"]) or "—"),
        ("run", d["run"] or "—"),
    ]
    for key, value in rows:
        out.line(f"{key:>10}  {value}")
    for c in m.history:
        when = c.created_at[:19].replace("T", " ")
        out.line(f"{'':>10}  {when}  → {c.stage}  by {quote(c.author)}")


@model_app.command()
def stage(
    ref: str = typer.Argument(..., help="A model version."),
    new_stage: str = typer.Argument(..., metavar="STAGE", help="staging, production or archived."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Move a model version to a stage; who and when are recorded."""
    from dvlin.ops.model import set_stage

    out = output(json, quiet)
    with open_repo() as repo:
        result = set_stage(repo, ref, new_stage)
    if out.json:
        out.emit_json(result.to_dict())
        return
    out.line(f"{quote(result.version.label)} → {result.change.stage}")
