"""From counts to findings: the pure scan or surge method, with its errors turned into messages that say what to
change. Only clusters at or below the detector's significance level are kept."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from django.utils.translation import gettext as _

from sitaware.alerts.counting import Counts, cell_coords
from sitaware.alerts.models import Detector
from sitaware.analytics.detection.scan import Cluster, space_time_permutation_scan
from sitaware.analytics.detection.surge import farrington_flexible

MAX_SECONDARY = 10


class RunInputError(ValueError):
    """The data or configuration cannot be analysed; the message says why and what to change."""


@dataclass(frozen=True)
class Finding:
    cells: tuple[str, ...]
    start_period: int
    window: int
    observed: int
    expected: float
    relative_risk: float | None
    observed_over_expected: float | None
    score: float | None
    p_value: float | None
    recurrence_periods: float | None
    upper: float | None = None  # surge threshold


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def scan_findings(detector: Detector, counts: Counts, seed: int) -> list[Finding]:
    n_cells = len(counts.cells)
    if n_cells < 2:
        raise RunInputError(_("cells without neighbours: every counted event falls in one cell at resolution "
                              "%(r)d, so there is nothing to compare it with; widen the area or use a finer "
                              "resolution") % {"r": detector.resolution})
    try:
        result = space_time_permutation_scan(
            counts.matrix, coords=cell_coords(counts.cells), max_k=min(detector.max_neighbours, n_cells),
            max_window=min(detector.max_window, detector.history_periods), n_replicates=detector.permutations,
            seed=seed, n_secondary=MAX_SECONDARY)
    except ValueError as exc:
        raise RunInputError(_("the scan cannot run on these data: %(e)s") % {"e": exc}) from None

    def finding(c: Cluster) -> Finding:
        return Finding(cells=tuple(counts.cells[i] for i in c.cells), start_period=c.start_period, window=c.window,
                       observed=c.observed, expected=c.expected, relative_risk=_finite(c.relative_risk),
                       observed_over_expected=_finite(c.observed_over_expected), score=c.score, p_value=c.p_value,
                       recurrence_periods=_finite(c.recurrence_interval))

    clusters = [result.most_likely, *result.secondary]
    return [finding(c) for c in clusters if c.p_value is not None and c.p_value <= detector.alpha and c.observed > 0]


def surge_findings(detector: Detector, counts: Counts) -> list[Finding]:
    n = detector.history_periods
    years_back = max(2, (n - 4) // 52)
    try:
        result = farrington_flexible(counts.matrix, start=n - 1, alpha=detector.alpha, years_back=years_back)
    except ValueError as exc:
        raise RunInputError(_("the surge method cannot run on these data: %(e)s") % {"e": exc}) from None
    out = []
    for c in np.flatnonzero(result.alarm[n - 1]):
        observed, expected = int(counts.matrix[n - 1, c]), float(result.expected[n - 1, c])
        out.append(Finding(cells=(counts.cells[c],), start_period=n - 1, window=1, observed=observed,
                           expected=expected, relative_risk=_finite(observed / expected if expected > 0 else None),
                           observed_over_expected=_finite(observed / expected if expected > 0 else None),
                           score=None, p_value=None, recurrence_periods=None,
                           upper=_finite(float(result.upper[n - 1, c]))))
    return out
