"""The ``dvlin`` process builds only the command it runs; help, typos and completion see all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dvlin.cli import _only_invoked, app


def _dvlin(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvlin", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "DVLIN_AUTHOR": "Test <t@example.org>", **env},
        check=False,
    )


def _names() -> set[str]:
    from typer.main import get_command

    return set(get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "kept"),
    [
        (["status"], {"status"}),
        (["--debug", "status", "--json"], {"status"}),
        (["config", "get", "hash"], {"config"}),
        (["status", "--help"], {"status"}),
    ],
)
def test_only_the_invoked_command_is_built(
    monkeypatch: pytest.MonkeyPatch, args: list[str], kept: set[str]
) -> None:
    monkeypatch.setattr(app, "registered_commands", list(app.registered_commands))
    monkeypatch.setattr(app, "registered_groups", list(app.registered_groups))
    _only_invoked(args)
    assert _names() == kept


@pytest.mark.parametrize("args", [[], ["--help"], ["-h", "status"], ["stauts"], ["--version"]])
def test_help_version_and_unknown_names_keep_every_command(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setattr(app, "registered_commands", list(app.registered_commands))
    monkeypatch.setattr(app, "registered_groups", list(app.registered_groups))
    everything = _names()
    _only_invoked(args)
    assert _names() == everything
    assert {"status", "commit", "config", "log"} <= everything


def test_a_typo_still_gets_the_closest_names(tmp_path: Path) -> None:
    done = _dvlin(tmp_path, "stauts")
    assert done.returncode == 2
    assert "did you mean" in done.stderr.lower() and "status" in done.stderr


def test_root_help_lists_every_command_and_a_command_runs(tmp_path: Path) -> None:
    listed = _dvlin(tmp_path, "--help")
    assert listed.returncode == 0
    for name in ("status", "commit", "checkout", "config", "remote", "log"):
        assert f"  {name} " in listed.stdout
    assert _dvlin(tmp_path, "init").returncode == 0
    done = _dvlin(tmp_path, "status")
    assert done.returncode == 0, done.stderr
    assert "no assets tracked yet" in done.stdout
    assert _dvlin(tmp_path, "config", "get", "core.hash").returncode == 0


def test_completion_sees_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "registered_commands", list(app.registered_commands))
    monkeypatch.setattr(app, "registered_groups", list(app.registered_groups))
    monkeypatch.setenv("_DVLIN_COMPLETE", "complete_bash")
    everything = _names()
    _only_invoked(["status"])
    assert _names() == everything
