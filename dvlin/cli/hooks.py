"""Entry points for the pre-commit hooks in ``.pre-commit-hooks.yaml``.

``python -m dvlin.cli.hooks status`` exits 1 while any tracked asset has uncommitted changes
(``dvlin status`` itself reports and exits 0, like ``git status``).
"""

from __future__ import annotations

import sys

from dvlin.errors import DvlinError, ExitCode


def status() -> int:
    """Print the modified assets; 0 when everything is committed, 1 otherwise."""
    from dvlin.repo import Repo

    with Repo.open(".") as repo:
        report = repo.status()
    if report.clean:
        return int(ExitCode.OK)
    data = report.to_dict()
    for a in data["assets"]:
        if a["state"] != "clean":
            c = a["changes"]
            print(
                f"{a['asset']}: {a['state']} ({c['added']} added, {c['changed']} changed, "
                f"{c['removed']} removed) — commit it with dvlin commit {a['path']} "
                f"--name {a['asset']}"
            )
    return int(ExitCode.CHECK_FAILED)


def main(argv: list[str] | None = None) -> int:
    """``python -m dvlin.cli.hooks HOOK``."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["status"]:
        print("usage: python -m dvlin.cli.hooks status", file=sys.stderr)
        return int(ExitCode.USAGE)
    try:
        return status()
    except DvlinError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return int(exc.exit_code)


if __name__ == "__main__":
    sys.exit(main())
