"""Lattice versions of the KDE and prospective hot-spotting baselines for fine rectangular grids.

`baselines.KernelDensity` builds a cells x cells distance matrix and `baselines.ProspectiveHotspot` loops over
events with a distance to every cell: fine at a few hundred cells, too slow (and, for the KDE, too big: 11k cells
give a 1 GB matrix) at the NIJ challenge's 600 ft or 250 ft cells. On a `RectGrid` both kernels depend only on
the (ix, iy) offset between cells, so the same numbers can be computed on the full lattice:

- KDE: the Gaussian factorises in x and y, so the row-normalised kernel sum is two small dense matrix products
  (Kx W Ky) instead of one C x C matrix. Exactly the same model (same bandwidth candidates, validation rule and
  row normalisation over the kept cells); only the floating-point summation order differs.
- Prospective hot-spotting: a fixed stencil (weight 1 / (1 + distance in cells) within `max_cells`) shifted over
  the lattice of per-cell event weights 1 / (1 + weeks ago).

Scores are rounded to 12 significant digits so that cells whose scores are mathematically equal stay exactly
tied (the flagging rule prorates ties) whatever the summation order. Other grids fall back to the originals.
Pure numpy; no Django.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Forecast
from .baselines import KernelDensity, ProspectiveHotspot
from .grid import Grid, RectGrid


class _Lattice:
    """Index of a RectGrid's kept cells inside their bounding lattice."""

    def __init__(self, grid: RectGrid) -> None:
        ij = np.array([[int(v) for v in s.split()] for s in grid.ids], dtype=np.int64).reshape(-1, 2)
        self.lo = ij.min(axis=0)
        self.ix, self.iy = ij[:, 0] - self.lo[0], ij[:, 1] - self.lo[1]
        self.shape = (int(self.ix.max()) + 1, int(self.iy.max()) + 1)
        self.dx, self.dy = float(grid.dx), float(grid.dy)

    def scatter(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape)
        np.add.at(out, (self.ix, self.iy), values)
        return out

    def gather(self, lattice: np.ndarray) -> np.ndarray:
        return lattice[self.ix, self.iy]


def _round(values: np.ndarray, digits: int = 12) -> np.ndarray:
    """Round to `digits` significant digits relative to the largest value (keeps float-noise ties tied)."""
    top = float(np.max(np.abs(values))) if values.size else 0.0
    if top <= 0:
        return values
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(top)))
    return np.round(values * scale) / scale


def _lattice_of(grid: Grid) -> _Lattice | None:
    return _Lattice(grid) if isinstance(grid, RectGrid) and grid.size else None


class LatticeKernelDensity(KernelDensity):
    """`KernelDensity` computed with separable Gaussian products on a RectGrid (same model, O(C * (nx + ny)))."""

    def predict(self, horizon: float) -> Forecast:
        lattice = _lattice_of(self.grid)
        if lattice is None:
            return super().predict(horizon)
        start = self.origin - self.window_days if self.window_days else -np.inf
        mask = lattice.scatter(np.ones(self.grid.size))
        ax = np.arange(lattice.shape[0], dtype=float) * lattice.dx
        ay = np.arange(lattice.shape[1], dtype=float) * lattice.dy

        def density(counts: np.ndarray, bw: float) -> np.ndarray:
            kx = np.exp(-((ax[:, None] - ax[None, :]) ** 2) / (2.0 * bw * bw))
            ky = np.exp(-((ay[:, None] - ay[None, :]) ** 2) / (2.0 * bw * bw))
            z = lattice.gather(kx @ mask @ ky)  # row sums of the kernel over the kept cells (>= 1: the cell itself)
            mass = lattice.gather(kx @ lattice.scatter(counts / z) @ ky)
            total = mass.sum()
            return mass / total if total > 0 else np.full(counts.size, 1.0 / counts.size)

        candidates = [b * self.grid.spacing for b in self.bandwidths_in_cells]
        history = self._counts(start, self.origin - horizon)
        validation = self._counts(self.origin - horizon, self.origin)
        best, best_ll = candidates[0], -np.inf
        for bw in candidates:
            p = (1 - self.mix_uniform) * density(history, bw) + self.mix_uniform / self.grid.size
            ll = float((validation * np.log(p)).sum())
            if ll > best_ll + 1e-12:  # as in KernelDensity
                best, best_ll = bw, ll
        self.bandwidth = best
        counts = self._counts(start, self.origin)
        if self.window_days:
            days = self.window_days
        else:
            days = max(self.origin - float(self.events.t[0]), horizon) if len(self.events) else horizon
        expected = _round(density(counts, best) * counts.sum() * (horizon / days))
        return Forecast(score=expected, expected=expected)


