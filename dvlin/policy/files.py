"""Rules for any asset, over its file list: sizes, include/exclude globs, required files."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from dvlin.policy.config import Quality
from dvlin.policy.results import MAX_EXAMPLES, RuleResult, human_bytes, verdict
from dvlin.wording import plural


def glob_match(path: str, pattern: str) -> bool:
    """``fnmatch`` on the POSIX path; a pattern without ``/`` matches the file name alone."""
    if "/" not in pattern:
        return fnmatchcase(path.rsplit("/", 1)[-1], pattern)
    return fnmatchcase(path, pattern)


def file_rules(quality: Quality, files: Sequence[tuple[str, int]]) -> list[RuleResult]:
    """Evaluate the any-asset rules on ``(path, size)`` pairs (paths relative to the asset)."""
    out: list[RuleResult] = []
    q = quality
    if q.max_file_size is not None:
        big = [(p, s) for p, s in files if s > q.max_file_size]
        out.append(
            verdict(
                not big,
                "max_file_size",
                f"every file ≤ {human_bytes(q.max_file_size)}",
                f"{plural(len(big), 'file')} larger (biggest {human_bytes(max(s for _, s in big))})"
                if big
                else f"largest {human_bytes(max((s for _, s in files), default=0))}",
                measured=max((s for _, s in files), default=0),
                examples=tuple({"file": p, "size": s} for p, s in big[:MAX_EXAMPLES]),
            )
        )
    if q.include:
        stray = [p for p, _ in files if not any(glob_match(p, g) for g in q.include)]
        out.append(
            verdict(
                not stray,
                "include",
                f"only files matching {', '.join(q.include)}",
                f"{plural(len(stray), 'other file')}" if stray else "all files match",
                measured=len(stray),
                examples=tuple({"file": p} for p in stray[:MAX_EXAMPLES]),
            )
        )
    if q.exclude:
        hit = [p for p, _ in files if any(glob_match(p, g) for g in q.exclude)]
        out.append(
            verdict(
                not hit,
                "exclude",
                f"no files matching {', '.join(q.exclude)}",
                f"{plural(len(hit), 'excluded file')} present" if hit else "none present",
                measured=len(hit),
                examples=tuple({"file": p} for p in hit[:MAX_EXAMPLES]),
            )
        )
    for required in q.required_files:
        present = any(p == required or glob_match(p, required) for p, _ in files)
        out.append(
            verdict(
                present,
                "required_files",
                f"{required} present",
                "present" if present else "missing",
                file=required,
            )
        )
    return out
