"""One-line ``checkout`` and ``commit`` run without typer, with typer's results exactly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.cli import app
from dvlin.cli.short import parse
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]

_VALUES = ["data", "data@v1", "", "a b", "é/ü", "x@~1", "-x", "--", "-"]
_OPTIONS = ["--name", "-n", "-m", "--message", "--tag", "--to"]
_FLAGS = ["-q", "--quiet", "--json", "--force", "-f", "--", "-x", "--name=x", "-qn", "-h"]

# A command line: pieces that are a positional value, an option and its value, or a flag.
_PIECES = st.one_of(
    st.sampled_from(_VALUES).map(lambda v: [v]),
    st.tuples(st.sampled_from(_OPTIONS), st.sampled_from(_VALUES)).map(list),
    st.sampled_from(_FLAGS).map(lambda f: [f]),
)


@settings(max_examples=300)
@given(
    command=st.sampled_from(["checkout", "commit", "status"]),
    pieces=st.lists(_PIECES, max_size=5),
)
def test_what_it_parses_click_parses_the_same(command: str, pieces: list[list[str]]) -> None:
    """Every command line taken here means the same to click: the same values, no error."""
    from typer.main import get_command

    rest = [arg for piece in pieces for arg in piece]

    parsed = parse([command, *rest])
    if parsed is None:
        return
    group = get_command(app)
    cmd = group.commands[command]  # type: ignore[attr-defined]
    ctx = cmd.make_context(command, list(rest))
    params = ctx.params
    name, positional, values, quiet = parsed
    assert name == command
    assert params["quiet"] is quiet
    assert params["json"] is False
    if command == "checkout":
        assert [params["ref"], *(params["paths"] or [])] == positional
        assert (params["to"], params["link"], params["force"], params["dry_run"]) == (
            values.get("to"),
            "copy",
            False,
            False,
        )
        assert params["lock"] is False
    elif command == "status":
        assert list(params["names"] or []) == positional
        assert params["exit_code"] is False
    else:
        assert list(params["paths"]) == positional
        assert params["name"] == values.get("name")
        assert params["message"] == values.get("message", "")
        assert not any(params[k] for k in ("tag", "meta", "force", "reason", "kind"))
        assert not params["allow_overlap"] and not params["follow_links"]


@pytest.mark.parametrize(
    "args",
    [
        ["checkout"],
        ["checkout", "a", "b"],
        ["checkout", "--help"],
        ["checkout", "a", "--json"],
        ["checkout", "a", "--force"],
        ["checkout", "a", "--to"],
        ["checkout", "a", "--to", "x", "--to", "y"],
        ["checkout", "a", "--to", "-x"],
        ["checkout", "a", "--to", "x", "--link", "hardlink"],
        ["commit"],
        ["commit", "data", "--name"],
        ["commit", "data", "--name", "a", "--name", "b"],
        ["commit", "data", "--name", "-x"],
        ["commit", "data", "--tag", "t"],
        ["commit", "--", "data"],
        ["--debug", "checkout", "a"],
        ["status", "--json"],
        ["status", "--exit-code"],
        ["checkout", "a\udcff"],
    ],
)
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert parse(args) is None


def test_completion_and_debug_go_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse(["checkout", "a"]) is not None
    monkeypatch.setenv("_DVLIN_COMPLETE", "complete_bash")
    assert parse(["checkout", "a"]) is None
    monkeypatch.delenv("_DVLIN_COMPLETE")
    monkeypatch.setenv("DVLIN_DEBUG", "1")
    assert parse(["checkout", "a"]) is None


_HARNESS = """
import atexit, sys
atexit.register(lambda: print("TYPER", "typer" in sys.modules, file=sys.stderr))
sys.argv = ["dvlin", *sys.argv[1:]]
from dvlin.cli import main
main()
"""

_STEPS: list[list[str]] = [
    ["status"],
    ["commit", "data", "--name", "data"],
    ["status"],
    ["commit", "data", "--name", "data", "-q"],
    ["commit", "data", "-m", "again", "--name", "data"],
    ["EDIT"],
    ["status", "-q"],
    ["status", "data"],
    ["status", "nosuch"],
    ["commit", "data", "--name", "data", "--message", "edited"],
    ["checkout", "data@v1"],
    ["checkout", "data@v2", "-q"],
    ["checkout", "data@v1", "--quiet"],
    ["checkout", "data@v9"],
    ["checkout", "data@v1", "--to", "restored"],
    ["checkout", "data@v2", "--to", "restored"],
    ["checkout", "data@v2", "-q", "--to", "other"],
    ["checkout", "data@v9", "--to", "nowhere"],
    ["checkout", "data@v1", "--to", ".dvlin/inside"],
    ["checkout", "data@v1", "--to", "restored/deeper"],
    ["checkout", "nosuch"],
    ["commit", "missing", "--name", "m"],
    ["EDIT"],
    ["checkout", "data@v2"],
    ["status"],
]


def _same(text: str, root: Path) -> str:
    """Output with what differs between two repos (their folders, version ids) blanked."""
    return re.sub(r"\b[0-9a-f]{10}\b", "ID", text.replace(str(root), "ROOT"))


def _edit(root: Path, n: int) -> None:
    (root / "data" / "b.txt").write_text(f"edit {n}\n")


def test_the_short_way_matches_typer_and_never_imports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    short, full = tmp_path / "short", tmp_path / "full"
    for root in (short, full):
        root.mkdir()
        (root / "data" / "sub").mkdir(parents=True)
        (root / "data" / "a.txt").write_text("a\n")
        (root / "data" / "sub" / "c.bin").write_bytes(bytes(range(256)))
        _edit(root, 0)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "dvlin", "init"], cwd=short, env=env, check=True)
    monkeypatch.chdir(full)
    cli("init", ok=True)
    edits = 0
    for step in _STEPS:
        if step == ["EDIT"]:
            edits += 1
            _edit(short, edits)
            _edit(full, edits)
            continue
        ran = subprocess.run(
            [sys.executable, "-c", _HARNESS, *step],
            cwd=short,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        expected = cli(*step)
        lines = ran.stderr.splitlines()
        if ran.returncode == 0:  # an error's report imports it (the translator's typer.echo)
            assert lines[-1] == "TYPER False", step
        stderr = "\n".join(line for line in lines if not line.startswith("TYPER "))
        assert ran.returncode == expected.exit_code, (step, ran.stderr)
        assert _same(ran.stdout, short) == _same(expected.stdout, full), step
        assert _same(stderr, short).strip() == _same(expected.stderr, full).strip(), step
    assert (short / "data" / "b.txt").read_text() == (full / "data" / "b.txt").read_text()
