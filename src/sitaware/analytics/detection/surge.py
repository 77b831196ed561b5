"""Surge detection on per-area count series: a Farrington-flexible-type algorithm (Noufaily et al. 2013).

For each period to check, a quasi-Poisson log-linear model is fitted to the same area's past: the last
`years_back` years minus the most recent `exclude_recent` periods (a surge in progress must not raise its own
baseline). Seasonality is a 10-level factor: the weeks around the same time of year form one level, the rest
of each year is cut into 9 more (Noufaily's zero-order spline). A linear trend is kept only when significant
and when it does not extrapolate above everything seen. Past outbreaks are downweighted: observations with a
standardised Anscombe residual above 2.58 get weight 1/residual^2 and the model is refitted. The alarm
threshold is the upper (1 - alpha) quantile of a negative binomial with the predicted mean and the estimated
overdispersion. A small dependency-free IRLS is used: the models have about a dozen parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import nbinom, poisson


@dataclass(frozen=True)
class SurgeResult:
    """Per (period x area) arrays; NaN / False where no baseline could be fitted (too little history)."""

    expected: np.ndarray
    upper: np.ndarray
    alarm: np.ndarray
    dispersion: np.ndarray
    trend_used: np.ndarray


@dataclass(frozen=True)
class _Fit:
    """Fits of one design to many areas at once: arrays have a trailing area axis (or a leading one)."""

    beta: np.ndarray  # (areas, p)
    mu: np.ndarray  # (n, areas)
    phi: np.ndarray  # (areas,)
    cov: np.ndarray  # (areas, p, p), unscaled (X' W X)^-1
    leverage: np.ndarray  # (n, areas)


def _irls(x: np.ndarray, y: np.ndarray, prior: np.ndarray, iterations: int = 50) -> _Fit:
    """Weighted Poisson GLMs with log link, one per column of y, sharing the design x.

    Quasi-Poisson dispersion from Pearson residuals, at least 1. All areas share the design at a given
    period, so they are fitted together: per-fit Python overhead would otherwise dominate.
    """
    n, p = x.shape
    mu = np.maximum(y, 0.5)  # start like R's glm: eta = log(y + small)
    eta = np.log(mu)
    beta = np.zeros((y.shape[1], p))
    for _ in range(iterations):
        w = prior * mu
        z = eta + (y - mu) / mu
        xtwx = np.einsum("ni,na,nj->aij", x, w, x)
        xtwz = np.einsum("ni,na->ai", x, w * z)
        new = _solve(xtwx, xtwz)
        eta = np.clip(x @ new.T, -30, 30)
        mu = np.exp(eta)
        done = np.max(np.abs(new - beta)) < 1e-8 * (1 + np.max(np.abs(new)))
        beta = new
        if done:
            break
    w = prior * mu
    cov = np.linalg.pinv(np.einsum("ni,na,nj->aij", x, w, x))
    leverage = np.einsum("ni,aij,nj->na", x, cov, x) * w
    dof = max(1, n - p)
    phi = np.maximum(1.0, np.sum(prior * (y - mu) ** 2 / mu, axis=0) / dof)
    return _Fit(beta=beta, mu=mu, phi=phi, cov=cov, leverage=leverage)


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:  # a degenerate area: least squares keeps the others exact
        return np.einsum("aij,aj->ai", np.linalg.pinv(a), b)


def _anscombe(y: np.ndarray, fit: _Fit) -> np.ndarray:
    raw = 1.5 * (np.power(y, 2 / 3) * np.power(fit.mu, -1 / 6) - np.sqrt(fit.mu))
    return raw / np.sqrt(fit.phi * np.clip(1 - fit.leverage, 1e-8, None))


def _season_level(period_index: np.ndarray, target: int, freq: int, half_width: int, n_levels: int) -> np.ndarray:
    """0 for the weeks within `half_width` of the target's time of year, 1..n_levels-1 for the rest."""
    phase = (period_index - (target - half_width)) % freq
    window = 2 * half_width + 1
    rest = freq - window
    level = 1 + ((phase - window) * (n_levels - 1)) // max(1, rest)
    return np.where(phase < window, 0, np.minimum(level, n_levels - 1))


def _design(index: np.ndarray, target: int, freq: int, half_width: int, n_levels: int, trend: bool) -> np.ndarray:
    level = _season_level(index, target, freq, half_width, n_levels)
    columns = [np.ones(index.size)]
    if trend:
        columns.append(index.astype(float))
    columns += [(level == k).astype(float) for k in range(1, n_levels)]
    return np.column_stack(columns)


def _thresholds(mu: np.ndarray, phi: np.ndarray, alpha: float) -> np.ndarray:
    """Upper (1 - alpha) quantiles: negative binomial with mean mu and variance phi * mu (Poisson if phi = 1).

    Vectorised: scipy's distribution calls cost far more than the arithmetic, so they are made once.
    """
    out = np.full(mu.shape, np.nan)
    ok = np.isfinite(mu) & np.isfinite(phi)
    over = ok & (phi > 1.0 + 1e-9)
    size = mu[over] / (phi[over] - 1.0)
    out[over] = nbinom.ppf(1 - alpha, size, size / (size + mu[over]))
    plain = ok & ~over
    out[plain] = poisson.ppf(1 - alpha, mu[plain])
    return out


