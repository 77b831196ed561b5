"""The early-warning code version and the hash of the code that decides what an alert says (R-AI-03).

Every run and every alert names both, so an alert can be traced to the exact code that raised it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sitaware.core.sourcehash import source_hash

# Bump when behaviour changes on purpose (defaults, matching rule, CAP mapping); the hash catches the rest.
VERSION = "alerts-1.0"

_HERE = Path(__file__).resolve().parent
_DETECTION = _HERE.parent / "analytics" / "detection"
_MODULES = (
    (_DETECTION, ("zones.py", "scan.py", "surge.py")),
    (_HERE, ("counting.py", "findings.py", "runner.py", "identity.py", "geo.py", "cap.py", "publish.py",
            "version.py")),
)


@lru_cache(maxsize=1)
def artefact_hash() -> str:
    """SHA-256 over the detection and alerting modules' source (folder/name + bytes, in a fixed order)."""
    return source_hash(_MODULES)


def code_version() -> str:
    """What a run records as its code version: the version name and the first 12 hex digits of the hash."""
    return f"{VERSION}+{artefact_hash()[:12]}"
