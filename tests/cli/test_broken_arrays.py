"""A folder with an empty or broken ``.npy`` commits; the file is recorded as unreadable."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli


def test_a_commit_with_an_empty_npy_file_succeeds_and_says_it_is_unreadable(
    repo: object, cli: Cli
) -> None:
    folder = Path("d")
    folder.mkdir()
    (folder / ".NPY").write_bytes(b"")
    (folder / "bad.npy").write_bytes(b"hi\n")
    (folder / "ok.txt").write_text("ok\n")
    done = cli("commit", "d", "--name", "d")
    assert done.exit_code == 0, done.output
    assert "Aborted" not in done.output and "Traceback" not in done.output
    shown = cli("show", "d@v1")
    assert shown.exit_code == 0
    assert "bad.npy" in shown.output and "unreadable" in shown.output
    assert cli("checkout", "d@v1", "--to", "../out").exit_code == 0
    assert (Path("../out") / ".NPY").read_bytes() == b""


def test_an_unexpected_eoferror_is_shown_as_a_bug_not_a_silent_abort(
    repo: object, monkeypatch: object
) -> None:
    import pytest
    from typer.testing import CliRunner

    import dvlin.ops.status as status_op
    from dvlin.cli import app

    def ends_early(*args: object, **kwargs: object) -> object:
        raise EOFError("no data left")

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(status_op, "workspace_status", ends_early)
    monkeypatch.setattr(status_op, "status", ends_early)
    result = CliRunner().invoke(app, ["status"], catch_exceptions=True)
    assert "Aborted" not in result.output
    assert isinstance(result.exception, RuntimeError)
    assert "unexpected end of data: no data left" in str(result.exception)
