"""Baselines every forecasting model must beat before anyone looks at it.

All of them share `fit(events, grid, origin)` → `predict(horizon)`. Expected counts are scaled so that the total
matches the recent event rate * horizon, which makes Poisson log scores comparable across models; the ranking
(what PAI and PEI* see) does not depend on that scaling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import Events, Forecast, check_training
from .grid import Grid


class _Fitted:
    name = "base"

    def fit(self, events: Events, grid: Grid, origin: float) -> _Fitted:
        check_training(events, origin)
        self.events, self.grid, self.origin = events, grid, float(origin)
        return self

    def _counts(self, start: float, end: float) -> np.ndarray:
        w = self.events.window(start, end)
        return self.grid.counts(w.x, w.y)


class RandomModel(_Fitted):
    """Flags cells in a random order: the floor any model must clear (expected PAI 1). Seeded per origin."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def predict(self, horizon: float) -> Forecast:
        rng = np.random.default_rng([self.seed, math.floor(self.origin * 1000) & 0x7FFFFFFF])
        return Forecast(score=rng.random(self.grid.size))


class LastPeriod(_Fitted):
    """Next window looks like the last window of the same length (`period` days; default: the horizon)."""

    name = "last_period"

    def __init__(self, period: float | None = None) -> None:
        self.period = period

    def predict(self, horizon: float) -> Forecast:
        period = self.period or horizon
        counts = self._counts(self.origin - period, self.origin)
        expected = counts * (horizon / period)
        return Forecast(score=expected, expected=expected)


class LastDays(_Fitted):
    """Counts over the last `days` days (365 by default), scaled to the horizon."""

    def __init__(self, days: float = 365.0) -> None:
        self.days = days
        self.name = f"last_{int(days)}_days"

    def predict(self, horizon: float) -> Forecast:
        counts = self._counts(self.origin - self.days, self.origin)
        expected = counts * (horizon / self.days)
        return Forecast(score=expected, expected=expected)


# Up to this many cells the kernel between cell centres is a dense cells x cells matrix (2,000 cells: 32 MB);
# above it (fine H3 cells, up to the risk map's 20,000) only pairs closer than KERNEL_CUTOFF_SIGMAS bandwidths
# are kept, which drops less than exp(-8) = 0.03% of a cell's kernel mass.
DENSE_KERNEL_MAX_CELLS = 2_000
KERNEL_CUTOFF_SIGMAS = 4.0


def _gaussian_mass(d2: np.ndarray, bandwidth: float) -> np.ndarray:
    """Row-normalised Gaussian weights between cells: where one cell's events spread to."""
    k = np.exp(-d2 / (2.0 * bandwidth * bandwidth))
    return k / k.sum(axis=1, keepdims=True)


class _CellKernel:
    """Gaussian spreading of per-cell counts between cell centres, built once per grid and bandwidth set.

    The grid is fixed over a rolling evaluation, so the distances are kept (on the grid object) and reused at
    every origin instead of being rebuilt: the dense matrix for small grids, the near pairs for large ones.
    """

    def __init__(self, centres: np.ndarray, max_bandwidth: float) -> None:
        self.size = len(centres)
        self.cutoff = KERNEL_CUTOFF_SIGMAS * max_bandwidth
        if self.size <= DENSE_KERNEL_MAX_CELLS:
            self.cutoff = math.inf  # every pair is kept
            self.d2: np.ndarray | None = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        else:
            self.d2 = None
            self.near = _near_pairs(centres, self.cutoff)

    def mass(self, counts: np.ndarray, bandwidth: float) -> np.ndarray:
        """Σ_i counts_i · K(i, ·) / Σ_j K(i, j): each cell's events spread over the cells, mass preserved."""
        if self.d2 is not None:
            return counts @ _gaussian_mass(self.d2, bandwidth)
        from scipy import sparse

        near = self.near
        k = sparse.csr_matrix((np.exp(near.data * np.float32(-1.0 / (2.0 * bandwidth * bandwidth))), near.indices,
                               near.indptr), shape=near.shape)
        rows = np.asarray(k.sum(axis=1), dtype=float).ravel() + 1.0  # + 1: the cell itself (distance 0)
        spread = counts / rows
        return np.asarray(k @ spread, dtype=float).ravel() + spread  # k is symmetric: k.T @ spread == k @ spread


def _near_pairs(centres: np.ndarray, cutoff: float, chunk: int = 2048) -> Any:
    """Squared distances (float32) between different cells closer than `cutoff`, as a CSR matrix built chunk by
    chunk of rows, so the peak memory stays near the result's (8 bytes a pair: 20,000 H3 cells at the widest
    bandwidth hold ~17 million pairs, ~135 MB)."""
    from scipy import sparse
    from scipy.spatial import cKDTree

    tree = cKDTree(centres)
    indices, data, counts = [], [], []
    for start in range(0, len(centres), chunk):
        block = cKDTree(centres[start:start + chunk])
        pairs = block.sparse_distance_matrix(tree, cutoff, output_type="ndarray")
        i, j = pairs["i"].astype(np.int64) + start, pairs["j"].astype(np.int64)
        keep = i != j
        order = np.lexsort((j[keep], i[keep]))
        indices.append(j[keep][order].astype(np.int32))
        data.append((pairs["v"][keep][order] ** 2).astype(np.float32))
        counts.append(np.bincount(i[keep] - start, minlength=min(chunk, len(centres) - start)))
        del pairs, i, j, keep, order
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    return sparse.csr_matrix((np.concatenate(data), np.concatenate(indices), indptr),
                             shape=(len(centres), len(centres)))


