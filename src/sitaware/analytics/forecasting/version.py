"""The forecasting package's model version and the hash of the code that computes a forecast (R-AI-03).

A recommendation names both, so a risk map can always be traced to the exact code that made it; the oversight
registry brings its stored version and hash up to date when the running code changes.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

# Bump when a model's behaviour changes (new defaults, new model, changed metric); the hash catches the rest.
VERSION = "forecast-1.0"

# The modules whose code decides what a forecast says. Reports and readers (evaluation, datasets, modelcard)
# are left out: changing a report does not change a single forecast.
_MODEL_MODULES = ("base.py", "grid.py", "baselines.py", "sepp.py", "metrics.py", "feedback.py", "weighting.py",
                  "riskmap.py", "concentration.py", "version.py")


@lru_cache(maxsize=1)
def artefact_hash() -> str:
    """SHA-256 over the model modules' source (name + bytes, in a fixed order)."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _MODEL_MODULES:
        path = here / name
        if path.exists():
            digest.update(name.encode() + b"\n" + path.read_bytes() + b"\n")
    return digest.hexdigest()
