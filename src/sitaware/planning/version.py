"""The patrol-planning code version and the hash of the code that decides what a plan says (R-AI-03)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sitaware.core.sourcehash import source_hash

# Bump when behaviour changes on purpose (defaults, outcome rule, export shape); the hash catches the rest.
VERSION = "planning-1.1"  # 1.1: travel provider chosen per plan (straight line, speed grid, OSM roads)

_HERE = Path(__file__).resolve().parent
_MODULES = (
    (_HERE / "solver", ("problem.py", "travel.py", "osm.py", "matrix.py", "engine.py", "solve.py",
                       "feasibility.py")),
    (_HERE / "plans", ("schedule.py", "actual.py")),
    (_HERE, ("inputs.py", "providers.py", "services.py", "component.py", "version.py")),
)


@lru_cache(maxsize=1)
def artefact_hash() -> str:
    """SHA-256 over the solver's and the plan services' source (folder/name + bytes, in a fixed order)."""
    return source_hash(_MODULES)


def solver_version() -> str:
    from importlib.metadata import version

    return f"{VERSION}+{artefact_hash()[:12]} pyvrp-{version('pyvrp')}"
