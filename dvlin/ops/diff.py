"""Moved to :mod:`dvlin.objects.diff`; kept while callers move over."""

from __future__ import annotations

from dvlin.objects.diff import Diff, diff_entries, diff_manifests

__all__ = ["Diff", "diff_entries", "diff_manifests"]
