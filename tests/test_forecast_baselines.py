"""Baselines: what each one predicts on small hand-made event sets, and that none accepts future events."""

import numpy as np
import pytest

from sitaware.analytics.forecasting.base import Events
from sitaware.analytics.forecasting.baselines import (
    KernelDensity,
    LastDays,
    LastPeriod,
    ProspectiveHotspot,
    RandomModel,
)
from sitaware.analytics.forecasting.grid import rect_grid

GRID = rect_grid(0, 0, 100, 100, [(i, j) for i in range(10) for j in range(10)])


def cell_xy(ix: int, iy: int) -> tuple[float, float]:
    return ix * 100 + 50.0, iy * 100 + 50.0


def events_at(rows: list[tuple[float, int, int]]) -> Events:
    t = [r[0] for r in rows]
    xy = [cell_xy(r[1], r[2]) for r in rows]
    return Events.of(np.array(t), np.array([p[0] for p in xy]), np.array([p[1] for p in xy]))


def index(ix: int, iy: int) -> int:
    return GRID.ids.index(f"{ix} {iy}")


def test_last_period_counts_only_the_last_window_and_scales_to_the_horizon():
    ev = events_at([(10, 1, 1), (85, 2, 2), (95, 2, 2), (99.5, 3, 3)])
    f = LastPeriod().fit(ev, GRID, 100.0).predict(30.0)
    assert f.expected[index(2, 2)] == 2 and f.expected[index(3, 3)] == 1 and f.expected[index(1, 1)] == 0
    f7 = LastPeriod(period=14).fit(ev, GRID, 100.0).predict(7.0)
    # [86, 100) holds one event in (2,2) and one in (3,3): half an event per 7 days each
    assert f7.expected[index(2, 2)] == pytest.approx(0.5) and f7.expected[index(3, 3)] == pytest.approx(0.5)


def test_last_365_days_ignores_older_events():
    ev = events_at([(0, 1, 1), (500, 2, 2), (600, 2, 2)])
    f = LastDays(365).fit(ev, GRID, 700.0).predict(365.0)
    assert f.expected[index(1, 1)] == 0 and f.expected[index(2, 2)] == 2


def test_every_model_refuses_events_at_or_after_the_origin():
    ev = events_at([(10, 1, 1), (100, 1, 1)])
    for model in (RandomModel(), LastPeriod(), LastDays(), KernelDensity(), ProspectiveHotspot()):
        with pytest.raises(ValueError, match="strictly before"):
            model.fit(ev, GRID, 100.0)


def test_random_model_is_reproducible_per_seed_and_origin():
    ev = events_at([(1, 1, 1)])
    a = RandomModel(3).fit(ev, GRID, 50.0).predict(7).score
    b = RandomModel(3).fit(ev, GRID, 50.0).predict(7).score
    c = RandomModel(4).fit(ev, GRID, 50.0).predict(7).score
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_kde_picks_a_narrow_bandwidth_for_a_tight_repeating_hot_spot():
    rows = [(float(d), 5, 5) for d in range(0, 100, 2)]
    ev = events_at(rows)
    model = KernelDensity(bandwidths_in_cells=(0.5, 4.0)).fit(ev, GRID, 100.0)
    f = model.predict(10.0)
    assert model.bandwidth == pytest.approx(50.0)
    assert int(np.argmax(f.expected)) == index(5, 5)
    # expected total = training rate (50 events from the first event at day 0 to the origin at 100) x horizon
    assert f.expected.sum() == pytest.approx(50 / 100 * 10)


def test_kde_picks_a_wide_bandwidth_when_events_wander():
    rng = np.random.default_rng(0)
    # 60 events scattered over all 100 cells: most validation events land in cells empty in the history
    rows = [(float(d), int(rng.integers(0, 10)), int(rng.integers(0, 10))) for d in range(0, 60)]
    model = KernelDensity(bandwidths_in_cells=(0.5, 4.0)).fit(events_at(rows), GRID, 60.0)
    model.predict(30.0)
    assert model.bandwidth == pytest.approx(400.0)


def test_prospective_hotspot_weights_match_bowers_johnson_pease():
    # One event 3 days ago (week 0) in cell (5,5), one 10 days ago (week 1) in cell (5,7).
    ev = events_at([(97, 5, 5), (90, 5, 7)])
    f = ProspectiveHotspot(max_weeks=8, max_cells=3).fit(ev, GRID, 100.0).predict(7.0)
    # cell (5,5): 1/(1+0)*1/(1+0) + 1/(1+2)*1/(1+1) ; cell (5,6): 1/2*1 + 1/2*1/2
    assert f.score[index(5, 5)] == pytest.approx(1 + 1 / 6)
    assert f.score[index(5, 6)] == pytest.approx(0.5 + 0.25)
    assert f.score[index(0, 0)] == 0  # beyond 3 cells of both events
