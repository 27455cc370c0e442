"""Drift between two stored profiles: PSI and KS for numbers, PSI and new/vanished categories
for strings, shifts for embeddings. Nothing here reads data; two profiles are enough, so a
1,000-column table compares in milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dvlin.values import sealed

PSI_BINS = 10
"""Deciles of the older version: the shared bins both distributions are counted in."""
_EPS = 1e-4
"""Floor for an empty bin's share, so PSI stays finite (the usual choice in credit scoring)."""


@sealed
@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where drift turns from low to medium and from medium to high."""

    psi_medium: float = 0.1
    psi_high: float = 0.25
    centroid_medium: float = 0.01
    centroid_high: float = 0.05
    mmd_medium: float = 0.02
    mmd_high: float = 0.1

    def label(self, psi: float | None) -> str | None:
        """low / medium / high for a PSI."""
        if psi is None:
            return None
        if psi >= self.psi_high:
            return "high"
        return "medium" if psi >= self.psi_medium else "low"

    def embedding_label(self, centroid_shift: float, mmd: float) -> str:
        """low / medium / high for an embedding shift: the worse of centroid and MMD."""
        if centroid_shift >= self.centroid_high or mmd >= self.mmd_high:
            return "high"
        if centroid_shift >= self.centroid_medium or mmd >= self.mmd_medium:
            return "medium"
        return "low"


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index of two distributions over the same bins."""
    total = 0.0
    for p, q in zip(expected, actual, strict=True):
        p, q = max(p, _EPS), max(q, _EPS)
        total += (q - p) * math.log(q / p)
    return total


