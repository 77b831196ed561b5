"""Prospective space-time permutation scan statistic (Kulldorff et al. 2005), cases only.

Counts are a (periods x cells) matrix, oldest period first. Expected counts come from the margins,
mu[t, l] = n[t, .] * n[., l] / N, so no population is needed: a cluster is a place whose recent share of
cases is unusually high relative to its own history and to the recent share everywhere else. Candidate
clusters are zones (sets of cells, usually k-nearest-neighbour sets) times windows of the last 1..max_window
periods. Scores are the Poisson generalised log-likelihood ratio, counted only where observed > expected.

Significance is by Monte Carlo: case times are shuffled relative to case places, which keeps both margins
and therefore every expected count; each replicate contributes its maximum score. Agrees with R
scanstatistics 1.0.2 ``scan_permutation`` on the observed scores (see tests/test_detection_scan.py).

Speed: expected counts are an outer product of zone totals and window totals, so everything that depends
on them (logs included) is computed once. Per replicate only integer zone-window counts change; the score
is then a table lookup and two multiply-adds. Most candidates are never scored at all: see
`_Model.maxima_one` and `_Model.floor`. Every replicate maximum is nevertheless exact.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .zones import ZonePlan, knn_zones, plan_zones

# Replicates are drawn in fixed blocks, each with its own child seed, so results for a given seed do not
# depend on how many workers ran the blocks.
_BLOCK = 50
# Candidates compared per numpy pass: keeps temporaries cache-sized.
_CHUNK_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class Cluster:
    """One space-time cluster: the cells of ``zone`` over the last ``window`` periods."""

    zone: int  # 0-based index into the zone list
    cells: tuple[int, ...]  # 0-based cell indices
    window: int  # number of periods, ending at the latest one
    start_period: int  # 0-based index of the first period in the window
    observed: int
    expected: float
    relative_risk: float  # SaTScan's RR: (observed/expected) / ((N - observed) / (N - expected))
    observed_over_expected: float  # scanstatistics' relrisk_in
    score: float  # generalised log-likelihood ratio
    p_value: float | None  # None when no replicates were run
    recurrence_interval: float | None  # in periods: analysis_interval / p_value


@dataclass(frozen=True)
class ScanResult:
    most_likely: Cluster
    secondary: list[Cluster]  # ranked, no cell shared with the most likely or an earlier secondary cluster
    n_cases: int
    n_zones: int
    max_window: int
    n_replicates: int
    replicate_maxima: np.ndarray = field(repr=False)  # the maximum score of each replicate


@dataclass(frozen=True)
class ScoreTable:
    """Every candidate's observed count, expected count and score, as (zones x windows) arrays.

    Column j is the window of the last j + 1 periods.
    """

    observed: np.ndarray
    expected: np.ndarray
    scores: np.ndarray
    n_cases: int

    def top(self, n: int = 10) -> list[tuple[int, int, float]]:
        """The n best (zone, window, score) triples, best first; ties keep zone-then-window order."""
        flat = self.scores.ravel()
        order = np.argsort(-flat, kind="stable")[:n]
        width = self.scores.shape[1]
        return [(int(i // width), int(i % width) + 1, float(flat[i])) for i in order]


class _Model:
    """Everything that stays fixed across replicates, and the per-replicate kernel.

    Candidates are stored flat, row r = zone * max_window + (window - 1), in the plan's internal zone order.
    """

    def __init__(self, counts: np.ndarray, plan: ZonePlan, max_window: int) -> None:
        n_periods, n_cells = counts.shape
        # Renumbered so each size level is contiguous; `original[i]` is the caller's number of zone i.
        self.original, self.plan = plan.topological()
        self.n_periods, self.n_cells, self.max_window = n_periods, n_cells, max_window
        self.n_cases = n = int(counts.sum())
        # Case list: one (period, cell) pair per case; replicates shuffle the periods.
        flat = counts.ravel()
        self.case_period = np.repeat(np.repeat(np.arange(n_periods), n_cells), flat).astype(np.int64)
        self.case_cell = np.repeat(np.tile(np.arange(n_cells), n_periods), flat).astype(np.int64)
        # Expected count of every candidate = zone total x window total / N (margins are preserved).
        zone_totals = self.plan.sum_rows(counts.sum(axis=0).astype(np.int64)[:, None])[:, 0]
        window_totals = np.cumsum(counts.sum(axis=1)[::-1])[:max_window]
        b = (np.outer(zone_totals.astype(np.float64), window_totals.astype(np.float64)) / n).ravel()
        self.expected = b
        with np.errstate(divide="ignore", invalid="ignore"):
            log_b = np.log(b)
            w = np.log1p(-b / n)  # log((N - b) / N), small: avoids cancelling two large terms
        degenerate = (b <= 0) | (b >= n)  # no count can exceed b there
        log_b[degenerate] = 0.0
        w[degenerate] = 0.0
        c = np.arange(n + 1, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            table = c * np.log(c) + (n - c) * np.log((n - c) / n)
        table[0] = 0.0  # 0 log 0 = 0
        table[n] = n * math.log(n)
        self.table = table
        # score(c, b) = c log(c/b) + (N-c) log((N-c)/(N-b)) = table[c] - c * u - v
        self.u = log_b - w
        self.v = n * w
        # Zone-window counts never exceed N: 16-bit integers halve the memory traffic when N allows.
        self.count_dtype = np.dtype(np.uint16) if n <= np.iinfo(np.uint16).max else np.dtype(np.int32)
        self.floor_b = np.floor(b).astype(self.count_dtype)  # for integer c: c > b  <=>  c > floor(b)
        self.floor_b[degenerate] = n  # no count exceeds N: never scored
        # No replicate can put more cases in a candidate than its zone or its window holds in total.
        most = np.minimum.outer(zone_totals, window_totals).ravel().astype(np.int32)
        self.most = most
        self.upper_bound = np.where(most > self.floor_b, self._formula(np.minimum(most, n), slice(None)), 0.0)
        self.uv = np.column_stack([self.u, self.v])
        # Window 1 of each zone: the first row of its block (see `maxima_one`).
        self.first_window = np.zeros(b.size, dtype=bool)
        self.first_window[::max_window] = True

    def _formula(self, counts: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
        return self.table.take(counts) - counts * self.u[rows] - self.v[rows]

    def window_counts(self, periods: np.ndarray) -> np.ndarray:
        """(candidates x replicates) case counts for a batch of period assignments (replicates x N)."""
        n_rep = periods.shape[0]
        size = self.n_periods * self.n_cells
        index = (np.arange(n_rep)[:, None] * size + periods * self.n_cells + self.case_cell[None, :]).ravel()
        grid = np.bincount(index, minlength=n_rep * size).reshape(n_rep, self.n_periods, self.n_cells)
        recent = np.cumsum(grid[:, ::-1, :][:, : self.max_window, :], axis=1, dtype=self.count_dtype)
        rows = np.ascontiguousarray(recent.transpose(2, 1, 0)).reshape(self.n_cells, self.max_window * n_rep)
        return self.plan.sum_rows(rows).reshape(-1, n_rep)

    def exact_scores(self, counts: np.ndarray) -> np.ndarray:
        """Scores for (candidates x replicates) counts, zero where observed <= expected."""
        out = self.table.take(counts)
        out -= counts * self.u[:, None]
        out -= self.v[:, None]
        out[counts <= self.floor_b[:, None]] = 0.0
        return out

    def maxima_one(self, periods: np.ndarray, floor: _Floor | None = None) -> float:
        """The maximum score of one replicate (a period for each of the N cases), exact.

        Only two kinds of candidate can hold a zone's maximum: a longer window with the same count has a
        larger expected count and so a lower score, hence only windows whose oldest period adds a case (the
        count steps up) can win, and only where observed > expected. With a `floor`, only candidates that
        would score at least floor.score pass the first comparison; so few remain that scoring them costs
        nothing, and if none reaches that score the replicate is redone without the floor.
        """
        counts = self.window_counts(periods[None, :])[:, 0]
        best = self._sparse_max(counts, self.floor_b if floor is None else floor.counts_above)
        if floor is not None and best < floor.score:
            best = self._sparse_max(counts, self.floor_b)
        return best

    def _sparse_max(self, counts: np.ndarray, above: np.ndarray) -> float:
        best = 0.0
        for start in range(0, counts.size, _CHUNK_ELEMENTS):
            stop = min(counts.size, start + _CHUNK_ELEMENTS)
            part = counts[start:stop]
            live = part > above[start:stop]
            if start == 0:
                live[1:] &= (part[1:] != part[:-1]) | self.first_window[start + 1 : stop]
            else:
                live &= (part != counts[start - 1 : stop - 1]) | self.first_window[start:stop]
            rows = np.flatnonzero(live)
            if rows.size:
                c = part[rows]
                uv = self.uv[rows + start]  # u and v side by side: one cache miss per candidate, not two
                best = max(best, float((self.table.take(c) - c * uv[:, 0] - uv[:, 1]).max()))
        return best

    def floor(self, score: float) -> _Floor:
        """Per candidate, the count it must exceed to score at least `score` (N where it never can).

        The score grows with the count once the count exceeds the expectation, so a bisection over integer
        counts finds the smallest that reaches `score`, with the same arithmetic as the scoring itself.
        """
        n = self.n_cases
        above = np.full(self.floor_b.size, n, dtype=self.count_dtype)
        rows = np.flatnonzero(self.upper_bound >= score)  # the rest can never reach it
        low = self.floor_b[rows].astype(np.int64) + 1
        high = np.minimum(self.most[rows], n).astype(np.int64)
        while rows.size:
            open_ = low < high
            done = rows[~open_]
            above[done] = low[~open_] - 1
            rows, low, high = rows[open_], low[open_], high[open_]
            if not rows.size:
                break
            mid = (low + high) // 2
            ok = self._formula(mid, rows) >= score
            high = np.where(ok, mid, high)
            low = np.where(ok, low, mid + 1)
        return _Floor(counts_above=above, score=score)


@dataclass(frozen=True)
class _Floor:
    counts_above: np.ndarray  # a candidate can reach `score` only if its count exceeds this
    score: float


def _validate(counts: np.ndarray | Sequence[Sequence[int]], max_window: int | None) -> tuple[np.ndarray, int]:
    array = np.asarray(counts)
    if array.ndim != 2:
        raise ValueError("counts must be a 2-D (periods x cells) array")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError("counts has no periods or no cells (empty area)")
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        raise ValueError("counts must be finite numbers")
    if np.any(array < 0) or np.any(array != np.round(array)):
        raise ValueError("counts must be non-negative whole numbers (cases, not rates)")
    array = array.astype(np.int64)
    if array.sum() == 0:
        raise ValueError("there are zero events: nothing to scan")
    n_periods = array.shape[0]
    window = n_periods if max_window is None else int(max_window)
    if window < 1:
        raise ValueError(f"max_window must be at least 1 period, got {window}")
    if window > n_periods:
        raise ValueError(f"max_window ({window}) is longer than the series ({n_periods} periods)")
    return array, window


def _resolve_zones(
    n_cells: int, zones: Sequence[Sequence[int]] | None, coords: np.ndarray | None, max_k: int
) -> Sequence[Sequence[int]]:
    if zones is not None:
        return zones
    if coords is None:
        raise ValueError("give either zones (lists of cell indices) or coords to build k-nearest zones")
    xy = np.asarray(coords, dtype=float)
    if xy.shape[0] != n_cells:
        raise ValueError(f"coords has {xy.shape[0]} rows but counts has {n_cells} cells")
    if n_cells > 1 and max_k < 2:
        # With k = 1 every zone is a single cell: no cell has neighbours, which is almost surely a mistake.
        raise ValueError("max_k must be at least 2 so that cells have neighbours")
    return knn_zones(xy, min(max_k, n_cells))


def score_table(
    counts: np.ndarray | Sequence[Sequence[int]],
    zones: Sequence[Sequence[int]] | None = None,
    *,
    coords: np.ndarray | None = None,
    max_k: int = 10,
    max_window: int | None = None,
) -> ScoreTable:
    """Observed, expected and score for every (zone, window) candidate, without Monte Carlo."""
    array, window = _validate(counts, max_window)
    plan = plan_zones(_resolve_zones(array.shape[1], zones, coords, max_k), array.shape[1])
    model = _Model(array, plan, window)
    observed = model.window_counts(model.case_period[None, :])
    scores = model.exact_scores(observed)

    def caller_order(values: np.ndarray) -> np.ndarray:
        out = np.empty((plan.n_zones, window), dtype=values.dtype)
        out[model.original] = values.reshape(plan.n_zones, window)
        return out

    return ScoreTable(
        observed=caller_order(observed[:, 0].astype(np.int64)),
        expected=caller_order(model.expected),
        scores=caller_order(scores[:, 0]),
        n_cases=model.n_cases,
    )


_PILOT = 5  # replicates scored without the floor shortcut; their smallest maximum sets the floor


def _run_block(model: _Model, seed: np.random.SeedSequence, n: int, floor: _Floor | None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([model.maxima_one(rng.permutation(model.case_period), floor) for _ in range(n)])


def space_time_permutation_scan(
    counts: np.ndarray | Sequence[Sequence[int]],
    zones: Sequence[Sequence[int]] | None = None,
    *,
    coords: np.ndarray | None = None,
    max_k: int = 10,
    max_window: int | None = None,
    n_replicates: int = 999,
    seed: int | None = 0,
    n_secondary: int = 10,
    analysis_interval: float = 1.0,
    workers: int | None = 1,
) -> ScanResult:
    """Run the prospective scan and return the most likely cluster and non-overlapping secondary clusters.

    counts: (periods x cells) case counts, oldest period first. zones: candidate zones as lists of 0-based cell
    indices; or coords (cells x 2) to build k-nearest zones with k = 1..max_k. max_window: longest window in
    periods (default: the whole series). analysis_interval: periods between two analyses (1 = the scan runs
    every period); the recurrence interval, analysis_interval / p, is how many periods would pass on average
    before chance alone produced a cluster this strong at that analysis frequency, as in SaTScan.
    workers: threads for the Monte Carlo (None = all cores); results do not depend on it. Threads only pay
    off on idle cores and large problems (numpy releases the GIL in long loops, not in small ones).
    """
    array, window = _validate(counts, max_window)
    if n_replicates < 0:
        raise ValueError("n_replicates must be >= 0")
    if analysis_interval <= 0:
        raise ValueError("analysis_interval must be positive")
    plan = plan_zones(_resolve_zones(array.shape[1], zones, coords, max_k), array.shape[1])
    model = _Model(array, plan, window)
    observed = model.window_counts(model.case_period[None, :])
    scores = model.exact_scores(observed)[:, 0].reshape(plan.n_zones, window)
    observed = observed[:, 0].reshape(plan.n_zones, window)
    expected = model.expected.reshape(plan.n_zones, window)

    maxima = _monte_carlo(model, n_replicates, seed, workers)

    def cluster(zone: int, col: int) -> Cluster:
        c, e, n = int(observed[zone, col]), float(expected[zone, col]), model.n_cases
        score = float(scores[zone, col])
        p = float((1 + np.count_nonzero(maxima >= score - 1e-9 * max(1.0, score))) / (n_replicates + 1))
        outside = (n - c) / (n - e) if n > e else math.nan
        return Cluster(
            zone=int(model.original[zone]),
            cells=tuple(int(x) for x in model.plan.cells[zone]),
            window=col + 1,
            start_period=model.n_periods - (col + 1),
            observed=c,
            expected=e,
            # A window with no cases anywhere has nothing expected either: 0/0 is not a risk, say so with NaN.
            relative_risk=((c / e) / outside if outside else math.inf) if e > 0 else (math.inf if c else math.nan),
            observed_over_expected=c / e if e > 0 else (math.inf if c else math.nan),
            score=score,
            p_value=p if n_replicates else None,
            recurrence_interval=analysis_interval / p if n_replicates else None,
        )

    best_col = scores.argmax(axis=1)
    best = scores[np.arange(plan.n_zones), best_col]
    # Ties go to the caller's lower zone number, whatever the internal order.
    order = np.lexsort((model.original, -best))
    clusters: list[Cluster] = []
    used = np.zeros(model.n_cells, dtype=bool)
    for zone in order:
        if len(clusters) > n_secondary or (clusters and best[zone] <= 0.0):
            break
        members = model.plan.cells[zone]
        if used[members].any():
            continue
        used[members] = True
        clusters.append(cluster(int(zone), int(best_col[zone])))
    return ScanResult(
        most_likely=clusters[0],
        secondary=clusters[1:],
        n_cases=model.n_cases,
        n_zones=plan.n_zones,
        max_window=window,
        n_replicates=n_replicates,
        replicate_maxima=maxima,
    )


def _monte_carlo(model: _Model, n_replicates: int, seed: int | None, workers: int | None) -> np.ndarray:
    if n_replicates == 0:
        return np.zeros(0)
    blocks = [min(_BLOCK, n_replicates - s) for s in range(0, n_replicates, _BLOCK)]
    seeds = np.random.SeedSequence(seed).spawn(len(blocks))
    # The pilot replicates are the start of the first block's stream, so the schedule does not change the
    # replicates drawn; and every maximum is exact, so it does not change the results either.
    rng = np.random.default_rng(seeds[0])
    pilot = [model.maxima_one(rng.permutation(model.case_period)) for _ in range(min(_PILOT, blocks[0]))]
    floor = model.floor(0.9 * min(pilot))
    first = [model.maxima_one(rng.permutation(model.case_period), floor) for _ in range(blocks[0] - len(pilot))]
    jobs = list(zip(seeds[1:], blocks[1:], strict=True))
    n_workers = (os.cpu_count() or 1) if workers is None else max(1, workers)
    if n_workers == 1 or len(jobs) <= 1:
        parts = [_run_block(model, s, n, floor) for s, n in jobs]
    else:
        # numpy releases the GIL in its loops, so threads share the work without copying the model.
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            parts = list(pool.map(lambda job: _run_block(model, *job, floor), jobs))
    return np.concatenate([np.array(pilot + first), *parts])
