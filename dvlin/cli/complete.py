"""Shell completion callbacks (typer's ``autocompletion``): they run only while completing."""

from __future__ import annotations


def _candidates(kind: str, incomplete: str) -> list[str]:
    from dvlin.ops import complete
    from dvlin.repo import Repo

    try:
        with Repo.open(".") as repo:
            if kind == "ref":
                return complete.ref_candidates(repo, incomplete)
            return complete.asset_candidates(repo, incomplete)
    # A broken or absent repo must never print a traceback into the user's shell prompt.
    except Exception:
        return []


def complete_asset(incomplete: str) -> list[str]:
    """Asset names."""
    return _candidates("asset", incomplete)


def complete_ref(incomplete: str) -> list[str]:
    """Asset names, then ``NAME@latest``, ``NAME@TAG`` and ``NAME@vN``."""
    return _candidates("ref", incomplete)
