"""One risk map: fit a model on past place-time events at an origin and describe the next period per cell.

Pure computation (no Django): the analytics service reads records in the requester's scope, turns them into
times and places here, and stores the result as a recommendation. Inputs are times, coordinates and optional
weights only (R-AI-01): there is no field through which anything about a person could enter.

Per cell: expected count over the horizon with a Poisson 5-95% range (no parameter uncertainty). Top cells come
with the numbers that explain their rank: events in the cell recently, events in the neighbouring cells
recently, the cell's long-term level, and for SEPP how much of the expectation is background versus triggered by
recent events.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h3
import numpy as np
from scipy.stats import poisson

from .base import Events, Model
from .baselines import KernelDensity, LastDays, LastPeriod, ProspectiveHotspot
from .grid import H3Grid, LocalProjection, h3_grid
from .sepp import SEPP, SEPPConvergenceWarning
from .weighting import replicate

# With little data SEPP's EM has nothing to learn triggering from: below this many training events the default is
# the evaluated setting's best baseline even where SEPP won.
MIN_EVENTS_FOR_SEPP = 50
SEPP_WINDOW_DAYS = 730.0  # SEPP's background is constant in time: two years keep it close to the present
LONG_TERM_DAYS = 365.0
MIN_RECENT_DAYS = 28.0


def _sepp(grid: H3Grid) -> Model:
    # sigma starts at the cell spacing and may not collapse below a quarter of it (duplicate coordinates).
    return SEPP(sigma0=grid.spacing, min_sigma=grid.spacing / 4, max_lag=60.0, window_days=SEPP_WINDOW_DAYS,
                max_iter=500)


MODELS: dict[str, Callable[[H3Grid], Model]] = {
    "sepp": _sepp,
    "last_365_days": lambda grid: LastDays(365),
    "last_period": lambda grid: LastPeriod(),
    "kde": lambda grid: KernelDensity(),
    "kde_365_days": lambda grid: KernelDensity(window_days=365),
    "prospective_hotspot": lambda grid: ProspectiveHotspot(),
}


@dataclass(frozen=True)
class Evaluated:
    """One evaluated setting of the H3 evaluation (bench/results/forecast.json, section "h3")."""

    series: str  # "car" (armed conflict, country-wide) or "portland" (city burglary)
    resolution: int
    horizon_days: float
    best_baseline: str  # highest mean PAI at 5% of the area among the baselines
    sepp_beats_best: bool  # SEPP minus that baseline: paired bootstrap 95% interval above zero


# The rolling-origin evaluation of the risk map's own models on H3 cells (`python -m bench.bench_forecast --only
# h3`; docs/forecasting.md, "The default model"). tests/test_forecast_h3.py fails when this table differs from
# bench/results/forecast.json, so the default cannot drift away from the evidence.
EVALUATED: tuple[Evaluated, ...] = (
    Evaluated("car", 5, 30.0, "last_365_days", False),
    Evaluated("car", 5, 91.0, "last_365_days", False),
    Evaluated("car", 6, 30.0, "last_365_days", True),
    Evaluated("car", 6, 91.0, "last_365_days", False),
    Evaluated("car", 7, 30.0, "last_365_days", True),
    Evaluated("car", 7, 91.0, "last_365_days", False),
    Evaluated("portland", 7, 7.0, "prospective_hotspot", False),
    Evaluated("portland", 7, 14.0, "last_365_days", False),
    Evaluated("portland", 7, 28.0, "last_365_days", False),
    Evaluated("portland", 8, 7.0, "kde", False),
    Evaluated("portland", 8, 14.0, "kde", False),
    Evaluated("portland", 8, 28.0, "kde", False),
    Evaluated("portland", 9, 7.0, "kde", False),
    Evaluated("portland", 9, 14.0, "kde", False),
    Evaluated("portland", 9, 28.0, "kde", False),
)


def evaluated_setting(horizon_days: float, resolution: int) -> Evaluated:
    """The evaluated setting closest to a request: nearest H3 resolution first, then nearest horizon (by ratio, so
    9 days is nearer 7 than 14, 10 days nearer 14). Where both series were evaluated at a resolution (7), the
    horizon decides."""
    def distance(e: Evaluated) -> tuple[int, float, str]:
        return abs(e.resolution - resolution), abs(math.log(max(horizon_days, 1.0) / e.horizon_days)), e.series

    return min(EVALUATED, key=distance)


def default_model(n_training_events: int, horizon_days: float = 30.0, resolution: int = 5) -> str:
    """What the evaluation supports for this cell size and horizon: SEPP where it beat the best baseline with a
    paired interval above zero (and only with at least MIN_EVENTS_FOR_SEPP training events, below which EM has
    nothing to learn triggering from), otherwise that setting's best baseline."""
    setting = evaluated_setting(horizon_days, resolution)
    if setting.sepp_beats_best and n_training_events >= MIN_EVENTS_FOR_SEPP:
        return "sepp"
    return setting.best_baseline