def _cell_kernel(grid: Grid, max_bandwidth: float) -> _CellKernel:
    cached = getattr(grid, "_kde_kernel", None)
    if cached is None or cached.size != grid.size or cached.cutoff < KERNEL_CUTOFF_SIGMAS * max_bandwidth:
        cached = _CellKernel(grid.centres, max_bandwidth)
        object.__setattr__(grid, "_kde_kernel", cached)
    return cached


class KernelDensity(_Fitted):
    """Gaussian KDE over cell centres, with the bandwidth picked by the likelihood of the last training period.

    Events are binned to their cell first (so the kernel runs cell-to-cell: O(C²), not O(N·C); on grids above
    DENSE_KERNEL_MAX_CELLS only pairs within KERNEL_CUTOFF_SIGMAS bandwidths). At predict time the
    training data are split into history [.., origin - horizon) and validation [origin - horizon, origin); each
    candidate bandwidth (multiples of the cell spacing) is scored by the multinomial log-likelihood of the
    validation counts under the history KDE mixed with 0.1% uniform (so an empty cell is not -inf). Ties and an
    empty validation window choose the smallest candidate. The chosen bandwidth is then refitted on all training
    data in the window. Nothing after the origin is ever looked at.
    """

    name = "kde"

    def __init__(self, bandwidths_in_cells: Sequence[float] = (0.5, 1.0, 2.0, 4.0), window_days: float | None = None,
                 mix_uniform: float = 1e-3) -> None:
        self.bandwidths_in_cells = tuple(bandwidths_in_cells)
        self.window_days = window_days
        self.mix_uniform = mix_uniform
        self.bandwidth: float | None = None

    def _density(self, counts: np.ndarray, kernel: _CellKernel, bandwidth: float) -> np.ndarray:
        mass = kernel.mass(counts, bandwidth)
        total = mass.sum()
        return mass / total if total > 0 else np.full(counts.size, 1.0 / counts.size)

    def predict(self, horizon: float) -> Forecast:
        start = self.origin - self.window_days if self.window_days else -np.inf
        candidates = [b * self.grid.spacing for b in self.bandwidths_in_cells]
        kernel = _cell_kernel(self.grid, max(candidates))
        history = self._counts(start, self.origin - horizon)
        validation = self._counts(self.origin - horizon, self.origin)
        best, best_ll = candidates[0], -np.inf
        for bw in candidates:
            p = (1 - self.mix_uniform) * self._density(history, kernel, bw) + self.mix_uniform / self.grid.size
            ll = float((validation * np.log(p)).sum())
            if ll > best_ll + 1e-12:
                best, best_ll = bw, ll
        self.bandwidth = best
        counts = self._counts(start, self.origin)
        if self.window_days:
            days = self.window_days
        else:
            days = max(self.origin - float(self.events.t[0]), horizon) if len(self.events) else horizon
        expected = self._density(counts, kernel, best) * counts.sum() * (horizon / days)
        return Forecast(score=expected, expected=expected)


class ProspectiveHotspot(_Fitted):
    """Bowers, Johnson & Pease (2004): risk = Σ 1/(1 + distance in cells) * 1/(1 + weeks ago) over recent events.

    Only events within `max_weeks` weeks and `max_cells` cells count. Distance in cells is the centre distance
    divided by the grid spacing, rounded (0 = same cell); weeks ago is floor(days ago / 7). Scores are scaled to
    the recent event rate so a Poisson log score can be computed, but the model is a ranking, not a rate model.
    """

    name = "prospective_hotspot"

    def __init__(self, max_weeks: int = 8, max_cells: int = 3) -> None:
        self.max_weeks = max_weeks
        self.max_cells = max_cells

    def predict(self, horizon: float) -> Forecast:
        days = 7.0 * self.max_weeks
        recent = self.events.window(self.origin - days, self.origin)
        cell = self.grid.assign(recent.x, recent.y)
        keep = cell >= 0
        cell, t = cell[keep], recent.t[keep]
        score = np.zeros(self.grid.size)
        if cell.size:
            weeks = np.floor((self.origin - t) / 7.0)
            centres = self.grid.centres
            for c_i, w in zip(cell.tolist(), weeks.tolist(), strict=True):
                d = np.rint(np.hypot(*(centres - centres[c_i]).T) / self.grid.spacing)
                near = d <= self.max_cells
                score[near] += 1.0 / (1.0 + d[near]) / (1.0 + w)
        total = score.sum()
        expected = score / total * cell.size * (horizon / days) if total > 0 else score
        return Forecast(score=score, expected=expected)
