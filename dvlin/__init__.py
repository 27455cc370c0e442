"""dvlin: data versioning and lineage for ML and data teams.

The Python API mirrors the CLI: ``Repo.init(path)``, ``Repo.open(path)``, then
``repo.commit(...)``, ``repo.status()``, ``repo.checkout(...)``, ``repo.log()``,
``repo.resolve(ref)``; each returns plain frozen dataclasses.
"""

from dvlin.errors import DvlinError, ExitCode
from dvlin.repo import Repo

__version__ = "0.1.0"
__all__ = ["DvlinError", "ExitCode", "Repo", "__version__"]
