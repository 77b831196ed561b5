"""Portland NIJ layouts (issue 5): lattice KDE / prospective hot-spotting equal the originals, fixed NIJ flagged
areas, shifted grids, and the benchmark covers 600 ft cells with >= 50 weekly origins at 1, 2 and 4 weeks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sitaware.analytics.forecasting.base import Events
from sitaware.analytics.forecasting.baselines import KernelDensity, ProspectiveHotspot
from sitaware.analytics.forecasting.grid import rect_grid, square_grid_over
from sitaware.analytics.forecasting.lattice import (
    LatticeKernelDensity,
    LatticeProspectiveHotspot,
    fixed_area_share,
    shifted_square_grid,
)
from sitaware.analytics.forecasting.metrics import hotspot_metrics

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "forecast.json"
SQ_MILE_M2 = 2_589_988.110336


def _setup(dx: float = 100.0, dy: float = 100.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    # an L-shaped study area with holes: kept cells are not the whole lattice (row sums differ at the edges)
    cells = [(i, j) for i in range(30) for j in range(20) if not (i > 18 and j > 11) and (i + 3 * j) % 17]
    grid = rect_grid(0.0, 0.0, dx, dy, cells)
    n = 600
    hot = rng.random(n) < 0.4
    x = np.where(hot, rng.normal(800, 150, n), rng.uniform(0, 30 * dx, n))
    y = np.where(hot, rng.normal(700, 150, n), rng.uniform(0, 20 * dy, n))
    t = np.sort(rng.uniform(0, 800, n))
    return Events.of(t, x, y), grid


@pytest.mark.parametrize("window", [None, 365.0])
@pytest.mark.parametrize("horizon", [7.0, 28.0])
def test_lattice_kde_is_the_same_model(window, horizon):
    events, grid = _setup()
    origin = 800.0
    train = events.before(origin)
    a = KernelDensity(window_days=window).fit(train, grid, origin)
    b = LatticeKernelDensity(window_days=window).fit(train, grid, origin)
    fa, fb = a.predict(horizon), b.predict(horizon)
    assert a.bandwidth == b.bandwidth
    np.testing.assert_allclose(fb.score, fa.score, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fb.expected, fa.expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dx, dy", [(100.0, 100.0), (100.0, 160.0)])
def test_lattice_prospective_hotspot_is_the_same_model(dx, dy):
    events, grid = _setup(dx, dy, seed=1)
    origin = 800.0
    train = events.before(origin)
    fa = ProspectiveHotspot().fit(train, grid, origin).predict(7.0)
    fb = LatticeProspectiveHotspot().fit(train, grid, origin).predict(7.0)
    np.testing.assert_allclose(fb.score, fa.score, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fb.expected, fa.expected, rtol=1e-9, atol=1e-12)
    test = events.window(origin, origin + 7.0)
    observed = grid.counts(test.x, test.y)
    ma = hotspot_metrics(fa.score, observed, grid.areas, (0.01, 0.05))
    mb = hotspot_metrics(fb.score, observed, grid.areas, (0.01, 0.05))
    assert ma.keys() == mb.keys()
    for key in ma:
        assert ma[key] == pytest.approx(mb[key], rel=1e-9, nan_ok=True)


def test_lattice_scores_keep_mathematical_ties_exact():
    grid = rect_grid(0.0, 0.0, 100.0, 100.0, [(i, j) for i in range(11) for j in range(11)])
    # two events mirrored about the centre column: mirrored cells must tie exactly (the flagging prorates ties)
    events = Events.of(np.array([10.0, 12.0]), np.array([250.0, 850.0]), np.array([550.0, 550.0]))
    f = LatticeProspectiveHotspot().fit(events, grid, 20.0).predict(7.0)
    score = f.score.reshape(11, 11)
    assert np.array_equal(score, score[::-1, :])
    k = LatticeKernelDensity().fit(events, grid, 20.0).predict(7.0).score.reshape(11, 11)
    assert np.array_equal(k, k[::-1, :])


def test_empty_history_gives_zero_scores():
    _, grid = _setup()
    empty = Events.of(np.array([]), np.array([]), np.array([]))
    assert not LatticeProspectiveHotspot().fit(empty, grid, 10.0).predict(7.0).score.any()


def test_fixed_area_share_is_a_fixed_area_not_a_percentage():
    grid = rect_grid(0.0, 0.0, 1609.344, 1609.344, [(i, j) for i in range(10) for j in range(15)])  # 150 sq mi
    assert fixed_area_share(grid, 0.75) == pytest.approx(0.75 / 150)
    assert fixed_area_share(grid, 0.25) == pytest.approx(0.25 / 150)


def test_shifted_grid_without_offset_is_the_default_grid():
    theta = np.linspace(0, 2 * math.pi, 60, endpoint=False)
    boundary = np.column_stack([5000 + 3000 * np.cos(theta), 4000 + 2000 * np.sin(theta)])
    a = square_grid_over(boundary[:, 0], boundary[:, 1], 183.0, boundary=boundary)
    b = shifted_square_grid(boundary, 183.0, 0.0)
    assert a.ids == b.ids and np.array_equal(a.centres, b.centres)
    c = shifted_square_grid(boundary, 183.0, 0.5)
    assert c.centres[0, 0] != pytest.approx(a.centres[0, 0])
    assert float(c.areas.sum()) == pytest.approx(float(a.areas.sum()), rel=0.01)  # same study area, other edges


def test_benchmark_covers_the_issue_layouts():
    # The results are committed with the benchmark (docs and model cards are generated from them).
    assert RESULTS.exists(), f"{RESULTS} is missing: run python -m bench.bench_forecast"
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    assert "portland_600ft" in results, "the committed forecast results were made without the Portland layouts"
    p = results["portland_600ft"]
    assert p["cell_ft"] == 600 and p["fixed_areas_sq_mi"] == [0.25, 0.75]
    for share, area in zip(p["fixed_area_shares"], p["fixed_areas_sq_mi"], strict=True):
        assert share * p["area_sq_mi"] == pytest.approx(area, rel=0.01)
    assert set(p["horizons"]) == {"1 week", "2 weeks", "4 weeks"}
    for h in p["horizons"].values():
        assert h["origins"] >= 50
        share = p["fixed_area_shares"][1]
        models = h["summary"][f"pai@{share:g}"]
        assert {"random", "last_365_days", "kde", "prospective_hotspot", "sepp"} <= set(models)
        assert all(m["n"] >= 50 for m in models.values())
    rows = results["portland_reference_check"]["rows"]
    assert {r["cell_ft"] for r in rows} == {250, 600} and {r["flagged_sq_mi"] for r in rows} == {0.25, 0.75}
