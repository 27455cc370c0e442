"""The lineage DAG: subgraphs loaded from the catalog, analysis, and exports."""
