"""Rendering: progress bars only on a terminal, sizes for people, JSON for machines."""

from __future__ import annotations

import io
import json

import pytest

from dvlin.progress import NullProgress
from dvlin.render import progress as progress_mod
from dvlin.render.output import Output, human_bytes


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_progress_bar_when_piped() -> None:
    assert isinstance(Output(stdout=io.StringIO()).progress(), NullProgress)
    assert isinstance(Output(stdout=_Tty(), json=True).progress(), NullProgress)
    assert isinstance(Output(stdout=_Tty(), quiet=True).progress(), NullProgress)


def test_progress_bar_on_a_terminal_after_half_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DVLIN_NO_TTY", raising=False)
    err = _Tty()
    out = Output(stdout=_Tty(), stderr=err)
    bar = out.progress()
    assert isinstance(bar, progress_mod.RichProgress)
    clock = iter([100.0, 100.1, 101.0, 101.5, 102.0])
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: next(clock))
    bar.start("committing", files=3, bytes=3000)
    bar.advance(files=1, bytes=1000)  # 0.1 s in: too early for a bar
    assert bar._bar is None
    bar.advance(files=1, bytes=1000)  # 1 s in: the bar appears
    assert bar._bar is not None
    bar.finish()
    assert bar._bar is None


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 * 1024**3, "3.0 GiB")]
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text


def test_json_is_one_document() -> None:
    buf = io.StringIO()
    Output(stdout=buf, json=True).emit_json({"a": [1, "ü"]})
    assert json.loads(buf.getvalue()) == {"a": [1, "ü"]}
