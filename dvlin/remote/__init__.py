"""Remotes: share objects and catalog records through any object store, with no server.

Layout (see ``docs/remotes.md``): immutable, content-named files for objects, packs and
record segments, and one small mutable ``refs.json`` moved only by compare-and-swap.
"""