@dataclass
class RiskMapResult:
    model: str
    cells: list[dict[str, Any]]  # every cell with a non-zero expectation or range
    top: list[dict[str, Any]]
    exploration: list[str]
    fit: dict[str, Any]
    n_training_events: int
    n_cells: int
    total_expected: float
    cells_with_events: list[str] = field(default_factory=list)  # cells with any training event


def area_grid(cells: list[str], resolution: int) -> tuple[H3Grid, LocalProjection]:
    """An H3 grid over the given cells with a projection centred on them (metres good to ~1% over a country)."""
    lat, lon = zip(*[h3.cell_to_latlng(c) for c in cells], strict=True)
    projection = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
    return h3_grid(projection, resolution, cells), projection


def poisson_range(expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.nan_to_num(poisson.ppf(0.05, expected)), np.nan_to_num(poisson.ppf(0.95, expected)))


def compute(grid: H3Grid, projection: LocalProjection, lon: np.ndarray, lat: np.ndarray, t: np.ndarray,
            origin: float, horizon: float, model: str = "default", weights: np.ndarray | None = None,
            top_n: int = 10, exploration_share: float = 0.2, seed: int = 0) -> RiskMapResult:
    """Fit `model` on events strictly before `origin` (days) and forecast [origin, origin + horizon).

    `weights` (one per event) are applied by seeded replication (see weighting.py). The patrol list has `top_n`
    cells: the best round((1 - exploration_share) * top_n) by expected count, and the rest drawn at random
    (seeded) from the other cells of the area, so that some patrol effort keeps looking where the data are thin.
    """
    if not 0 <= exploration_share < 1:
        raise ValueError("exploration_share must be in [0, 1)")
    x, y = projection.to_xy(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    events = Events.of(np.asarray(t, dtype=float), x, y)
    if weights is not None:
        order = np.argsort(np.asarray(t, dtype=float), kind="stable")
        events = replicate(events, np.asarray(weights, dtype=float)[order], seed=seed)
    train = events.before(origin)
    cell = grid.assign(train.x, train.y)
    n_inside = int((cell >= 0).sum())
    name = default_model(n_inside, horizon, grid.resolution) if model == "default" else model
    if name not in MODELS:
        raise ValueError(f"unknown model {model!r}; use default or one of {', '.join(MODELS)}")
    fitted = MODELS[name](grid)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SEPPConvergenceWarning)
        fitted = fitted.fit(train, grid, origin)
        forecast = fitted.predict(horizon)
    expected = np.asarray(forecast.expected if forecast.expected is not None else forecast.score, dtype=float)
    lower, upper = (forecast.lower, forecast.upper) if forecast.lower is not None else poisson_range(expected)
    fit: dict[str, Any] = {"model": name, "converged": True}
    if model == "default":  # say which evaluated setting the default came from (docs/forecasting.md)
        setting = evaluated_setting(horizon, grid.resolution)
        fit["default_from"] = {"series": setting.series, "resolution": setting.resolution,
                               "horizon_days": setting.horizon_days, "best_baseline": setting.best_baseline,
                               "sepp_beats_best": setting.sepp_beats_best}
    background = None
    if isinstance(fitted, SEPP) and fitted.params is not None:
        p = fitted.params
        background = p.background * horizon
        fit.update(theta=round(p.theta, 4), omega=round(p.omega, 5), sigma_m=round(p.sigma, 1),
                   iterations=fitted.n_iter, converged=bool(fitted.converged), pairs=fitted.n_pairs,
                   window_days=SEPP_WINDOW_DAYS)
    if caught:
        fit["warnings"] = [str(w.message) for w in caught]

    cells = [{"cell": grid.ids[i], "expected": round(float(expected[i]), 4), "lower": int(lower[i]),
              "upper": int(upper[i])} for i in range(grid.size) if expected[i] > 0 or upper[i] > 0]
    # Rank by expected count, cell id breaking exact ties so the order never depends on storage order.
    ranked = sorted((i for i in range(grid.size) if expected[i] > 0), key=lambda i: (-expected[i], grid.ids[i]))
    n_explore = round(exploration_share * top_n)
    top = [_explain(grid, train, cell, i, rank + 1, expected, lower, upper, background, origin, horizon)
           for rank, i in enumerate(ranked[:top_n])]
    chosen = {grid.ids[i] for i in ranked[:top_n - n_explore]}
    others = [c for c in grid.ids if c not in chosen]
    rng = np.random.default_rng(seed)
    exploration = sorted(rng.choice(others, size=min(n_explore, len(others)), replace=False).tolist()) \
        if others and n_explore else []
    with_events = sorted({grid.ids[i] for i in cell[cell >= 0].tolist()})
    return RiskMapResult(model=name, cells=cells, top=top, exploration=exploration, fit=fit,
                         n_training_events=n_inside, n_cells=grid.size,
                         total_expected=round(float(expected.sum()), 4), cells_with_events=with_events)


