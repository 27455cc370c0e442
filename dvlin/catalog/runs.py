"""SQL for lineage: runs, the edges of the DAG, recursive walks, and model stages.

Nodes are version ids (32 hex) and run ids (``r-`` + 32 hex); an edge ``src → dst`` points
the way data flows. Walks run in SQLite with recursive CTEs, so a query touches only the
part of the graph it returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dvlin.catalog.catalog import VERSION_COLUMNS, Catalog, Version, select_in
from dvlin.ids import VersionId
from dvlin.values import sealed

RUN_PREFIX = "r-"
EDGE_KINDS = ("input", "output", "derived_from")

_RUN_COLUMNS = (
    "id, kind, transform, status, exit_code, command, shell, cwd, started_at, ended_at, "
    "params, metrics, code, env, spec, author, error"
)


def is_run_id(node: str) -> bool:
    """True for a run node id (``r-…``), False for a version id."""
    return node.startswith(RUN_PREFIX)


@sealed
@dataclass(frozen=True, slots=True)
class Run:
    """One execution of a transform (or a hand-recorded link, or a model registration)."""

    id: str
    kind: str
    """``run`` (dvlin run), ``track`` (Python API), ``link`` (recorded by hand), ``register``."""
    transform: str
    status: str
    """``succeeded`` or ``failed``."""
    exit_code: int | None
    command: tuple[str, ...]
    shell: bool
    cwd: str
    started_at: str
    ended_at: str | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    code: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    """How to run it again: the input refs and output ``PATH:ASSET`` specs as given."""
    author: str = ""
    error: str | None = None

    @property
    def short(self) -> str:
        """``r-8c1e2f3a``: how people talk about a run."""
        return self.id[:10]

    @property
    def uuid(self) -> str:
        """The run id as a UUID string (OpenLineage's runId)."""
        h = self.id[len(RUN_PREFIX) :]
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when both are known."""
        if not self.ended_at:
            return None
        import datetime as dt

        def parse(s: str) -> dt.datetime:
            return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))

        return (parse(self.ended_at) - parse(self.started_at)).total_seconds()

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Run:
        """Build from a row selected with ``_RUN_COLUMNS``."""
        return cls(
            id=row[0],
            kind=row[1],
            transform=row[2],
            status=row[3],
            exit_code=row[4],
            command=tuple(json.loads(row[5] or "[]")),
            shell=bool(row[6]),
            cwd=row[7] or ".",
            started_at=row[8],
            ended_at=row[9],
            params=json.loads(row[10] or "{}"),
            metrics=json.loads(row[11] or "{}"),
            code=json.loads(row[12] or "{}"),
            env=json.loads(row[13] or "{}"),
            spec=json.loads(row[14] or "{}"),
            author=row[15] or "",
            error=row[16],
        )

    def to_dict(self) -> dict[str, Any]:
        """The stable ``--json`` shape of a run."""
        return {
            "id": self.id,
            "kind": self.kind,
            "transform": self.transform,
            "status": self.status,
            "exit_code": self.exit_code,
            "command": list(self.command),
            "shell": self.shell,
            "cwd": self.cwd,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration": self.duration,
            "params": self.params,
            "metrics": self.metrics,
            "code": self.code,
            "env": self.env,
            "author": self.author,
            "error": self.error,
        }


@sealed
@dataclass(frozen=True, slots=True)
class Edge:
    """One edge of the DAG: data flows from ``src`` to ``dst``."""

    src: str
    dst: str
    kind: str


@sealed
@dataclass(frozen=True, slots=True)
class StageChange:
    """A model version moved to a stage, by whom and when."""

    version: VersionId
    stage: str
    author: str
    created_at: str


class LineageStore:
    """Lineage queries over an open :class:`Catalog` (writes happen in its transactions)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.conn = catalog.conn

    # -- runs ---------------------------------------------------------------------------------

    def insert_run(self, run: Run) -> None:
        """Record a run (inside the caller's transaction)."""
        self.conn.execute(
            f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.id,
                run.kind,
                run.transform,
                run.status,
                run.exit_code,
                json.dumps(list(run.command)),
                int(run.shell),
                run.cwd,
                run.started_at,
                run.ended_at,
                json.dumps(run.params, sort_keys=True),
                json.dumps(run.metrics, sort_keys=True),
                json.dumps(run.code, sort_keys=True),
                json.dumps(run.env, sort_keys=True),
                json.dumps(run.spec, sort_keys=True),
                run.author,
                run.error,
            ),
        )

    def run(self, run_id: str) -> Run | None:
        """The run with exactly this id."""
        row = self.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        return Run.from_row(row) if row else None

    def runs(self, run_ids: Iterable[str]) -> dict[str, Run]:
        """Runs by id, for those that exist (one query per 500 ids)."""
        rows = select_in(
            self.conn, f"SELECT {_RUN_COLUMNS} FROM runs WHERE id IN ({{marks}})", run_ids
        )
        return {row[0]: Run.from_row(row) for row in rows}

    def runs_with_prefix(self, prefix: str, *, limit: int = 10) -> list[Run]:
        """Runs whose id starts with ``prefix`` (``r-`` included)."""
        rows = self.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, prefix + "g", limit),
        )
        return [Run.from_row(r) for r in rows]

    def iter_runs(self, *, limit: int | None = None) -> Iterator[Run]:
        """Runs newest first, read as they are consumed."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY started_at DESC"
        args: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            args = (limit,)
        for r in self.conn.execute(sql, args):
            yield Run.from_row(r)

    def versions(self, version_ids: Iterable[str]) -> dict[str, Version]:
        """Versions by id, for those that exist (one query per 500 ids)."""
        rows = select_in(
            self.conn,
            f"SELECT {VERSION_COLUMNS} FROM versions WHERE id IN ({{marks}})",
            version_ids,
        )
        return {row[0]: Version.from_row(row) for row in rows}

    def asset_info(self, names: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        """Asset name → (kind, owner)."""
        rows = select_in(
            self.conn, "SELECT name, kind, owner FROM assets WHERE name IN ({marks})", names
        )
        return {name: (kind, owner) for name, kind, owner in rows}

    # -- edges --------------------------------------------------------------------------------

    def insert_edges(self, edges: Iterable[Edge]) -> None:
        """Record edges (inside the caller's transaction); an edge already there is kept."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO edges (src, dst, kind) VALUES (?, ?, ?)",
            ((e.src, e.dst, e.kind) for e in edges),
        )

    def edges_into(self, node: str) -> list[Edge]:
        """Edges ending at ``node``."""
        rows = self.conn.execute(
            "SELECT src, dst, kind FROM edges WHERE dst = ? ORDER BY src", (node,)
        )
        return [Edge(*r) for r in rows]

    def edges_from(self, node: str) -> list[Edge]:
        """Edges starting at ``node``."""
        rows = self.conn.execute(
            "SELECT src, dst, kind FROM edges WHERE src = ? ORDER BY dst", (node,)
        )
        return [Edge(*r) for r in rows]

    def is_upstream(self, node: str, of: str) -> bool:
        """True when ``node`` is ``of`` itself or one of its ancestors (a new ``of → node`` edge
        would close a cycle)."""
        if node == of:
            return True
        row = self.conn.execute(
            """
            WITH RECURSIVE up(node) AS (
                SELECT ?
                UNION
                SELECT e.src FROM edges e JOIN up ON e.dst = up.node
            )
            SELECT 1 FROM up WHERE node = ? LIMIT 1
            """,
            (of, node),
        ).fetchone()
        return row is not None

    def walk(self, start: str, *, upstream: bool, depth: int | None = None) -> list[Edge]:
        """The edges reachable from ``start`` going up (towards sources) or down.

        Unlimited depth walks nodes once each (``UNION`` on the node alone); a depth limit
        walks ``(node, hops)`` pairs, pruned at ``depth``.
        """
        near, far = ("dst", "src") if upstream else ("src", "dst")
        if depth is None:
            sql = f"""
                WITH RECURSIVE reach(node) AS (
                    SELECT ?
                    UNION
                    SELECT e.{far} FROM edges e JOIN reach r ON e.{near} = r.node
                )
                SELECT e.src, e.dst, e.kind FROM edges e
                WHERE e.{near} IN (SELECT node FROM reach)
            """
            rows = self.conn.execute(sql, (start,))
        else:
            sql = f"""
                WITH RECURSIVE reach(node, hops) AS (
                    SELECT ?, 0
                    UNION
                    SELECT e.{far}, r.hops + 1 FROM edges e JOIN reach r ON e.{near} = r.node
                    WHERE r.hops < ?
                )
                SELECT e.src, e.dst, e.kind FROM edges e
                WHERE e.{near} IN (SELECT node FROM reach WHERE hops < ?)
            """
            rows = self.conn.execute(sql, (start, depth, depth))
        return [Edge(*r) for r in rows]

    def producers(self, version_ids: Sequence[str]) -> dict[str, str]:
        """For each version, the newest succeeded run that output it (versions without one
        are left out)."""
        found: dict[str, str] = {}
        rows = select_in(
            self.conn,
            """
            SELECT e.dst, r.id FROM edges e JOIN runs r ON r.id = e.src
            WHERE e.kind = 'output' AND e.dst IN ({marks}) AND r.status = 'succeeded'
            ORDER BY r.started_at
            """,
            version_ids,
        )
        for version, run_id in rows:
            found[version] = run_id  # ordered by time within a batch: the newest wins
        return found

    # -- model stages -------------------------------------------------------------------------

    def insert_stage(self, change: StageChange) -> None:
        """Record a stage change (inside the caller's transaction)."""
        self.conn.execute(
            "INSERT INTO model_stages (version, stage, author, created_at) VALUES (?, ?, ?, ?)",
            (change.version, change.stage, change.author, change.created_at),
        )

    def stage_history(self, version_id: str) -> list[StageChange]:
        """Every stage change of a model version, oldest first."""
        rows = self.conn.execute(
            "SELECT version, stage, author, created_at FROM model_stages WHERE version = ? "
            "ORDER BY seq",
            (version_id,),
        )
        return [StageChange(*r) for r in rows]

    def current_stages(self) -> dict[str, str]:
        """The current stage of every model version that has one."""
        rows = self.conn.execute(
            "SELECT version, stage FROM model_stages ORDER BY seq",
        )
        return dict(rows.fetchall())
