"""Embedding rules (``dim``, ``dtype``, ``finite``, ``unit_norm``, ``min_count``) over chunks of vectors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dvlin.policy.config import Quality
from dvlin.policy.results import MAX_EXAMPLES, RuleResult, verdict

if TYPE_CHECKING:
    import numpy as np


class EmbeddingQuality:
    """Accumulates the embedding rules of one asset over 2-D chunks ``(vectors, dim)``."""

    def __init__(self, quality: Quality) -> None:
        self.q = quality
        self.count = 0
        self.dims: dict[int, str] = {}
        """Each dimension seen, with the first file that had it."""
        self.dtypes: dict[str, str] = {}
        self.non_finite = 0
        self.non_finite_examples: list[dict[str, Any]] = []
        self.off_norm = 0
        self.off_norm_examples: list[dict[str, Any]] = []
        self.worst_norm_error = 0.0
        self.files: list[str] = []
        self.notes: list[str] = []

    def start_file(self, file: str, *, dim: int | None, dtype: str) -> None:
        """A new source of vectors: its dimension (None if not fixed) and element dtype."""
        self.files.append(file)
        self.dtypes.setdefault(dtype, file)
        if dim is not None:
            self.dims.setdefault(dim, file)

    def note(self, text: str) -> None:
        """Something that makes the vectors unreadable as embeddings (a failed ``dim`` rule)."""
        self.notes.append(text)

    def feed(self, chunk: np.ndarray[Any, Any], *, file: str, offset: int) -> None:
        """Account for ``chunk`` (2-D), whose first vector is number ``offset`` in ``file``."""
        import numpy as np

        self.count += chunk.shape[0]
        if not chunk.size:
            return
        values = chunk.astype(np.float64, copy=False)
        if self.q.finite or self.q.unit_norm is not None:
            finite_rows = np.isfinite(values).all(axis=1)
            bad = np.flatnonzero(~finite_rows)
            self.non_finite += len(bad)
            for i in bad[: MAX_EXAMPLES - len(self.non_finite_examples)]:
                self.non_finite_examples.append({"file": file, "row": offset + int(i)})
        if self.q.unit_norm is not None:
            norms = np.sqrt(np.einsum("ij,ij->i", values, values))
            err = np.abs(norms - 1.0)
            err = np.where(np.isnan(err), np.inf, err)
            bad = np.flatnonzero(err > self.q.unit_norm)
            self.off_norm += len(bad)
            if len(err):
                self.worst_norm_error = max(self.worst_norm_error, float(err.max()))
            for i in bad[: MAX_EXAMPLES - len(self.off_norm_examples)]:
                self.off_norm_examples.append(
                    {"file": file, "row": offset + int(i), "norm": float(norms[i])}
                )

    def results(self) -> list[RuleResult]:
        """One result per embedding rule."""
        q = self.q
        out: list[RuleResult] = []
        if not self.files:
            return [verdict(False, "embeddings", "vectors (.npy or a vector column)", "none found")]
        if q.dim is not None:
            wrong = {d: f for d, f in self.dims.items() if d != q.dim}
            found = ", ".join(f"{d} in {f}" for d, f in sorted(wrong.items())) or f"{q.dim}"
            if self.notes:
                found = "; ".join(self.notes[:2])
            out.append(
                verdict(
                    not wrong and not self.notes,
                    "dim",
                    f"{q.dim} dimensions",
                    found if wrong or self.notes else f"{q.dim} dimensions",
                    measured=sorted(self.dims),
                )
            )
        if q.dtype is not None:
            wrong_types = {t: f for t, f in self.dtypes.items() if t != q.dtype}
            out.append(
                verdict(
                    not wrong_types,
                    "dtype",
                    q.dtype,
                    ", ".join(f"{t} in {f}" for t, f in wrong_types.items()) or q.dtype,
                    measured=sorted(self.dtypes),
                )
            )
        if q.finite:
            out.append(
                verdict(
                    self.non_finite == 0,
                    "finite",
                    "no NaN or infinity",
                    f"{self.non_finite:,} vectors with NaN or infinity"
                    if self.non_finite
                    else "all finite",
                    measured=self.non_finite,
                    examples=tuple(self.non_finite_examples),
                )
            )
        if q.unit_norm is not None:
            out.append(
                verdict(
                    self.off_norm == 0,
                    "unit_norm",
                    f"‖v‖ within 1 ± {q.unit_norm:g}",
                    f"{self.off_norm:,} vectors off (worst error {self.worst_norm_error:.3g})"
                    if self.off_norm
                    else f"worst error {self.worst_norm_error:.3g}",
                    measured=self.off_norm,
                    examples=tuple(self.off_norm_examples),
                )
            )
        if q.min_count is not None:
            out.append(
                verdict(
                    self.count >= q.min_count,
                    "min_count",
                    f"≥ {q.min_count:,} vectors",
                    f"{self.count:,} vectors",
                    measured=self.count,
                )
            )
        return out