def _explain(grid: H3Grid, train: Events, cell: np.ndarray, i: int, rank: int, expected: np.ndarray,
             lower: np.ndarray, upper: np.ndarray, background: np.ndarray | None, origin: float,
             horizon: float) -> dict[str, Any]:
    """The numbers behind one top cell's rank (what the explanation text is made from)."""
    recent_days = max(horizon, MIN_RECENT_DAYS)
    recent = (train.t >= origin - recent_days) & (cell >= 0)
    long_term = (train.t >= origin - LONG_TERM_DAYS) & (cell >= 0)
    index = {c: k for k, c in enumerate(grid.ids)}
    ring = [index[c] for c in h3.grid_disk(grid.ids[i], 1) if c != grid.ids[i] and c in index]
    here = cell == i
    out: dict[str, Any] = {
        "rank": rank,
        "cell": grid.ids[i],
        "expected": round(float(expected[i]), 4),
        "lower": int(lower[i]),
        "upper": int(upper[i]),
        "recent_days": recent_days,
        "recent_events": int((recent & here).sum()),
        "neighbour_events": int((recent & np.isin(cell, ring)).sum()),
        "long_term_per_horizon": round(float((long_term & here).sum()) * horizon / LONG_TERM_DAYS, 4),
    }
    if background is not None and expected[i] > 0:
        share = float(background[i]) / float(expected[i])
        out["background_share"] = round(min(max(share, 0.0), 1.0), 4)
        out["triggered_share"] = round(1.0 - out["background_share"], 4)
    return out


def seed_for(text: str) -> int:
    """A stable seed from a configuration key (Python's own hash is randomised per process)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def days(ts: float) -> float:
    """POSIX seconds to days since 1970-01-01 (the package's time axis)."""
    return ts / 86400.0
