"""Who is acting and when: used by every layer that records a change (ops, audit, repo)."""

from __future__ import annotations

import datetime as dt
import getpass
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess


def utc_now() -> str:
    """The current UTC time as RFC 3339 with microseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


_GIT_AUTHOR = ["git", "config", "--get-regexp", r"^user\.(name|email)$"]


def author() -> str:
    """Who is acting: ``DVLIN_AUTHOR``, else git's user.name <user.email>, else the OS user."""
    env = os.environ.get("DVLIN_AUTHOR", "").strip()
    if env:
        return env
    import subprocess  # only here and in AuthorLater: a checkout asks no one (~3 ms)

    try:
        out = subprocess.run(
            _GIT_AUTHOR, capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    return _named(out)


class AuthorLater:
    """:func:`author`, with git asked now and its answer read when called: the ``git config``
    process (4-7 ms) runs while the caller works. :meth:`close` reaps it if never called."""

    def __init__(self) -> None:
        self._known = os.environ.get("DVLIN_AUTHOR", "").strip() or None
        self._git: subprocess.Popen[str] | None = None
        if self._known is None:
            import subprocess

            try:
                self._git = subprocess.Popen(
                    _GIT_AUTHOR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
                )
            except (OSError, subprocess.SubprocessError):
                self._git = None

    def __call__(self) -> str:
        if self._known is None:
            self._known = _named(self._git_output())
        return self._known

    def close(self) -> None:
        """Reap the ``git`` process if its answer was never read."""
        self._git_output()

    def _git_output(self) -> str:
        git, self._git = self._git, None
        if git is None:
            return ""
        import subprocess

        try:
            out, _ = git.communicate(timeout=5)
        except (OSError, subprocess.SubprocessError):
            git.kill()
            git.communicate()
            return ""
        return out or ""


def _named(git_output: str) -> str:
    """git's ``user.name <user.email>`` from ``git config --get-regexp``, else the OS user."""
    values = dict(line.split(" ", 1) for line in git_output.splitlines() if " " in line)
    name, email = values.get("user.name", "").strip(), values.get("user.email", "").strip()
    if name and email:
        return f"{name} <{email}>"
    if name or email:
        return name or email
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
