"""``dvlin pull``: two pulls at once, and pulls killed half-way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dvlin import Repo
from dvlin.errors import ConflictError
from tests.conftest import Cli, snapshot, write_tree
from tests.remote.conftest import RemoteSpec


def _two_clones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, url: str) -> Path:
    """Clone ``b`` at ev@v1; ``a`` then pushed ev@v2 and a new asset."""
    a = tmp_path / "a"
    a.mkdir()
    monkeypatch.chdir(a)
    cli("init", ok=True)
    write_tree(a, {"data/ev/a.txt": "1\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", url, ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    cli("clone", url, str(b), ok=True)
    write_tree(a, {"data/ev/b.txt": "2\n", "data/new/n.txt": "n\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("commit", "data/new", "--name", "new", ok=True)
    cli("push", ok=True)
    monkeypatch.chdir(b)
    return b


@pytest.mark.parametrize("remote", ["file"], indirect=True)
def test_a_second_pull_cannot_lose_what_a_killed_pull_was_to_check_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    """Pull B has read the heads; pull A fetches and is killed; B must still check out all.

    Both share ``pull-pending.json``: a pull holds the repo lock from before it reads the
    plan until its last checkout, so the other waits (here: gives up) instead of racing.
    """
    import dvlin.ops.checkout as checkout_mod
    import dvlin.ops.pull as pull_mod

    b = _two_clones(tmp_path, monkeypatch, cli, remote.url)
    monkeypatch.setenv("DVLIN_LOCK_TIMEOUT", "0.2")
    real_fetch, real_checkout = pull_mod.fetch, checkout_mod.checkout
    other: list[str] = []

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    def fetch_of_b(*args: Any, **kwargs: Any) -> Any:
        if not other:  # pull A runs now, in its own process (its own Repo, its own lock)
            monkeypatch.setattr(pull_mod, "fetch", real_fetch)
            monkeypatch.setattr(checkout_mod, "checkout", killed)
            try:
                with Repo.open(b) as repo_a:
                    pull_mod.pull(repo_a)
                other.append("pull A ran and was killed after its fetch")
            except ConflictError:
                other.append("pull A waited for pull B")
            except KeyboardInterrupt:
                other.append("pull A ran and was killed after its fetch")
            monkeypatch.setattr(checkout_mod, "checkout", real_checkout)
        return real_fetch(*args, **kwargs)

    monkeypatch.setattr(pull_mod, "fetch", fetch_of_b)
    with Repo.open(b) as repo_b:
        pull_mod.pull(repo_b)
    cli("pull", ok=True)  # and any rerun finishes what is left
    assert snapshot(b / "data") == snapshot(tmp_path / "a" / "data"), other
