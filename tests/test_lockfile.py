"""dvlin.lock's format: sorted, diff-friendly, strict on reading; the .gitignore block."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin import gitignore, lockfile
from dvlin.errors import UsageError
from dvlin.ids import Oid, VersionId
from dvlin.lockfile import Pin

# Hex ids drawn as text over the hex alphabet: the same values as a [0-9a-f]{32} regex, at a
# fraction of from_regex's cost per example.
_hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
_pin = st.builds(
    Pin,
    asset=st.from_regex(r"[a-z][a-z0-9_./-]{0,12}", fullmatch=True),
    id=_hex32,
    number=st.integers(1, 10_000),
    tree=_hex32,
)


@settings(deadline=None)  # a loaded machine is not a failure
@given(st.lists(_pin, unique_by=lambda p: p.asset), st.randoms())
def test_render_is_order_independent_and_round_trips(pins: list[Pin], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(pins)
    rnd.shuffle(shuffled)
    text = lockfile.render(pins)
    assert lockfile.render(shuffled) == text
    assert lockfile.parse(text) == {p.asset: p for p in pins}


def test_the_format_is_one_table_per_asset() -> None:
    text = lockfile.render(
        [Pin("events", "a" * 32, 3, "b" * 32), Pin("data/raw", "c" * 32, 1, "d" * 32)]
    )
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body == [
        "format = 1",
        "",
        '[assets."data/raw"]',
        f'id = "{"c" * 32}"',
        'version = "v1"',
        f'tree = "{"d" * 32}"',
        "",
        "[assets.events]",
        f'id = "{"a" * 32}"',
        'version = "v3"',
        f'tree = "{"b" * 32}"',
    ]


@pytest.mark.parametrize(
    "text",
    [
        "format = 2\n",
        "[assets.e]\nid = 'xyz'\nversion = 'v1'\ntree = 'a'\n",
        "[assets.e]\nid = '" + "a" * 32 + "'\nversion = '3'\ntree = 'a'\n",
        "not toml [",
    ],
)
def test_malformed_locks_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="dvlin.lock"):
        lockfile.parse(text)


@pytest.mark.parametrize(
    ("vid", "tree"),
    [
        ("a" * 32, "a"),  # no hash algorithm makes a 1-character tree
        ("a" * 32, "../" + "b" * 29),
        ("a" * 32, "B" * 32),
        ("a" * 32, "b" * 48),
        ("A" * 32, "b" * 32),
        ("a" * 31 + "\n", "b" * 32),
    ],
)
def test_a_pin_whose_ids_are_malformed_is_a_usage_error_naming_it(vid: str, tree: str) -> None:
    text = f"[assets.e]\nid = {vid!r}\nversion = 'v1'\ntree = {tree!r}\n"
    with pytest.raises(UsageError) as caught:
        lockfile.parse(text)
    assert caught.value.message == "dvlin.lock: the pin of 'e' is malformed"
    assert caught.value.exit_code == 2


def test_a_pin_parses_to_typed_ids() -> None:
    text = f"[assets.e]\nid = '{'a' * 32}'\nversion = 'v2'\ntree = '{'b' * 64}'\n"
    assert lockfile.parse(text) == {"e": Pin("e", VersionId("a" * 32), 2, Oid("b" * 64))}


def test_write_only_when_the_text_changes(tmp_path: Path) -> None:
    pin = Pin("e", "a" * 32, 1, "b" * 32)
    assert lockfile.write(tmp_path, [pin]) is True
    assert lockfile.write(tmp_path, [pin]) is False
    assert lockfile.read(tmp_path) == {"e": pin}
    assert lockfile.read(tmp_path / "nowhere") is None


def test_gitignore_block_is_idempotent_and_keeps_user_lines(tmp_path: Path) -> None:
    user = "# mine\n*.pyc\n\n!keep.me\nbuild/"  # no final newline, on purpose
    (tmp_path / ".gitignore").write_text(user)
    assert gitignore.update(tmp_path, ["data/events", "models/m.pt"]) is True
    first = (tmp_path / ".gitignore").read_text()
    assert first.startswith(user + "\n")
    assert gitignore.update(tmp_path, ["models/m.pt", "data/events"]) is False
    assert (tmp_path / ".gitignore").read_text() == first
    # User lines added after the block stay; the block changes in place.
    (tmp_path / ".gitignore").write_text(first + "venv/\n")
    assert gitignore.update(tmp_path, ["data/events", "data/new"]) is True
    text = (tmp_path / ".gitignore").read_text()
    assert text == user + "\n" + "\n".join(
        [gitignore.BEGIN, "/data/events", "/data/new", gitignore.END, "venv/", ""]
    )
    # No paths left: the block goes, the user's lines stay.
    assert gitignore.update(tmp_path, []) is True
    assert (tmp_path / ".gitignore").read_text() == user + "\n" + "venv/\n"


def test_gitignore_patterns_escape_special_characters(tmp_path: Path) -> None:
    assert gitignore.pattern("data/#1 [x]*") == "/data/\\#1 \\[x\\]\\*"
    assert gitignore.pattern("trail ") == "/trail\\ "
    assert gitignore.update(tmp_path, ["."]) is False
    assert not (tmp_path / ".gitignore").exists()


def test_a_lock_that_is_not_text_or_not_a_file_is_one_usage_error(tmp_path: Path) -> None:
    (tmp_path / "dvlin.lock").write_bytes(b"\xff\xfeformat = 1\n")
    with pytest.raises(UsageError, match="dvlin.lock is not UTF-8 text"):
        lockfile.read(tmp_path)
    (tmp_path / "dvlin.lock").unlink()
    (tmp_path / "dvlin.lock").mkdir()
    with pytest.raises(UsageError, match="dvlin.lock"):
        lockfile.read(tmp_path)
    with pytest.raises(UsageError, match="dvlin.lock"):
        lockfile.write(tmp_path, [])
    assert (tmp_path / "dvlin.lock").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["dvlin.lock"]  # no temporary file left


def test_gitignore_keeps_crlf_and_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    user = b"*.pyc\r\n# caf\xe9\r\nbuild/"
    (tmp_path / ".gitignore").write_bytes(user)
    assert gitignore.update(tmp_path, ["data/events"]) is True
    text = (tmp_path / ".gitignore").read_bytes()
    block = f"{gitignore.BEGIN}\r\n/data/events\r\n{gitignore.END}\r\n".encode()
    assert text == user + b"\r\n" + block
    assert gitignore.update(tmp_path, ["data/events"]) is False
    assert gitignore.update(tmp_path, []) is True
    assert (tmp_path / ".gitignore").read_bytes() == user + b"\r\n"


def test_a_hand_edited_block_never_costs_user_lines(tmp_path: Path) -> None:
    b, e = gitignore.BEGIN, gitignore.END
    # The end marker deleted by hand: the lines after the start marker are the user's now.
    (tmp_path / ".gitignore").write_text(f"a\n{b}\n/data/old\nmine\n*.log\n")
    gitignore.update(tmp_path, ["data/ev"])
    text = (tmp_path / ".gitignore").read_text()
    assert text.startswith(f"a\n{b}\n/data/ev\n{e}\n")
    assert text.endswith("/data/old\nmine\n*.log\n")
    # Two blocks (a merge kept both): one block remains, user lines between stay.
    (tmp_path / ".gitignore").write_text(f"a\n{b}\n/x\n{e}\nb\n{b}  \n/y\n{e}\nc\n")
    gitignore.update(tmp_path, ["data/ev"])
    assert (tmp_path / ".gitignore").read_text() == f"a\n{b}\n/data/ev\n{e}\nb\nc\n"


def test_gitignore_patterns_never_span_lines() -> None:
    block = gitignore.render_block(["a\n!keep", "b\rc"])
    assert block == [gitignore.BEGIN, "/a?\\!keep", "/b?c", gitignore.END]


def test_a_gitignore_link_is_kept_and_never_written_through_out_of_the_repo(
    tmp_path: Path,
) -> None:
    import os

    repo, outside = tmp_path / "repo", tmp_path / "shared.gitignore"
    repo.mkdir()
    (repo / "ignores").write_text("*.pyc\n")
    os.symlink("ignores", repo / ".gitignore")
    assert gitignore.update(repo, ["data/ev"]) is True
    assert os.readlink(repo / ".gitignore") == "ignores"  # still the user's link
    assert (
        repo / "ignores"
    ).read_text() == f"*.pyc\n{gitignore.BEGIN}\n/data/ev\n{gitignore.END}\n"
    outside.write_text("*.log\n")
    (repo / ".gitignore").unlink()
    os.symlink(outside, repo / ".gitignore")
    assert gitignore.update(repo, ["data/ev"]) is False
    assert outside.read_text() == "*.log\n"
    assert os.readlink(repo / ".gitignore") == str(outside)
