"""The forecasting package's model version and the hash of the code that computes a forecast (R-AI-03).

A recommendation names both, so a risk map can always be traced to the exact code that made it; the oversight
registry brings its stored version and hash up to date when the running code changes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sitaware.core.sourcehash import source_hash

# Bump when a model's behaviour changes (new defaults, new model, changed metric); the hash catches the rest.
VERSION = "forecast-1.1"  # 1.1: default model chosen per H3 setting (riskmap.EVALUATED); all-history KDE

# The modules whose code decides what a forecast says. Reports and readers (evaluation, datasets, modelcard)
# are left out: changing a report does not change a single forecast.
_MODEL_MODULES = ("base.py", "grid.py", "baselines.py", "sepp.py", "metrics.py", "feedback.py", "weighting.py",
                  "riskmap.py", "concentration.py", "version.py")


@lru_cache(maxsize=1)
def artefact_hash() -> str:
    """SHA-256 over the model modules' source (name + bytes, in a fixed order)."""
    return source_hash([(Path(__file__).resolve().parent, _MODEL_MODULES)], label_with_folder=False)
