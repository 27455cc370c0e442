"""The audit report's HTML and Markdown: user strings are data, never markup; no script, no URL."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from dvlin.audit.report import AuditReport
from dvlin.render.report import md, mermaid, render

EVIL = "<script>alert(1)</script>"
EVIL_NAME = 'a"><img src=x onerror=alert(2)>'


def _report(*, ok: bool = True) -> AuditReport:
    """A report whose every user string is hostile (as a hand-edited catalog could hold)."""
    node = {"id": "a" * 32, "type": "version", "label": f"{EVIL_NAME}@v1", "raw": True}
    run = {"id": "r-" + "b" * 32, "type": "run", "label": f"r-bbbb {EVIL}", "raw": False}
    model = {"id": "c" * 32, "type": "version", "label": "m@v1", "raw": False}
    return AuditReport(
        generated_at="2026-03-01T00:00:00Z",
        repo="r" * 32,
        assets_filter=(EVIL_NAME,),
        since=None,
        chain={
            "ok": ok,
            "entries": 3,
            "head": "3:" + "f" * 64,
            "head_seq": 3,
            "head_hash": "f" * 64,
            "problem": None if ok else f"entry 2 does not follow entry 1 {EVIL}",
            "first_bad_seq": None if ok else 2,
            "mismatches": [],
        },
        assets=(
            {
                "name": EVIL_NAME,
                "kind": "dataset",
                "owner": EVIL,
                "versions": 1,
                "latest": 1,
                "bytes": 10,
                "files": 1,
                "retention": {"keep_last": EVIL},
                "created_at": "2026-03-01T00:00:00Z",
            },
        ),
        versions=(
            {
                "asset": EVIL_NAME,
                "number": 1,
                "label": f"{EVIL_NAME}@v1",
                "id": "a" * 32,
                "created_at": "2026-03-01T00:00:00Z",
                "author": EVIL,
                "message": f"| pipe **bold** [link](http://evil.example) {EVIL}",
                "files": 1,
                "bytes": 10,
                "tags": [EVIL],
                "checks": {
                    "passed": 0,
                    "failed": 1,
                    "results": [
                        {
                            "rule": "not_null",
                            "passed": False,
                            "column": EVIL,
                            "file": EVIL,
                            "expected": EVIL,
                            "found": EVIL,
                        }
                    ],
                },
                "override": {"reason": EVIL, "actor": EVIL, "at": "t", "failed": 1},
                "hold": EVIL,
                "expired_at": None,
                "stage": None,
            },
        ),
        holds=({"version": f"{EVIL_NAME}@v1", "reason": EVIL, "actor": EVIL, "at": "t"},),
        expiries=(),
        gc=(),
        models=(
            {
                "version": "m@v1",
                "id": "c" * 32,
                "stage": EVIL,
                "stages": [{"stage": EVIL, "actor": EVIL, "at": "t"}],
                "lineage": {
                    "nodes": [node, run, model],
                    "edges": [
                        {"src": node["id"], "dst": run["id"], "kind": "input"},
                        {"src": run["id"], "dst": model["id"], "kind": "output"},
                    ],
                },
            },
        ),
        drift=(
            {
                "asset": EVIL_NAME,
                "from": f"{EVIL_NAME}@v1",
                "to": f"{EVIL_NAME}@v2",
                "files": [
                    {
                        "path": EVIL,
                        "rows": [1, 2],
                        "added_columns": [EVIL],
                        "removed_columns": [],
                        "columns": [{"name": EVIL, "psi": 0.5, "ks": 0.3, "drift": "high"}],
                        "embedding_drift": None,
                        "drift": "high",
                    }
                ],
            },
        ),
    )


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(text: str) -> _Tags:
    p = _Tags()
    p.feed(text)
    return p


def test_html_has_no_script_no_handler_and_no_url() -> None:
    text = render(_report(), "html")
    parsed = _parse(text)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert not [a for a, _ in parsed.attrs if a.startswith("on")]
    links = [v for a, v in parsed.attrs if a in ("href", "src", "xlink:href", "action")]
    assert links and all(v and v.startswith("#") for v in links), links
    assert set(re.findall(r"url\(([^)]*)\)", text)) == {"#arrow-1"}
    assert "@import" not in text and "<link" not in text
    # user text may hold a URL; it is printed, never a link
    assert "[link](http://evil.example)" in "".join(parsed.text)
    assert "default-src 'none'" in text


def test_every_hostile_string_appears_as_text_in_html() -> None:
    text = render(_report(), "html")
    shown = "".join(_parse(text).text)
    assert shown.count(EVIL) >= 15  # owner, author, message, rule fields, reasons, column …
    assert EVIL_NAME in shown and html.escape(EVIL) in text


def test_markdown_escapes_markup_and_keeps_tables_whole() -> None:
    text = render(_report(), "md")
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    row = next(line for line in text.splitlines() if "pipe" in line)
    assert "\\| pipe" in row  # the message's pipe cannot end its cell
    assert len(re.split(r"(?<!\\)\|", row)) == 9  # 7 cells, as the header has
    assert "\\*\\*bold\\*\\*" in row and "\\[link\\]" in row


def test_mermaid_labels_cannot_break_out() -> None:
    text = render(_report(), "md")
    block = text.split("```mermaid", 1)[1].split("```", 1)[0]
    # quotes only open and close labels: ["…"], (["…"]) and |"…"|
    assert '"' not in re.sub(r'\["|"\]|\|"|"\|', "", block)
    assert "#lt;script#gt;" in block and "<" not in block


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a|b", "a\\|b"),
        ("<b>", "&lt;b&gt;"),
        ("x\ny", "x y"),
        ("[t](u)", "\\[t\\](u)"),
        (None, ""),
    ],
)
def test_md(value: Any, expected: str) -> None:
    assert md(value) == expected


def test_mermaid_filter() -> None:
    assert mermaid('a"b<c>&`|') == "a#quot;b#lt;c#gt;#amp;#96;#124;"


def test_a_broken_chain_is_the_first_thing_said() -> None:
    text = render(_report(ok=False), "html")
    body = text.split("<body>", 1)[1]
    assert body.index("AUDIT CHAIN VERIFICATION FAILED") < body.index('id="contents"')
    assert html.escape(f"entry 2 does not follow entry 1 {EVIL}") in body
    md_text = render(_report(ok=False), "md")
    assert md_text.index("AUDIT CHAIN VERIFICATION FAILED") < md_text.index("## Contents")
    assert "AUDIT CHAIN" not in render(_report(), "html")


_STRUCTURAL = {"id", "src", "dst", "type", "drift", "embedding_drift", "$schema"}


def _poison(value: Any, key: str = "") -> Any:
    """Every string the catalog could hold, replaced by markup (structural keys kept)."""
    if isinstance(value, dict):
        return {k: _poison(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_poison(v, key) for v in value)
    if isinstance(value, str) and key not in _STRUCTURAL:
        return EVIL
    return value


def test_no_string_field_reaches_either_format_as_markup() -> None:
    from dataclasses import fields, replace

    base = _report(ok=False)
    poisoned = replace(
        base, **{f.name: _poison(getattr(base, f.name), f.name) for f in fields(base)}
    )
    assert poisoned.to_dict()["versions"][0]["created_at"] == EVIL
    text = render(poisoned, "md")
    assert "<" not in text.replace("<!--", "")
    parsed = _parse(render(poisoned, "html"))
    assert "script" not in parsed.tags
    assert "".join(parsed.text).count(EVIL) >= 30


def test_a_cyclic_lineage_is_drawn_without_its_edges() -> None:
    """The catalog keeps lineage acyclic; were it not, the boxes are laid out in one column."""
    from dvlin.render.report import lineage_svg

    node = {"type": "version", "raw": False}
    drawn = lineage_svg(
        {
            "nodes": [{**node, "id": i, "label": f"v {i}"} for i in ("a", "bc")],
            "edges": [
                {"src": "a", "dst": "bc", "kind": "input"},
                {"src": "bc", "dst": "a", "kind": "input"},
            ],
        }
    )
    assert sorted(b["title"] for b in drawn["boxes"]) == ["v a", "v bc"]
    assert len({b["x"] for b in drawn["boxes"]}) == 1 and len(drawn["edges"]) == 2
