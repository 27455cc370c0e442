"""OpenLineage events for a lineage subgraph, built as plain dicts (no client library).

For each run: a START and a COMPLETE (or FAIL) RunEvent; versions that no run produced go out
as DatasetEvents. Facet versions are pinned; tests validate every event and every facet
against the official JSON Schemas.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dvlin.catalog import Version
from dvlin.catalog.runs import Run
from dvlin.lineage.graph import Lineage

SPEC = "https://openlineage.io/spec"
EVENT_SCHEMA = f"{SPEC}/2-0-2/OpenLineage.json"
FACETS = {
    # facet key → (schema version, schema name)
    "version": ("1-0-1", "DatasetVersionDatasetFacet"),
    "schema": ("1-2-0", "SchemaDatasetFacet"),
    "datasetType": ("1-0-1", "DatasetTypeDatasetFacet"),
    "ownership": ("1-0-1", "OwnershipDatasetFacet"),
    "sourceCodeLocation": ("1-1-0", "SourceCodeLocationJobFacet"),
    "jobType": ("2-0-4", "JobTypeJobFacet"),
    "executionParameters": ("1-0-0", "ExecutionParametersRunFacet"),
    "errorMessage": ("1-0-1", "ErrorMessageRunFacet"),
}
_JOB_TYPES = {"run": "COMMAND", "track": "PYTHON", "link": "EXTERNAL", "register": "MODEL"}


def producer() -> str:
    """The URI OpenLineage records as the producer of every event and facet."""
    from dvlin.version import __version__

    return f"https://github.com/dvlin/dvlin/tree/v{__version__}"


def facet(key: str, **fields: Any) -> dict[str, Any]:
    """A facet with ``_producer`` and the ``_schemaURL`` of its pinned schema."""
    version, name = FACETS[key]
    return {
        "_producer": producer(),
        "_schemaURL": f"{SPEC}/facets/{version}/{name}.json#/$defs/{name}",
        **fields,
    }


def dataset(v: Version, *, namespace: str, kind: str, owner: str | None) -> dict[str, Any]:
    """A version as an OpenLineage dataset: name = asset, facets version/type/schema/owner."""
    facets: dict[str, Any] = {"version": facet("version", datasetVersion=v.id)}
    fields = _schema_fields(v)
    is_table = bool(fields)
    dtype = "MODEL" if kind == "model" else "TABLE" if is_table else "FILE"
    facets["datasetType"] = facet("datasetType", datasetType=dtype, subType=kind or "dataset")
    if fields:
        facets["schema"] = facet("schema", fields=fields)
    if owner:
        facets["ownership"] = facet("ownership", owners=[{"name": owner, "type": "OWNER"}])
    return {"namespace": namespace, "name": v.asset, "facets": facets}


def _schema_fields(v: Version) -> list[dict[str, Any]]:
    """Columns of the version's one table, or one nested field per table when it has several."""
    tables = {
        path: d for path, d in sorted(v.info.files.items()) if isinstance(d.get("columns"), list)
    }

    def columns(d: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"name": c["name"], "type": str(c["type"]), "ordinal_position": i}
            for i, c in enumerate(d["columns"], start=1)
        ]

    if len(tables) == 1:
        return columns(next(iter(tables.values())))
    return [
        {"name": path, "type": d.get("format", "table"), "fields": columns(d)}
        for path, d in tables.items()
    ]


def _job(run: Run, *, namespace: str) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "jobType": facet(
            "jobType",
            processingType="BATCH",
            integration="DVLIN",
            jobType=_JOB_TYPES.get(run.kind, "COMMAND"),
        )
    }
    code = run.code
    if code.get("commit"):
        remote = str(code.get("remote") or "")
        url = remote if remote.startswith(("http://", "https://")) else ""
        if not url and code.get("root"):
            url = Path(str(code["root"])).as_uri()
        if url:
            location: dict[str, Any] = {"type": "git", "url": url, "version": code["commit"]}
            if remote:
                location["repoUrl"] = remote
            if code.get("path"):
                location["path"] = code["path"]
            if code.get("branch"):
                location["branch"] = code["branch"]
            facets["sourceCodeLocation"] = facet("sourceCodeLocation", **location)
    return {"namespace": namespace, "name": run.transform, "facets": facets}


def _run_facets(run: Run, *, final: bool) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if run.params:
        facets["executionParameters"] = facet(
            "executionParameters",
            parameters=[{"key": k, "value": v} for k, v in sorted(run.params.items())],
        )
    if final and run.status == "failed":
        language = "python" if run.kind == "track" else "unknown"
        facets["errorMessage"] = facet(
            "errorMessage", message=run.error or "failed", programmingLanguage=language
        )
    return facets


def iter_events(
    lin: Lineage,
    *,
    namespace: str = "dvlin",
    dataset_namespace: str = "dvlin",
    produced: set[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """The events for every run and unproduced version in the subgraph, oldest first.

    ``produced`` holds the ids of versions some run output (in the whole catalog); without
    it, the subgraph's own output edges decide.
    """
    if produced is None:
        produced = {e.dst for e in lin.edges if e.kind == "output"}

    def ds(version_id: str) -> dict[str, Any] | None:
        v = lin.versions.get(version_id)
        if v is None:
            return None
        return dataset(
            v,
            namespace=dataset_namespace,
            kind=lin.kinds.get(v.asset, ""),
            owner=lin.owners.get(v.asset),
        )

    events: list[tuple[str, int, dict[str, Any]]] = []
    base = {"producer": producer(), "schemaURL": f"{EVENT_SCHEMA}#/$defs/RunEvent"}
    for run in lin.runs.values():
        inputs = [d for e in lin.edges if e.dst == run.id and (d := ds(e.src)) is not None]
        outputs = [d for e in lin.edges if e.src == run.id and (d := ds(e.dst)) is not None]
        job = _job(run, namespace=namespace)
        start: dict[str, Any] = {
            **base,
            "eventTime": run.started_at,
            "eventType": "START",
            "run": {"runId": run.uuid, "facets": _run_facets(run, final=False)},
            "job": job,
            "inputs": inputs,
            "outputs": [],
        }
        end: dict[str, Any] = {
            **base,
            "eventTime": run.ended_at or run.started_at,
            "eventType": "COMPLETE" if run.status == "succeeded" else "FAIL",
            "run": {"runId": run.uuid, "facets": _run_facets(run, final=True)},
            "job": job,
            "inputs": inputs,
            "outputs": outputs if run.status == "succeeded" else [],
        }
        events.append((run.started_at, 0, start))
        events.append((run.ended_at or run.started_at, 1, end))
    for vid, v in lin.versions.items():
        if vid in produced:
            continue
        d = ds(vid)
        assert d is not None
        events.append(
            (
                v.created_at,
                0,
                {
                    "producer": producer(),
                    "schemaURL": f"{EVENT_SCHEMA}#/$defs/DatasetEvent",
                    "eventTime": v.created_at,
                    "dataset": d,
                },
            )
        )
    events.sort(key=lambda t: (t[0], t[1]))
    for _, _, event in events:
        yield event


def to_jsonl(lin: Lineage, **options: Any) -> str:
    """The events as JSON lines."""
    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in iter_events(lin, **options))
