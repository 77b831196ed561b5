"""Space-time self-exciting point process (Mohler et al. 2011 style), fitted by EM, and a simulator for it.

Intensity at (t, x, y):  λ = μ(x, y) + Σ_{t_i < t} θ ω e^{-ω (t - t_i)} · N₂((x - x_i, y - y_i); 0, sigma² I)

- μ is gridded: a constant rate b_c per day in each cell c, spread evenly over the cell (so the forecast grid is
  also the background grid; events outside every cell are dropped).
- θ is the expected number of direct offspring per event, 1/ω the mean delay in days, sigma the spatial spread (m).

Sparsity: only parent-child pairs with 0 < dt ≤ `max_lag` and distance ≤ `max_distance` are considered. The M-step
corrects θ, ω and sigma for that truncation (truncated exponential and truncated Rayleigh moment equations, evaluated at
the current parameters), so a cut-off of about 3sigma and several 1/ω costs little bias but keeps the fit O(pairs).

Convergence: every parameter (theta, omega, sigma, each cell background rate) must change by less than `tol` relative
to its previous value (values near 0 on a negligible floor, see `fit`). Otherwise EM stops at `max_iter`,
`converged` is False and a SEPPConvergenceWarning is issued.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import erf
from scipy.stats import poisson

from .base import Events, Forecast, check_training
from .grid import Grid, RectGrid


class SEPPConvergenceWarning(RuntimeWarning):
    """EM hit max_iter before every parameter settled; treat the forecast with extra caution."""


@dataclass(frozen=True)
class SEPPParams:
    theta: float
    omega: float
    sigma: float
    background: np.ndarray  # (C,) events per day in each cell


def _pairs(t: np.ndarray, x: np.ndarray, y: np.ndarray, max_lag: float, max_distance: float) -> tuple[np.ndarray, ...]:
    """(parent, child, dt, d²) for every pair inside the space-time cut-off, parent strictly earlier."""
    if t.size < 2:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty.astype(np.int64), empty, empty
    # In coordinates scaled by the cut-offs the cylinder |Δxy| ≤ 1, |Δt| ≤ 1 lies inside the ball of radius √2.
    pts = np.column_stack([x / max_distance, y / max_distance, t / max_lag])
    ij = cKDTree(pts).query_pairs(r=math.sqrt(2.0), output_type="ndarray")
    if ij.size == 0:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty.astype(np.int64), empty, empty
    i, j = ij[:, 0], ij[:, 1]
    swap = t[i] > t[j]
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    dt = t[j] - t[i]
    d2 = (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2
    keep = (dt > 0) & (dt <= max_lag) & (d2 <= max_distance * max_distance)
    return i[keep], j[keep], dt[keep], d2[keep]


def _tail_correction(scale: float, cut: float) -> float:
    """cut / (e^{cut/scale} - 1): what truncation at `cut` removes from the mean of an Exp(mean=scale) variable."""
    ratio = cut / scale
    return 0.0 if ratio > 700 else cut / math.expm1(ratio)


class SEPP:
    """Self-exciting point process with a gridded background; see the module docstring for the model."""

    name = "sepp"

    def __init__(self, theta0: float = 0.5, omega0: float = 0.1, sigma0: float | None = None,
                 max_lag: float = 60.0, max_distance: float | None = None, min_sigma: float = 1.0,
                 tol: float = 1e-5, max_iter: int = 2000, window_days: float | None = None) -> None:
        self.theta0, self.omega0, self.sigma0 = theta0, omega0, sigma0
        self.max_lag, self.max_distance, self.min_sigma = max_lag, max_distance, min_sigma
        self.tol, self.max_iter, self.window_days = tol, max_iter, window_days
        self.params: SEPPParams | None = None
        self.converged = False
        self.n_iter = 0
        self.n_pairs = 0
        self.log_likelihood = float("nan")

    def fit(self, events: Events, grid: Grid, origin: float) -> SEPP:
        check_training(events, origin)
        if self.window_days:
            events = events.window(origin - self.window_days, origin)
        cell = grid.assign(events.x, events.y)
        inside = cell >= 0
        t, x, y, cell = events.t[inside], events.x[inside], events.y[inside], cell[inside]
        self.grid, self.origin = grid, float(origin)
        self.t, self.x, self.y = t, x, y
        sigma = float(self.sigma0 or grid.spacing)
        radius = float(self.max_distance or 3.0 * sigma)
        start = origin - self.window_days if self.window_days else (float(t[0]) if t.size else origin - 1.0)
        span = max(origin - start, 1e-9)
        if t.size == 0:
            self.params = SEPPParams(0.0, self.omega0, sigma, np.zeros(grid.size))
            self.converged, self.n_iter = True, 0
            return self

        _parent, child, dt, d2 = _pairs(t, x, y, self.max_lag, radius)
        self.n_pairs = int(dt.size)
        area_of_event = grid.areas[cell]
        age = np.minimum(origin - t, self.max_lag)  # how long each event has had to produce (counted) offspring
        theta, omega = self.theta0, self.omega0
        background = np.bincount(cell, minlength=grid.size) / span * (1.0 - theta)
        converged = False
        it = 0
        # Parameters heading to 0 (theta with no triggering, a cell explained entirely by triggering) shrink by a
        # near-constant ratio per EM step, so their relative change falls very slowly: below a size where they stop
        # mattering they are compared on that size instead (theta: 1e-3 offspring per event; a cell's background:
        # the mean cell rate, so a quiet cell counts as settled once its change is a tol-fraction of a typical cell).
        mean_rate = max(float(background.mean()), 1e-300)
        floor = np.concatenate([[1e-3, 1e-300, 1e-300], np.full(grid.size, mean_rate)])
        for it in range(1, self.max_iter + 1):  # noqa: B007 - `it` is reported after the loop
            g = (theta * omega * np.exp(-omega * dt) * np.exp(-d2 / (2 * sigma * sigma)) / (2 * math.pi * sigma**2))
            mu = background[cell] / area_of_event
            lam = mu + np.bincount(child, weights=g, minlength=t.size)
            p_bg = mu / lam
            p_tr = g / lam[child]
            s = float(p_tr.sum())
            new_bg = np.bincount(cell, weights=p_bg, minlength=grid.size) / span
            space_kept = -math.expm1(-radius * radius / (2 * sigma * sigma))
            exposure = float((-np.expm1(-omega * age)).sum()) * space_kept
            if s > 0:
                new_theta = s / exposure
                mean_dt = float((p_tr * dt).sum()) / s
                new_omega = 1.0 / (mean_dt + _tail_correction(1.0 / omega, self.max_lag))
                mean_d2 = float((p_tr * d2).sum()) / s
                new_sigma = max(math.sqrt((mean_d2 + _tail_correction(2 * sigma * sigma, radius**2)) / 2),
                                self.min_sigma)
            else:
                new_theta, new_omega, new_sigma = 0.0, omega, sigma
            old = np.concatenate([[theta, omega, sigma], background])
            new = np.concatenate([[new_theta, new_omega, new_sigma], new_bg])
            theta, omega, sigma, background = new_theta, new_omega, new_sigma, new_bg
            change = np.abs(new - old) / np.maximum(np.abs(old), floor)
            if new_theta < floor[0]:
                change[1:3] = 0.0  # no offspring to speak of: their delay and spread are unidentified, not unsettled
            if np.all((change < self.tol) | (new == old)):
                converged = True
                break
        self.params = SEPPParams(theta, omega, sigma, background)
        self.converged, self.n_iter = converged, it
        g = theta * omega * np.exp(-omega * dt) * np.exp(-d2 / (2 * sigma * sigma)) / (2 * math.pi * sigma**2)
        lam = background[cell] / area_of_event + np.bincount(child, weights=g, minlength=t.size)
        space_kept = -math.expm1(-radius * radius / (2 * sigma * sigma))
        compensator = float(background.sum()) * span + theta * space_kept * float((-np.expm1(-omega * age)).sum())
        self.log_likelihood = float(np.log(lam).sum()) - compensator
        if not converged:
            warnings.warn(f"SEPP EM did not converge in {self.max_iter} iterations (tol {self.tol})",
                          SEPPConvergenceWarning, stacklevel=2)
        return self

    def predict(self, horizon: float) -> Forecast:
        """Expected counts per cell in (origin, origin + horizon]: background * horizon + decayed triggering.

        Triggering from each past event is integrated over each cell treated as its rectangle (exact for RectGrid;
        H3 hexagons are treated as squares of equal area). Offspring of events that occur inside the horizon are
        not added (first-generation approximation), so for horizons much longer than 1/ω the triggering share is
        understated. The interval is the Poisson 5-95% range of the expected count, without parameter uncertainty.
        """
        assert self.params is not None, "fit first"
        p, grid = self.params, self.grid
        expected = p.background * horizon
        if p.theta > 0 and self.t.size:
            age = self.origin - self.t
            weight = p.theta * (np.exp(-p.omega * age) - np.exp(-p.omega * (age + horizon)))
            live = weight > 1e-9 * max(p.theta, 1e-12)
            if isinstance(grid, RectGrid):
                hx = np.full(grid.size, grid.dx / 2)
                hy = np.full(grid.size, grid.dy / 2)
            else:
                hx = hy = np.sqrt(grid.areas) / 2
            cx, cy = grid.centres[:, 0], grid.centres[:, 1]
            scale = math.sqrt(2.0) * p.sigma
            # Beyond 6 sigma from a cell's nearest point the Gaussian mass is < 1e-8: only nearby cells are computed.
            reach = 6.0 * p.sigma + float(np.hypot(hx, hy).max())
            tree = cKDTree(grid.centres)
            xs, ys, ws = self.x[live], self.y[live], weight[live]
            for lo in range(0, xs.size, 1024):
                near = tree.query_ball_point(np.column_stack([xs[lo:lo + 1024], ys[lo:lo + 1024]]), r=reach)
                sizes = np.fromiter((len(n) for n in near), dtype=np.int64, count=len(near))
                if not sizes.sum():
                    continue
                ev = np.repeat(np.arange(lo, lo + len(near)), sizes)
                c = np.concatenate([np.asarray(n, dtype=np.int64) for n in near])
                mx = erf((cx[c] + hx[c] - xs[ev]) / scale) - erf((cx[c] - hx[c] - xs[ev]) / scale)
                my = erf((cy[c] + hy[c] - ys[ev]) / scale) - erf((cy[c] - hy[c] - ys[ev]) / scale)
                expected = expected + np.bincount(c, weights=ws[ev] * 0.25 * mx * my, minlength=grid.size)
        lower = poisson.ppf(0.05, expected)
        upper = poisson.ppf(0.95, expected)
        return Forecast(score=expected, expected=expected, lower=np.nan_to_num(lower), upper=np.nan_to_num(upper))


def simulate_hawkes(mu: float, theta: float, omega: float, sigma: float, days: float,
                    bbox: tuple[float, float, float, float], seed: int = 0) -> Events:
    """Simulate the model by its cluster (branching) representation, for tests with known parameters.

    Background events: Poisson(mu * days) uniform in time and in `bbox` (x0, y0, x1, y1). Each event then has
    Poisson(θ) children, each dt ~ Exp(ω) later and N(0, sigma²) away in x and y; generations repeat until none is
    left before `days`. Children may fall outside the box (real processes do not stop at a boundary either).
    """
    if not 0 <= theta < 1:
        raise ValueError("theta must be in [0, 1) for the process to be stable")
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = bbox
    n = rng.poisson(mu * days)
    gen_t = rng.uniform(0, days, n)
    gen_x, gen_y = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    ts, xs, ys = [gen_t], [gen_x], [gen_y]
    while gen_t.size:
        k = rng.poisson(theta, gen_t.size)
        pt, px, py = np.repeat(gen_t, k), np.repeat(gen_x, k), np.repeat(gen_y, k)
        ct = pt + rng.exponential(1.0 / omega, pt.size)
        cx, cy = px + rng.normal(0, sigma, pt.size), py + rng.normal(0, sigma, pt.size)
        keep = ct < days
        gen_t, gen_x, gen_y = ct[keep], cx[keep], cy[keep]
        ts.append(gen_t)
        xs.append(gen_x)
        ys.append(gen_y)
    return Events.of(np.concatenate(ts), np.concatenate(xs), np.concatenate(ys))
