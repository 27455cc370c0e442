"""Profile embedding vectors (``.npy`` files, list columns) and compare two such profiles.

An embedding profile keeps the count, dimension, dtype, non-finite rows, the distribution of
norms (KLL), the centroid, and a small sample of vectors chosen by a fixed hash of the row
number, so two versions of the same rows sample the same rows and their nearest neighbours can
be compared.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dvlin.inspect.profile import KLL_K, PROFILER, b64, unb64

if TYPE_CHECKING:
    from dvlin.inspect.drift import Thresholds

SAMPLE_FLOATS = 65_536
"""The sample holds at most this many numbers (256 KiB as float32): 85 vectors of dim 768,
256 vectors of dim 256 or less."""
MAX_SAMPLE = 256
NORM_QUANTILES = 21
_STEP_BYTES = 8 << 20


def _row_keys(rows: Any) -> Any:
    """splitmix64 of the row numbers: a fixed, well-mixed sampling key per row."""
    import numpy as np

    from dvlin.inspect.profile import splitmix64

    return splitmix64(rows.astype(np.uint64))


class VectorProfiler:
    """Accumulates an embedding profile over blocks of vectors."""

    def __init__(self) -> None:
        import datasketches as ds

        self.count = 0
        self.dim: int | None = None
        self.dtype: str | None = None
        self.nonfinite = 0
        self.note: str | None = None
        self.norms = ds.kll_doubles_sketch(KLL_K)
        self.norm_sum = 0.0
        self.norm_sq = 0.0
        self.finite = 0
        self.centroid: Any = None
        self.sample_keys: Any = None
        self.sample_rows: Any = None
        self.sample: Any = None

    def feed_arrow(self, arr: Any, *, offset: int) -> None:
        """Add one batch of a list column (nulls are skipped, uneven lengths noted)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.note:
            return
        rows = np.arange(offset, offset + len(arr))
        if arr.null_count:
            keep = pc.is_valid(arr)
            rows = rows[keep.to_numpy(zero_copy_only=False)]
            arr = arr.filter(keep)
        if not len(arr):
            return
        if pa.types.is_fixed_size_list(arr.type):
            dim = arr.type.list_size
        else:
            lengths = pc.unique(pc.list_value_length(arr)).to_pylist()
            if len(lengths) != 1:
                self.note = f"vectors of lengths {sorted(lengths)[:4]}"
                return
            dim = lengths[0]
        values = arr.flatten().to_numpy(zero_copy_only=False)
        self.feed(values.reshape(-1, dim), rows)

    def feed(self, block: Any, rows: Any) -> None:
        """Add a block of vectors (n × dim) whose row numbers are ``rows``."""
        import numpy as np

        n, dim = block.shape
        if self.dim is None:
            self.dim = dim
            self.centroid = np.zeros(dim, dtype=np.float64)
        elif dim != self.dim:
            self.note = f"vectors of dims {self.dim} and {dim}"
            return
        if self.dtype is None:
            self.dtype = block.dtype.name
        self.count += n
        block = block.astype(np.float64, copy=False)
        ok = np.isfinite(block).all(axis=1)
        if not ok.all():
            self.nonfinite += int(n - ok.sum())
            block, rows = block[ok], rows[ok]
        if not len(block):
            return
        norms = np.linalg.norm(block, axis=1)
        self.norms.update(norms)
        self.norm_sum += float(norms.sum())
        self.norm_sq += float((norms * norms).sum())
        self.finite += len(block)
        self.centroid += block.sum(axis=0)
        self._sample(block, rows)

    def _sample(self, block: Any, rows: Any) -> None:
        import numpy as np

        size = max(8, min(MAX_SAMPLE, SAMPLE_FLOATS // max(1, self.dim or 1)))
        keys = _row_keys(rows)
        if self.sample_keys is not None:
            keys = np.concatenate([self.sample_keys, keys])
            rows = np.concatenate([self.sample_rows, rows])
            block = np.concatenate([self.sample, block])
        if len(keys) > size:
            keep = np.argpartition(keys, size - 1)[:size]
            keys, rows, block = keys[keep], rows[keep], block[keep]
        self.sample_keys, self.sample_rows, self.sample = keys, rows, block.copy()

    def result(self) -> dict[str, Any]:
        """The embedding profile as JSON-ready data."""
        import numpy as np

        out: dict[str, Any] = {
            "count": self.count,
            "dim": self.dim,
            "dtype": self.dtype,
            "nonfinite": self.nonfinite,
        }
        if self.note:
            out["note"] = self.note
            return out
        if self.finite:
            mean = self.norm_sum / self.finite
            var = max(0.0, self.norm_sq / self.finite - mean * mean)
            ranks = [i / (NORM_QUANTILES - 1) for i in range(NORM_QUANTILES)]
            out["norm"] = {
                "mean": mean,
                "std": math.sqrt(var),
                "min": float(self.norms.get_min_value()),
                "max": float(self.norms.get_max_value()),
                "quantiles": [float(q) for q in self.norms.get_quantiles(ranks)],
                "kll": b64(self.norms.serialize()),
            }
            out["centroid"] = b64((self.centroid / self.finite).astype("<f4").tobytes())
            order = np.argsort(self.sample_rows)
            out["sample"] = {
                "rows": [int(r) for r in self.sample_rows[order]],
                "vectors": b64(self.sample[order].astype("<f4").tobytes()),
            }
        return out


def profile_npy(abs_path: str) -> dict[str, Any]:
    """The embedding profile of a 2-D ``.npy`` array, read through a memory map."""
    import numpy as np

    try:
        array = np.load(abs_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
        return {"profiler": PROFILER, "format": "npy", "error": str(exc)[:200]}
    if array.ndim != 2:
        return {
            "profiler": PROFILER,
            "format": "npy",
            "error": f"shape {tuple(array.shape)}, not (vectors, dim)",
        }
    profiler = VectorProfiler()
    profiler.dtype = array.dtype.name
    step = max(1, _STEP_BYTES // max(1, array.shape[1] * array.itemsize))
    for start in range(0, array.shape[0], step):
        block = np.asarray(array[start : start + step])
        profiler.feed(block, np.arange(start, start + len(block)))
    return {
        "profiler": PROFILER,
        "format": "npy",
        "rows": int(array.shape[0]),
        "embedding": profiler.result(),
    }


# -- comparing two embedding profiles ----------------------------------------------------------


def _centroid(p: dict[str, Any]) -> Any:
    import numpy as np

    return np.frombuffer(unb64(p["centroid"]), dtype="<f4").astype(np.float64)


def _sample(p: dict[str, Any]) -> tuple[Any, Any]:
    import numpy as np

    s = p["sample"]
    vectors = np.frombuffer(unb64(s["vectors"]), dtype="<f4").astype(np.float64)
    return np.asarray(s["rows"], dtype=np.int64), vectors.reshape(len(s["rows"]), -1)


def cosine_distance(a: Any, b: Any) -> float:
    """1 − cos(a, b); 0 for two zero vectors, 1 when only one is zero."""
    import numpy as np

    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0 if na == nb else 1.0
    return float(1.0 - np.dot(a, b) / (na * nb))


def nn_moved(rows_a: Any, xa: Any, rows_b: Any, xb: Any) -> tuple[float | None, int]:
    """Share of the sampled rows present in both whose nearest neighbour (among them) changed."""
    import numpy as np

    shared, ia, ib = np.intersect1d(rows_a, rows_b, return_indices=True)
    if len(shared) < 3:
        return None, len(shared)

    def nearest(x: Any) -> Any:
        d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
        np.fill_diagonal(d, np.inf)
        return d.argmin(axis=1)

    moved = nearest(xa[ia]) != nearest(xb[ib])
    return float(moved.mean()), len(shared)


def mmd(xa: Any, xb: Any) -> float:
    """Unbiased MMD² between two samples, Gaussian kernel with the median-distance bandwidth."""
    import numpy as np

    if len(xa) < 2 or len(xb) < 2:
        return 0.0
    pooled = np.concatenate([xa, xb])
    sq = (pooled * pooled).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * pooled @ pooled.T, 0.0)
    upper = d2[np.triu_indices(len(pooled), 1)]
    bandwidth = float(np.median(upper)) or 1.0
    k = np.exp(-d2 / bandwidth)
    n, m = len(xa), len(xb)
    kaa, kbb, kab = k[:n, :n], k[n:, n:], k[:n, n:]
    term_a = (kaa.sum() - np.trace(kaa)) / (n * (n - 1))
    term_b = (kbb.sum() - np.trace(kbb)) / (m * (m - 1))
    return float(term_a + term_b - 2 * kab.mean())


def embedding_drift(
    a: dict[str, Any], b: dict[str, Any], thresholds: Thresholds | None = None
) -> dict[str, Any]:
    """Compare two embedding profiles: count, dim, norms, centroid shift, NN moved, MMD."""
    from dvlin.inspect.drift import Thresholds

    out: dict[str, Any] = {
        "count": [a.get("count"), b.get("count")],
        "dim": [a.get("dim"), b.get("dim")],
        "dtype": [a.get("dtype"), b.get("dtype")],
        "nonfinite": [a.get("nonfinite", 0), b.get("nonfinite", 0)],
    }
    if "norm" in a and "norm" in b:
        out["mean_norm"] = [a["norm"]["mean"], b["norm"]["mean"]]
        out["mean_norm_change"] = b["norm"]["mean"] - a["norm"]["mean"]
    if a.get("dim") != b.get("dim") or "centroid" not in a or "centroid" not in b:
        out["comparable"] = False
        return out
    out["comparable"] = True
    out["centroid_shift"] = cosine_distance(_centroid(a), _centroid(b))
    rows_a, xa = _sample(a)
    rows_b, xb = _sample(b)
    moved, shared = nn_moved(rows_a, xa, rows_b, xb)
    out["nn_moved"] = moved
    out["nn_compared"] = shared
    out["mmd"] = mmd(xa, xb)
    out["drift"] = (thresholds or Thresholds()).embedding_label(out["centroid_shift"], out["mmd"])
    return out
