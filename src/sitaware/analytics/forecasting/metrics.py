"""Hot-spot accuracy (PAI, PEI*, hit rate) at fixed flagged-area shares, and the Poisson log score.

Flagging rule, fixed so results never depend on cell order:
- Cells are ranked by score per unit area (so a model cannot win by preferring big cells), highest first.
- Cells whose score per area is *exactly* equal form one tie group. A tie group is flagged all together or, if it
  straddles the area budget, fractionally: a fraction f = (budget left) / (group area) of it, credited with f * the
  group's events. This is the expected capture under a uniformly random tie-break, and it is also how a partial
  cell is handled (a budget of 2.5 cells takes half of the third cell and half of its events).
- The best possible capture n* uses the same rule with the observed counts per area as the score (greedy by
  density is optimal for a fractional budget), so PEI* = n / n* ≤ 1.
- Windows with no observed event give NaN for PAI, PEI* and hit rate: there is nothing to find. Summaries skip
  them and report how many were skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import gammaln

DEFAULT_SHARES: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.10)
LOG_SCORE_FLOOR = 1e-4


def flag_weights(score: np.ndarray, areas: np.ndarray, share: float) -> np.ndarray:
    """Per cell, the fraction of it that is flagged when `share` of the total area is flagged (1, 0 or a fraction)."""
    if not 0 < share <= 1:
        raise ValueError("share must be in (0, 1]")
    areas = np.asarray(areas, dtype=float)
    density = np.asarray(score, dtype=float) / areas
    values, group = np.unique(-density, return_inverse=True)  # ascending in -density = descending density
    group_area = np.bincount(group, weights=areas, minlength=values.size)
    budget = share * float(areas.sum())
    cum_area = np.cumsum(group_area)
    group_weight = (cum_area <= budget * (1 + 1e-12)).astype(float)
    k = int(group_weight.sum())
    if k < values.size:
        left = budget - (float(cum_area[k - 1]) if k else 0.0)
        group_weight[k] = max(left, 0.0) / group_area[k]
    return group_weight[group]


def captured(score: np.ndarray, observed: np.ndarray, areas: np.ndarray, share: float) -> float:
    """Events inside the flagged `share` of the total area, with ties and the partial last group prorated."""
    return float(flag_weights(score, areas, share) @ np.asarray(observed, dtype=float))


def hotspot_metrics(score: np.ndarray, observed: np.ndarray, areas: np.ndarray,
                    shares: Sequence[float] = DEFAULT_SHARES, only_positive: bool = False) -> dict[str, float]:
    """{"pai@0.05": ..., "pei@0.05": ..., "hit@0.05": ...} for each share; hit rate = n / N (events captured).

    `only_positive=True` is the other common convention: cells with score <= 0 are never flagged, so a model with
    few non-zero cells (last period) flags less than the budget, and PAI divides by the area actually flagged (and
    n* is taken over that same area). It favours sparse forecasts; the default spends the whole budget.
    """
    observed = np.asarray(observed, dtype=float)
    areas = np.asarray(areas, dtype=float)
    total = float(observed.sum())
    out: dict[str, float] = {}
    for s in shares:
        if total <= 0:
            out[f"pai@{s:g}"] = out[f"pei@{s:g}"] = out[f"hit@{s:g}"] = float("nan")
            continue
        weights = flag_weights(score, areas, s)
        used = s
        if only_positive:
            weights = np.where(np.asarray(score) > 0, weights, 0.0)
            used = float(weights @ areas) / float(areas.sum())
        n = float(weights @ observed)
        out[f"hit@{s:g}"] = n / total
        if used <= 0:
            out[f"pai@{s:g}"], out[f"pei@{s:g}"] = 0.0, float("nan")
            continue
        best = captured(observed, observed, areas, used)
        out[f"pai@{s:g}"] = (n / total) / used
        out[f"pei@{s:g}"] = n / best if best > 0 else float("nan")
    return out


def poisson_log_score(expected: np.ndarray, observed: np.ndarray, floor: float = LOG_SCORE_FLOOR) -> float:
    """Σ over cells of log P(observed | Poisson(expected)); higher is better.

    Expected counts are floored at `floor` so a model that puts exactly zero on a cell where something happens
    gets a large finite penalty instead of -inf (which would make every mean -inf).
    """
    lam = np.maximum(np.asarray(expected, dtype=float), floor)
    y = np.asarray(observed, dtype=float)
    return float((y * np.log(lam) - lam - gammaln(y + 1)).sum())
