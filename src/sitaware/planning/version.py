"""The patrol-planning code version and the hash of the code that decides what a plan says (R-AI-03)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

# Bump when behaviour changes on purpose (defaults, outcome rule, export shape); the hash catches the rest.
VERSION = "planning-1.0"

_HERE = Path(__file__).resolve().parent
_MODULES = (
    (_HERE / "solver", ("problem.py", "travel.py", "matrix.py", "engine.py", "solve.py", "feasibility.py")),
    (_HERE / "plans", ("schedule.py", "actual.py")),
    (_HERE, ("inputs.py", "services.py", "component.py", "version.py")),
)


@lru_cache(maxsize=1)
def artefact_hash() -> str:
    """SHA-256 over the solver's and the plan services' source (folder/name + bytes, in a fixed order)."""
    digest = hashlib.sha256()
    for folder, names in _MODULES:
        for name in names:
            path = folder / name
            if path.exists():
                digest.update(f"{folder.name}/{name}".encode() + b"\n" + path.read_bytes() + b"\n")
    return digest.hexdigest()


def solver_version() -> str:
    from importlib.metadata import version

    return f"{VERSION}+{artefact_hash()[:12]} pyvrp-{version('pyvrp')}"
