"""Feedback loops and attention concentration: checks that a forecast does not just chase its own patrols.

(a) The Polya-urn model of Ensign et al. (2018), "Runaway feedback loops in predictive policing" (FAT* 2018):
two areas with true daily incident rates; each day one patrol goes to an area drawn in proportion to the urn's
weights; only incidents the patrol discovers are fed back. Uncorrected, the urn runs away towards one area.
Two corrections from the paper's discussion: weight each discovered incident by 1 / P(patrol went there)
(so each area's weight grows at its true rate on average), or feed back only incidents reported by the public,
which do not depend on where the patrol went.

(b) Concentration of attention over a rolling run: how often each cell is flagged, the Gini of those
frequencies, and warnings when a few cells absorb most attention for a long time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Correction = Literal["none", "inverse_probability", "reported_only"]


@dataclass(frozen=True)
class UrnRun:
    shares: np.ndarray  # (days, 2): the urn's estimated share of each area after each day
    patrols: np.ndarray  # (days,) area patrolled each day
    true_share: np.ndarray  # (2,)

    @property
    def final_error(self) -> float:
        """Largest absolute gap between the final estimated shares and the true shares."""
        return float(np.max(np.abs(self.shares[-1] - self.true_share)))


def polya_urn(rates: tuple[float, float], days: int = 1000, correction: Correction = "none",
              report_prob: float = 0.5, prior: tuple[float, float] = (1.0, 1.0), min_visit_prob: float = 0.05,
              seed: int = 0) -> UrnRun:
    """Simulate the urn for `days` days.

    rates: true incidents per day in each area (Poisson). A patrol discovers every incident in the area it visits.
    correction="none": add discovered incidents to the visited area's weight.
    "inverse_probability": add discovered / P(visit), P computed from the weights before the draw.
    "reported_only": ignore discoveries; each incident in either area is reported with `report_prob`, and
    reports are added.
    min_visit_prob: each area is patrolled with at least this probability (in every mode). Without a floor the
    inverse-probability weights are unbiased but unbounded: one early discovery at P(visit) ~ 0.01 adds 100x its
    count and the estimate can take thousands of days to recover.
    """
    rng = np.random.default_rng(seed)
    lam = np.asarray(rates, dtype=float)
    weights = np.asarray(prior, dtype=float).copy()
    shares = np.empty((days, 2))
    patrols = np.empty(days, dtype=np.int64)
    for day in range(days):
        p = np.clip(weights / weights.sum(), min_visit_prob, 1.0 - min_visit_prob)
        area = int(rng.random() >= p[0])
        incidents = rng.poisson(lam)
        if correction == "none":
            weights[area] += incidents[area]
        elif correction == "inverse_probability":
            weights[area] += incidents[area] / p[area]
        elif correction == "reported_only":
            weights += rng.binomial(incidents, report_prob)
        else:
            raise ValueError(f"unknown correction {correction!r}")
        patrols[day] = area
        shares[day] = weights / weights.sum()
    return UrnRun(shares, patrols, lam / lam.sum())


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values: 0 all equal, (n-1)/n one value holds everything."""
    v = np.sort(np.asarray(values, dtype=float))
    n = v.size
    if n == 0 or v.sum() <= 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * v).sum()) / (n * v.sum()) - (n + 1) / n)


@dataclass
class ConcentrationReport:
    flag_share: np.ndarray  # (cells,) share of periods in which each cell was flagged
    gini: float
    top_share: float  # share of all flag-time held by the top `top_fraction` of cells
    longest_streak: np.ndarray  # (cells,) longest run of consecutive flagged periods
    warnings: list[str] = field(default_factory=list)


def concentration(flags: np.ndarray, top_fraction: float = 0.1, absorb: float = 0.5, min_periods: int = 12,
                  streak_share: float = 0.9) -> ConcentrationReport:
    """Attention concentration of a rolling run. `flags` is (periods x cells), values in [0, 1] (fractions allowed).

    Warns when (1) the top `top_fraction` of cells hold more than `absorb` of all flagged cell-periods over a run
    of at least `min_periods` periods, or (2) some cell is flagged (weight > 0.5) for `streak_share` of a run of at
    least `min_periods` consecutive periods. Either means patrols following the forecast would return to the same
    few places, which is where a feedback loop would start.
    """
    f = np.asarray(flags, dtype=float)
    periods, cells = f.shape
    per_cell = f.sum(axis=0)
    flag_share = per_cell / periods if periods else np.zeros(cells)
    k = max(1, int(np.ceil(top_fraction * cells)))
    total = per_cell.sum()
    top_share = float(np.sort(per_cell)[::-1][:k].sum() / total) if total > 0 else 0.0
    on = f > 0.5
    streak = np.zeros(cells, dtype=np.int64)
    current = np.zeros(cells, dtype=np.int64)
    for row in on:
        current = np.where(row, current + 1, 0)
        streak = np.maximum(streak, current)
    warnings = []
    if periods >= min_periods and top_share > absorb:
        warnings.append(f"top {k} of {cells} cells hold {top_share:.0%} of flags over {periods} periods")
    long_cells = np.flatnonzero(streak >= max(min_periods, int(np.ceil(streak_share * periods))))
    if periods >= min_periods and long_cells.size:
        warnings.append(f"{long_cells.size} cell(s) flagged in >= {streak_share:.0%} of {periods} consecutive periods")
    return ConcentrationReport(flag_share, gini(per_cell), top_share, streak, warnings)
