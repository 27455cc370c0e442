"""Who is acting: the author asked of git at once and read later is the same author."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvlin.identity import AuthorLater, author


@pytest.mark.parametrize(
    ("env_author", "gitconfig", "path_has_git"),
    [
        ("Env Person <env@example.org>", "", True),
        ("", "[user]\n  name = Ada\n  email = ada@example.org\n", True),
        ("", "[user]\n  name = Only Name\n", True),
        ("", "[user]\n  email = only@example.org\n", True),
        ("", "", True),
        ("", "[user]\n  name = Ada\n", False),
    ],
)
def test_author_later_names_who_author_names(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env_author: str,
    gitconfig: str,
    path_has_git: bool,
) -> None:
    config = tmp_path / "gitconfig"
    config.write_text(gitconfig)
    monkeypatch.setenv("DVLIN_AUTHOR", env_author)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no repository's own config
    if not path_has_git:
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    later = AuthorLater()
    expected = author()
    assert later() == expected
    assert later() == expected  # asked once, kept
    if env_author:
        assert expected == env_author
    elif "Ada" in gitconfig and path_has_git:
        assert expected == "Ada <ada@example.org>"


def test_an_unread_author_is_reaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVLIN_AUTHOR", "")
    later = AuthorLater()
    git = later._git
    later.close()
    assert later._git is None
    assert git is None or git.returncode is not None  # waited for, not left a zombie