class LatticeProspectiveHotspot(ProspectiveHotspot):
    """`ProspectiveHotspot` as a stencil over the lattice of event weights (O(C * stencil) per origin)."""

    def predict(self, horizon: float) -> Forecast:
        lattice = _lattice_of(self.grid)
        if lattice is None:
            return super().predict(horizon)
        days = 7.0 * self.max_weeks
        recent = self.events.window(self.origin - days, self.origin)
        cell = self.grid.assign(recent.x, recent.y)
        keep = cell >= 0
        cell, t = cell[keep], recent.t[keep]
        score = np.zeros(self.grid.size)
        if cell.size:
            weights = lattice.scatter(np.bincount(cell, weights=1.0 / (1.0 + np.floor((self.origin - t) / 7.0)),
                                                  minlength=self.grid.size))
            nx, ny = lattice.shape
            rx = math.ceil((self.max_cells + 0.5) * self.grid.spacing / lattice.dx)
            ry = math.ceil((self.max_cells + 0.5) * self.grid.spacing / lattice.dy)
            padded = np.zeros((nx + 2 * rx, ny + 2 * ry))
            padded[rx:rx + nx, ry:ry + ny] = weights
            total = np.zeros((nx, ny))
            for di in range(-rx, rx + 1):
                for dj in range(-ry, ry + 1):
                    d = float(np.rint(math.hypot(di * lattice.dx, dj * lattice.dy) / self.grid.spacing))
                    if d <= self.max_cells:
                        total += padded[rx + di:rx + di + nx, ry + dj:ry + dj + ny] / (1.0 + d)
            score = _round(lattice.gather(total))
        s = score.sum()
        expected = score / s * cell.size * (horizon / days) if s > 0 else score
        return Forecast(score=score, expected=expected)


def fixed_area_share(grid: Grid, square_miles: float) -> float:
    """Share of the grid's total area that a fixed flagged area (NIJ: 0.25 to 0.75 sq mi) represents."""
    return square_miles * 2_589_988.110336 / float(np.asarray(grid.areas).sum())


def shifted_square_grid(boundary: np.ndarray, size: float, offset: float = 0.0) -> RectGrid:
    """Square cells of `size` metres whose centre lies inside `boundary`, with the lattice moved by `offset` cells
    (0.5 = half a cell) down and left from `grid.square_grid_over`'s anchor: how much results depend on where the
    cell edges happen to fall."""
    from .grid import points_in_polygon, rect_grid

    x0 = math.floor(float(boundary[:, 0].min()) / size) * size - offset * size
    y0 = math.floor(float(boundary[:, 1].min()) / size) * size - offset * size
    nx = math.floor((float(boundary[:, 0].max()) - x0) / size) + 1
    ny = math.floor((float(boundary[:, 1].max()) - y0) / size) + 1
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    inside = points_in_polygon(x0 + (ii + 0.5) * size, y0 + (jj + 0.5) * size, boundary)
    return rect_grid(x0, y0, size, size, list(zip(ii[inside].tolist(), jj[inside].tolist(), strict=True)))
