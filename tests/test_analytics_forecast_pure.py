"""Pure helpers of the risk map: concentration across runs, weighting by replication, the risk-map computation."""

from __future__ import annotations

import h3
import numpy as np
import pytest

from sitaware.analytics.forecasting import concentration, riskmap, weighting
from sitaware.analytics.forecasting.base import Events
from sitaware.analytics.forecasting.grid import LocalProjection
from sitaware.analytics.forecasting.sepp import simulate_hawkes

CELLS = [f"c{i}" for i in range(20)]


def test_the_same_few_cells_for_a_long_time_warn():
    report = concentration.report([["c0", "c1"]] * 12, CELLS)
    assert report["warning"] and report["periods"] == 12 and report["gini"] > 0.8
    assert report["most_flagged"][0] == {"cell": "c0", "flag_share": 1.0, "longest_streak": 12}


def test_rotating_flags_or_a_short_history_do_not_warn():
    rotating = [[CELLS[(2 * k) % 20], CELLS[(2 * k + 1) % 20]] for k in range(20)]
    assert not concentration.report(rotating, CELLS)["warning"]
    assert not concentration.report([["c0", "c1"]] * 11, CELLS)["warning"]  # not yet "a long time"


def test_an_empty_universe_reports_zeros():
    assert concentration.report([], [])["gini"] == 0.0


def test_replication_matches_weights_on_average():
    ev = Events.of(np.arange(1000.0), np.zeros(1000), np.zeros(1000))
    out = weighting.replicate(ev, np.full(1000, 2.5), seed=1)
    assert 2400 < len(out) < 2600
    assert len(weighting.replicate(ev, np.ones(1000))) == 1000
    with pytest.raises(ValueError):
        weighting.replicate(ev, -np.ones(1000))


def test_inverse_probability_weights_only_patrol_records_and_is_bounded():
    w = weighting.inverse_probability(np.array([True, True, False]), np.array([0.5, 0.001, 0.1]))
    assert w.tolist() == [2.0, 20.0, 1.0]


def _simulated(seed: int = 1):
    proj = LocalProjection(4.36, 18.55)
    ev = simulate_hawkes(0.5, 0.4, 0.2, 300, 400, (-3000, -3000, 3000, 3000), seed=seed)
    lon, lat = proj.to_lonlat(ev.x, ev.y)
    cells = sorted({h3.latlng_to_cell(a, o, 8) for o, a in zip(lon, lat, strict=True)})
    grid, projection = riskmap.area_grid(cells, 8)
    return grid, projection, lon, lat, ev.t


def test_risk_map_is_deterministic_ranked_and_explained():
    grid, projection, lon, lat, t = _simulated()
    a = riskmap.compute(grid, projection, lon, lat, t, 400.0, 7.0, model="sepp", seed=3)
    b = riskmap.compute(grid, projection, lon, lat, t, 400.0, 7.0, model="sepp", seed=3)
    assert a.cells == b.cells and a.top == b.top and a.exploration == b.exploration
    assert a.model == "sepp" and a.fit["converged"]
    assert [c["expected"] for c in a.top] == sorted((c["expected"] for c in a.top), reverse=True)
    assert len(a.exploration) == 2 and not set(a.exploration) & {c["cell"] for c in a.top[:8]}
    assert all(0 <= c["background_share"] <= 1 for c in a.top)
    assert abs(sum(c["expected"] for c in a.cells) - a.total_expected) < 1e-2


def test_few_events_fall_back_to_the_best_baseline_and_nothing_after_origin_is_used():
    grid, projection, lon, lat, t = _simulated()
    few = riskmap.compute(grid, projection, lon[:30], lat[:30], t[:30], 400.0, 7.0)
    setting = riskmap.evaluated_setting(7.0, 8)
    assert few.model == setting.best_baseline != "sepp" and few.n_training_events == 30
    assert few.fit["default_from"]["resolution"] == setting.resolution
    # Events after the origin are dropped, never trained on.
    early = riskmap.compute(grid, projection, lon, lat, t, 100.0, 7.0)
    assert early.n_training_events == int((t < 100).sum())


def test_unknown_model_is_refused():
    grid, projection, lon, lat, t = _simulated()
    with pytest.raises(ValueError):
        riskmap.compute(grid, projection, lon, lat, t, 400.0, 7.0, model="crystal_ball")
