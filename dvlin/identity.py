"""Who is acting and when: used by every layer that records a change (ops, audit, repo)."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import subprocess


def utc_now() -> str:
    """The current UTC time as RFC 3339 with microseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def author() -> str:
    """Who is acting: ``DVLIN_AUTHOR``, else git's user.name <user.email>, else the OS user."""
    env = os.environ.get("DVLIN_AUTHOR", "").strip()
    if env:
        return env
    try:
        out = subprocess.run(
            ["git", "config", "--get-regexp", r"^user\.(name|email)$"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    values = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    name, email = values.get("user.name", "").strip(), values.get("user.email", "").strip()
    if name and email:
        return f"{name} <{email}>"
    if name or email:
        return name or email
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