def share_below(quantiles: Any, x: Any, *, inclusive: bool = False) -> Any:
    """P(value < x) — with ``inclusive``, P(value ≤ x) — read off profiles' quantiles, row by
    row (``quantiles``: columns × 101, ``x``: columns × points), linear between quantiles.

    A run of equal quantiles is a point mass: a point exactly at it gets the share below the
    run (or through it, ``inclusive``), so discrete columns bin like numpy's histogram.
    """
    import numpy as np

    q = np.asarray(quantiles, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    last = q.shape[1] - 1
    k = _searchsorted_rows(q, x, side="right" if inclusive else "left")
    if inclusive:
        # Through a run of equal quantiles: the share at its last member.
        at = np.take_along_axis(q, np.clip(k - 1, 0, last), axis=1)
        return np.where(
            k == 0, 0.0, np.where((at == x) | (k > last), (k - 1) / last, share_below(q, x))
        )
    below = np.take_along_axis(q, np.clip(k - 1, 0, last), axis=1)
    above = np.take_along_axis(q, np.clip(k, 0, last), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(above > below, (x - below) / (above - below), 1.0)
    rank = (np.clip(k - 1, 0, last) + frac) / last
    return np.where(k == 0, 0.0, np.where(k > last, 1.0, rank))


def _searchsorted_rows(q: Any, x: Any, *, side: str = "left") -> Any:
    """``searchsorted(q[i], x[i], side)`` for every row at once.

    Each row is mapped into its own interval [4i, 4i + 1] (points outside the row's range to
    just outside it), so one search over the flattened rows answers them all. Equal values map
    alike; values closer than ~1e-15 of the row's range may count as equal, far below what
    a profile's quantiles resolve.
    """
    import numpy as np

    if not (np.isfinite(q).all() and np.isfinite(x).all()):
        if side == "right":
            return (q[:, None, :] <= x[:, :, None]).sum(axis=2)
        return (q[:, None, :] < x[:, :, None]).sum(axis=2)
    lo = q[:, :1]
    span = q[:, -1:] - lo
    span = np.where(span > 0, span, 1.0)
    offset = 4.0 * np.arange(len(q))[:, None]
    keys = (offset + (q - lo) / span).ravel()
    wanted = offset + np.clip((x - lo) / span, -1.0, 2.0)
    found = np.searchsorted(keys, wanted.ravel(), side=side).reshape(x.shape)  # type: ignore[call-overload]
    return found - q.shape[1] * np.arange(len(q))[:, None]


def numeric_drift_many(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    """PSI over the older version's deciles, the KS statistic and the mean shift in pooled
    standard deviations for many column pairs at once, from their profiles' quantiles.

    No sketch is deserialized and every step is one array operation over all columns, so a
    1,000-column table compares in milliseconds.
    """
    import numpy as np

    out: list[dict[str, Any]] = [{} for _ in pairs]
    usable = [
        i
        for i, (a, b) in enumerate(pairs)
        if a.get("quantiles") and len(a["quantiles"]) == len(b.get("quantiles") or ())
    ]
    if usable:
        qa = np.asarray([pairs[i][0]["quantiles"] for i in usable], dtype=np.float64)
        qb = np.asarray([pairs[i][1]["quantiles"] for i in usable], dtype=np.float64)
        step = (qa.shape[1] - 1) // PSI_BINS
        # Repeated deciles (a discrete column) make empty bins on both sides: they add 0.
        edges = qa[:, step : qa.shape[1] - 1 : step][:, : PSI_BINS - 1]
        zeros, ones = np.zeros((len(usable), 1)), np.ones((len(usable), 1))
        share_a = np.diff(np.hstack([zeros, share_below(qa, edges), ones]), axis=1)
        share_b = np.diff(np.hstack([zeros, share_below(qb, edges), ones]), axis=1)
        pa_, pb_ = np.maximum(share_a, _EPS), np.maximum(share_b, _EPS)
        psis = ((pb_ - pa_) * np.log(pb_ / pa_)).sum(axis=1)
        # The CDFs differ most at one of the two sides' quantiles: look below and through each.
        points = np.hstack([qa, qb])
        ks = np.maximum(
            np.abs(share_below(qa, points) - share_below(qb, points)).max(axis=1),
            np.abs(
                share_below(qa, points, inclusive=True) - share_below(qb, points, inclusive=True)
            ).max(axis=1),
        )
        for j, i in enumerate(usable):
            out[i] = {"psi": float(psis[j]), "ks": float(ks[j])}
    for i, (a, b) in enumerate(pairs):
        if not out[i]:
            continue
        pooled = math.sqrt((a.get("std", 0.0) ** 2 + b.get("std", 0.0) ** 2) / 2)
        shift = b.get("mean", 0.0) - a.get("mean", 0.0)
        out[i]["mean_shift_std"] = shift / pooled if pooled > 0 else (0.0 if shift == 0 else None)
    return out


def numeric_drift(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """:func:`numeric_drift_many` for one pair of number columns."""
    return numeric_drift_many([(a, b)])[0]


def categorical_drift(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """PSI over the top values (plus one bucket for the rest) and new/vanished categories."""
    ta = {v: c for v, c in a.get("top", [])}
    tb = {v: c for v, c in b.get("top", [])}
    na, nb = a.get("count", 0), b.get("count", 0)
    if not na or not nb:
        return {}
    cats = sorted(set(ta) | set(tb))
    pa_ = [ta.get(c, 0) / na for c in cats]
    pb_ = [tb.get(c, 0) / nb for c in cats]
    rest_a, rest_b = max(0.0, 1 - sum(pa_)), max(0.0, 1 - sum(pb_))
    if rest_a > 1e-12 or rest_b > 1e-12:
        pa_.append(rest_a)
        pb_.append(rest_b)
    out: dict[str, Any] = {
        "psi": psi(pa_, pb_),
        "categories": [a.get("distinct"), b.get("distinct")],
    }
    # A value is new only if the older list was complete (else it may sit below its top-k),
    # and vanished only if the newer list is.
    if a.get("top_complete"):
        out["new"] = sorted(set(tb) - set(ta))
    if b.get("top_complete"):
        out["vanished"] = sorted(set(ta) - set(tb))
    return out


def column_drift(
    a: dict[str, Any],
    b: dict[str, Any],
    thresholds: Thresholds,
    *,
    numeric: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Statistics and drift of one column present in both profiles (``numeric``: its
    :func:`numeric_drift`, when the caller computed many at once)."""
    rows_a = a.get("count", 0) + a.get("nulls", 0)
    rows_b = b.get("count", 0) + b.get("nulls", 0)
    out: dict[str, Any] = {
        "name": b["name"],
        "kind": b.get("kind"),
        "type": [a.get("type"), b.get("type")],
        "null_fraction": [
            a.get("nulls", 0) / rows_a if rows_a else 0.0,
            b.get("nulls", 0) / rows_b if rows_b else 0.0,
        ],
        "distinct": [a.get("distinct"), b.get("distinct")],
    }
    if a.get("kind") != b.get("kind"):
        return out
    if b.get("kind") == "number":
        out["mean"] = [a.get("mean"), b.get("mean")]
        out.update(numeric if numeric is not None else numeric_drift(a, b))
    elif b.get("kind") in ("string", "boolean"):
        out.update(categorical_drift(a, b))
    elif b.get("kind") == "temporal":
        out["min"] = [a.get("min"), b.get("min")]
        out["max"] = [a.get("max"), b.get("max")]
    elif b.get("kind") == "vector" and "embedding" in a and "embedding" in b:
        out["embedding"] = _embedding(a["embedding"], b["embedding"], thresholds)
    if "psi" in out:
        out["drift"] = thresholds.label(out["psi"])
    elif "embedding" in out and "drift" in out["embedding"]:
        out["drift"] = out["embedding"]["drift"]
    return out


def _embedding(a: dict[str, Any], b: dict[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    from dvlin.inspect.vectors import embedding_drift

    return embedding_drift(a, b, thresholds)


def file_drift(
    a: dict[str, Any], b: dict[str, Any], thresholds: Thresholds | None = None
) -> dict[str, Any]:
    """Compare two file profiles: rows, columns added/removed, and each shared column."""
    thresholds = thresholds or Thresholds()
    out: dict[str, Any] = {"rows": [a.get("rows"), b.get("rows")]}
    if "error" in a or "error" in b:
        out["error"] = b.get("error") or a.get("error")
        return out
    if "embedding" in a or "embedding" in b:
        if "embedding" in a and "embedding" in b:
            out["embedding"] = _embedding(a["embedding"], b["embedding"], thresholds)
        return out
    ca = {c["name"]: c for c in a.get("columns", [])}
    cb = {c["name"]: c for c in b.get("columns", [])}
    shared = [n for n in cb if n in ca]
    numbers = [n for n in shared if ca[n].get("kind") == cb[n].get("kind") == "number"]
    numeric = dict(zip(numbers, numeric_drift_many([(ca[n], cb[n]) for n in numbers]), strict=True))
    out["columns"] = [
        column_drift(ca[n], cb[n], thresholds, numeric=numeric.get(n)) for n in shared
    ]
    out["added_columns"] = [n for n in cb if n not in ca]
    out["removed_columns"] = [n for n in ca if n not in cb]
    return out
