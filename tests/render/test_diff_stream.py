"""``dvlin diff`` writes big diffs in batches and streams --json: the same bytes as one call
per line and one ``json.dumps`` of the whole document."""

from __future__ import annotations

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.ops.datadiff import DataDiff, FileChange
from dvlin.render.inspect import diff_json_chunks, diff_lines
from dvlin.render.output import Output

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
odd = st.one_of(text, st.sampled_from(["a", "ü/名前", "new\nline", "tab\t", "\x1b[31m", '"q"', ""]))
sizes = st.one_of(st.none(), st.integers(0, 1 << 40))
changes = st.lists(
    st.builds(FileChange, odd, st.sampled_from(["added", "removed", "modified"]), sizes, sizes),
    max_size=12,
)


def _diff(files: list[FileChange]) -> DataDiff:
    return DataDiff("data", "data@v1", "data@v2", tuple(files), None, (), {}, {"psi_high": 0.25})


@settings(max_examples=150, deadline=None)
@given(changes)
def test_streamed_json_is_the_json_document(files: list[FileChange]) -> None:
    d = _diff(files)
    expected = json.dumps(d.to_dict(), indent=2, ensure_ascii=False) + "\n"
    assert "".join(diff_json_chunks(d)) == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(odd, max_size=20), st.integers(1, 5))
def test_lines_in_batches_write_what_line_by_line_writes(texts: list[str], batch: int) -> None:
    one, many = io.StringIO(), io.StringIO()
    for t in texts:
        Output(stdout=one).line(t)
    Output(stdout=many).lines(iter(texts), batch=batch)
    assert many.getvalue() == one.getvalue()


def test_quiet_and_json_outputs_write_no_lines() -> None:
    for out in (Output(stdout=io.StringIO(), quiet=True), Output(stdout=io.StringIO(), json=True)):
        out.lines(["a", "b"])
        assert out.stdout.getvalue() == ""  # type: ignore[attr-defined]


@settings(max_examples=50, deadline=None)
@given(changes)
def test_diff_lines_format_each_size_as_human_bytes(files: list[FileChange]) -> None:
    from dvlin.render.output import human_bytes

    lines = list(diff_lines(_diff(files)))[2:]
    for f, line in zip(files, lines, strict=True):
        wanted = [s for s in (f.size_a, f.size_b) if f.change == "modified" or s is not None]
        if f.change == "added":
            wanted = [f.size_b]
        elif f.change == "removed":
            wanted = [f.size_a]
        assert line.endswith(")" if not wanted else f"{human_bytes(wanted[-1] or 0)})")
