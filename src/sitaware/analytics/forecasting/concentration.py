"""Attention concentration across the successive runs of one risk-map configuration (feedback safeguard 3).

Each run flags some cells (the patrol list). Across the recent runs of the same configuration (same categories,
area, resolution, horizon and model) this reports, per cell, the share of runs (periods) in which it was flagged,
the Gini of those flag frequencies, and warnings when a few cells absorb most attention for a long time.

Thresholds (the same as `feedback.concentration`, which does the arithmetic):
- the top 10% of cells hold more than 50% of all flags over at least 12 periods, or
- a cell is flagged in 90% or more of a run of at least 12 consecutive periods.
With fewer than 12 periods there is not yet a "long time" and no warning is given; the numbers are still shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .feedback import concentration

TOP_FRACTION = 0.1
ABSORB = 0.5
MIN_PERIODS = 12
STREAK_SHARE = 0.9


def flag_matrix(runs: Sequence[Sequence[str]], cells: Sequence[str]) -> np.ndarray:
    """(runs x cells) 0/1 matrix, oldest run first; flagged cells outside `cells` are ignored."""
    index = {c: i for i, c in enumerate(cells)}
    out = np.zeros((len(runs), len(cells)))
    for r, flagged in enumerate(runs):
        for c in flagged:
            if c in index:
                out[r, index[c]] = 1.0
    return out


def report(runs: Sequence[Sequence[str]], cells: Sequence[str], top: int = 10) -> dict[str, Any]:
    """JSON-able concentration report over `runs` (lists of flagged cell ids, oldest first) and the area's cells.

    `top` cells with the highest flag share are listed by id; the full per-cell shares are not repeated here
    because the risk map already lists its cells.
    """
    cells = list(cells)
    if not cells:
        return {"periods": len(runs), "cells": 0, "gini": 0.0, "top_share": 0.0, "most_flagged": [],
                "longest_streak": 0, "warnings": [], "warning": False, "thresholds": thresholds()}
    flags = flag_matrix(runs, cells)
    if not len(runs):
        flags = np.zeros((0, len(cells)))
    rep = concentration(flags, top_fraction=TOP_FRACTION, absorb=ABSORB, min_periods=MIN_PERIODS,
                        streak_share=STREAK_SHARE)
    order = np.argsort(-rep.flag_share, kind="stable")[:top]
    most = [{"cell": cells[i], "flag_share": round(float(rep.flag_share[i]), 4),
             "longest_streak": int(rep.longest_streak[i])} for i in order if rep.flag_share[i] > 0]
    return {
        "periods": len(runs),
        "cells": len(cells),
        "gini": round(rep.gini, 4),
        "top_share": round(rep.top_share, 4),
        "most_flagged": most,
        "longest_streak": int(rep.longest_streak.max()) if rep.longest_streak.size else 0,
        "warnings": rep.warnings,
        "warning": bool(rep.warnings),
        "thresholds": thresholds(),
    }


def thresholds() -> dict[str, float]:
    return {"top_fraction": TOP_FRACTION, "absorb": ABSORB, "min_periods": MIN_PERIODS,
            "streak_share": STREAK_SHARE}
