"""``dvlin ls REF`` written a batch at a time: the same bytes as one JSON document."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.objects.manifest import Entry, Manifest
from dvlin.ops.log import FileRow
from dvlin.render import listing
from dvlin.render.text import quote

names = st.text(min_size=1, max_size=12)


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    path = draw(names)
    kind = draw(st.sampled_from(["file", "dir", "link"]))
    if kind == "file":
        oid = draw(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32))
        mode = draw(st.sampled_from([0o644, 0o755]))
        return Entry(path, "file", mode, draw(st.integers(0, 10**12)), oid)
    if kind == "dir":
        return Entry(path, "dir", 0o755)
    return Entry(path, "link", 0o777, target=draw(names))


rows = st.lists(entries(), max_size=40, unique_by=lambda e: e.path)


def reference_json(entries: list[Entry]) -> str:
    ordered = sorted(entries, key=lambda e: e.path.encode())
    found = [FileRow(e.path, e.type, e.mode, e.size, e.oid, e.target).to_dict() for e in ordered]
    return json.dumps(found, indent=2, ensure_ascii=False) + "\n"


@settings(max_examples=150, deadline=None)
@given(rows, st.integers(1, 5))
def test_json_chunks_are_one_json_document(entries: list[Entry], batch: int) -> None:
    saved = listing.BATCH_ROWS
    listing.BATCH_ROWS = batch  # several batches, so the joins between them are tested too
    try:
        text = "".join(listing.json_chunks(Manifest.from_entries(entries)))
    finally:
        listing.BATCH_ROWS = saved
    assert text == reference_json(entries)


def test_text_lines_quote_odd_names() -> None:
    manifest = Manifest.from_entries(
        [
            Entry("a\nb", "file", 0o755, 1234, "a" * 32),
            Entry("d", "dir", 0o755),
            Entry("l", "link", 0o777, target="\x1b[31m"),
        ]
    )
    assert list(listing.text_lines(manifest)) == [
        f"- 755       1,234  {quote('a' + chr(10) + 'b')}",
        "d 755              d/",
        f"l 777              l -> {quote(chr(27) + '[31m')}",
    ]