def farrington_flexible(
    counts: np.ndarray,
    *,
    start: int | None = None,
    freq: int = 52,
    years_back: int = 5,
    half_width: int = 3,
    n_levels: int = 10,
    exclude_recent: int = 26,
    alpha: float = 0.05,
    trend: bool = True,
    reweight_threshold: float = 2.58,
    min_recent: tuple[int, int] = (5, 4),
) -> SurgeResult:
    """Check periods start.. of counts (periods, or periods x areas) against a baseline from their past.

    start: first period to check (default: the first with a full `years_back` history). min_recent=(k, m):
    no alarm unless at least k cases were seen in the last m periods (surveillance's `limit54`), which keeps
    sparse areas from alarming on a single event.
    """
    series = np.asarray(counts, dtype=float)
    one_area = series.ndim == 1
    if one_area:
        series = series[:, None]
    if series.ndim != 2 or series.size == 0:
        raise ValueError("counts must be a non-empty (periods) or (periods x areas) array")
    if np.any(series < 0) or not np.all(np.isfinite(series)):
        raise ValueError("counts must be finite and non-negative")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    if n_levels < 1 or 2 * half_width + 1 >= freq:
        raise ValueError("the seasonal window must be shorter than a year and n_levels >= 1")
    n_periods, n_areas = series.shape
    history = years_back * freq + half_width
    first = history if start is None else int(start)
    if first >= n_periods:
        raise ValueError(f"no period to check: start {first} but the series has {n_periods} periods")
    shape = (n_periods, n_areas)
    result = SurgeResult(
        expected=np.full(shape, np.nan),
        upper=np.full(shape, np.nan),
        alarm=np.zeros(shape, dtype=bool),
        dispersion=np.full(shape, np.nan),
        trend_used=np.zeros(shape, dtype=bool),
    )
    for t in range(first, n_periods):
        lo, hi = max(0, t - history), t - exclude_recent
        if hi - lo < freq:  # under a year of reference data: no reliable seasonal baseline
            continue
        index = np.arange(lo, hi)
        y = series[lo:hi]
        areas = np.flatnonzero(y.sum(axis=0) > 0)  # an area without any case has no baseline to fit
        if areas.size == 0:
            continue
        mu0, phi, used = _baseline(y[:, areas], index, t, freq, half_width, n_levels, trend, reweight_threshold)
        result.expected[t, areas], result.dispersion[t, areas], result.trend_used[t, areas] = mu0, phi, used
    result.upper[:] = _thresholds(result.expected, result.dispersion, alpha)
    k, m = min_recent
    recent = np.cumsum(series, axis=0)
    recent[m:] -= recent[:-m].copy()  # sum over the last m periods, this one included
    result.alarm[:] = (series > result.upper) & (recent >= k)  # NaN thresholds compare False
    if one_area:
        return SurgeResult(*(a[:, 0] for a in (result.expected, result.upper, result.alarm,
                                                 result.dispersion, result.trend_used)))  # fmt: skip
    return result


def _baseline(
    y: np.ndarray,
    index: np.ndarray,
    target: int,
    freq: int,
    half_width: int,
    n_levels: int,
    trend: bool,
    reweight_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted mean, dispersion and whether the trend was kept, for each column (area) of y."""
    n_areas = y.shape[1]
    mu0, phi, used = np.full(n_areas, np.nan), np.full(n_areas, np.nan), np.zeros(n_areas, dtype=bool)
    todo = np.arange(n_areas)
    for use_trend in (True, False) if trend else (False,):
        x = _design(index, target, freq, half_width, n_levels, use_trend)
        keep = x.any(axis=0)  # a level absent from the reference data would make the design singular
        x = x[:, keep]
        x0 = _design(np.array([target]), target, freq, half_width, n_levels, use_trend)[0, keep]
        ys = y[:, todo]
        fit = _irls(x, ys, np.ones_like(ys))
        residual = _anscombe(ys, fit)
        weights = np.where(residual > reweight_threshold, 1.0 / np.maximum(residual, 1e-12) ** 2, 1.0)
        weights *= ys.shape[0] / weights.sum(axis=0)
        fit = _irls(x, ys, weights)
        pred = np.exp(np.clip(fit.beta @ x0, -30, 30))
        ok = np.ones(todo.size, dtype=bool)
        if use_trend:
            se = np.sqrt(fit.phi * fit.cov[:, 1, 1])
            z = np.abs(fit.beta[:, 1]) / np.where(se > 0, se, np.inf)
            significant = np.array([math.erfc(v / math.sqrt(2)) < 0.05 for v in z])  # two-sided p < 0.05
            ok = significant & (pred <= ys.max(axis=0))  # otherwise refit without the trend
        mu0[todo[ok]], phi[todo[ok]], used[todo[ok]] = pred[ok], fit.phi[ok], use_trend
        todo = todo[~ok]
        if todo.size == 0:
            break
    return mu0, phi, used
