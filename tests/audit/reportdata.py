"""A small catalog for the audit report's tests: overrides, a hold, gc, three levels of lineage.

raw@v1 → (clean run) → clean@v1 → (featurize run) → features@v1 → (train) → m@v1. raw also
has v2 (a shifted table, so drift has something to say) and v0 … that gc expired; hostile
strings sit in a message, a reason, an owner and a column name.
"""

from __future__ import annotations

from pathlib import Path

from dvlin import Repo
from tests.conftest import write_tree

HOSTILE = "<script>alert('x')</script>"
HOSTILE_COLUMN = '<img src=x onerror="alert(1)">'
LEGACY_ASSET = "old"


def table(path: Path, values: list[float], *, shift: float = 0.0) -> None:
    """A Parquet file with a number column and one whose name is markup."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "amount": [v + shift for v in values],
                HOSTILE_COLUMN: [f"{'new' if shift else 'c'}{int(v) % 3}" for v in values],
            }
        ),
        path,
    )


def build(repo: Repo) -> Repo:
    """Fill ``repo`` (closed afterwards, so the caller may reopen or tamper with it)."""
    from dvlin.ops import gc
    from dvlin.ops.commit import commit
    from dvlin.ops.link import link
    from dvlin.ops.model import register, set_stage
    from dvlin.ops.retention import hold

    (repo.root / "dvlin.toml").write_text(
        "[assets.raw]\n"
        'path = "raw"\n'
        f'owner = "{HOSTILE}"\n'
        "[assets.raw.quality]\n"
        'required_files = ["README.txt"]\n'
        "[assets.old]\n"
        'path = "old"\n'
        "[assets.old.retention]\n"
        "keep_last = 1\n"
    )
    # An asset gc expires: three versions, keep the last one.
    for i in range(3):
        write_tree(repo.root, {"old/n.txt": str(i)})
        repo.commit(["old"], name=LEGACY_ASSET, message=f"old {i}")
    values = [float(i % 50) for i in range(400)]
    table(repo.root / "raw" / "t.parquet", values)
    commit(
        repo,
        ["raw"],
        name="raw",
        message=f"first load {HOSTILE}",
        force=True,
        reason=f"backfill DATA-231 {HOSTILE}",
    )
    table(repo.root / "raw" / "t.parquet", values, shift=40.0)
    write_tree(repo.root, {"raw/README.txt": "ok"})
    repo.commit(["raw"], name="raw", message="second load")
    write_tree(repo.root, {"clean/c.txt": "clean", "features/f.txt": "feat", "models/m.pt": "w"})
    repo.commit(["clean"], name="clean")
    repo.commit(["features"], name="features", kind="features")
    link(repo, ["raw@v1"], "clean@v1", transform="clean")
    link(repo, ["clean@v1"], "features@v1", transform="featurize")
    register(repo, ["models/m.pt"], name="m", trained_on=["features"], stage="staging")
    set_stage(repo, "m", "production")
    hold(repo, "raw@v1", reason="litigation L-17")
    gc.apply(repo)
    repo.close()
    return repo
