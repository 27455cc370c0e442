"""Rendering for people (rich, only on a terminal) and machines (``--json``)."""

from dvlin.render.output import Output, human_bytes

__all__ = ["Output", "human_bytes"]
