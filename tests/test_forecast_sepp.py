"""SEPP: recovers known parameters from a simulated Hawkes process, flags non-convergence, forecasts sensibly."""

import warnings

import numpy as np
import pytest

from sitaware.analytics.forecasting.base import Events
from sitaware.analytics.forecasting.grid import rect_grid
from sitaware.analytics.forecasting.sepp import SEPP, SEPPConvergenceWarning, _pairs, simulate_hawkes

# The grid reaches one cell beyond the simulated 5 km box: offspring that land just outside are then kept, as in
# the simulated process (cut at the box edge, they would bias theta and sigma down).
GRID = rect_grid(0, 0, 500, 500, [(i, j) for i in range(-1, 11) for j in range(-1, 11)])
TRUE = {"mu": 2.0, "theta": 0.5, "omega": 0.2, "sigma": 100.0}


@pytest.fixture(scope="module")
def simulated() -> Events:
    return simulate_hawkes(TRUE["mu"], TRUE["theta"], TRUE["omega"], TRUE["sigma"], days=1500,
                           bbox=(0, 0, 5000, 5000), seed=7)


def test_em_recovers_the_simulated_parameters(simulated):
    model = SEPP(theta0=0.2, omega0=0.05, sigma0=300, max_lag=60, max_distance=400).fit(simulated, GRID, 1500.0)
    p = model.params
    assert model.converged
    # over 8 seeds the estimates spread 0.47-0.52, 0.20-0.22, 96-103 m, 1.98-2.08 per day
    assert p.theta == pytest.approx(TRUE["theta"], abs=0.05)
    assert p.omega == pytest.approx(TRUE["omega"], rel=0.12)
    assert p.sigma == pytest.approx(TRUE["sigma"], rel=0.06)
    assert p.background.sum() == pytest.approx(TRUE["mu"], rel=0.06)


def test_em_without_triggering_finds_theta_near_zero():
    ev = simulate_hawkes(2.0, 0.0, 0.2, 100.0, days=1000, bbox=(0, 0, 5000, 5000), seed=3)
    model = SEPP(max_lag=60, max_distance=400, sigma0=100, max_iter=2000).fit(ev, GRID, 1000.0)
    assert model.params.theta < 0.05


def test_stopping_early_is_flagged_and_warned(simulated):
    with pytest.warns(SEPPConvergenceWarning):
        model = SEPP(max_iter=2, max_distance=400, sigma0=300).fit(simulated, GRID, 1500.0)
    assert not model.converged and model.n_iter == 2


def test_converged_fit_does_not_warn(simulated):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SEPPConvergenceWarning)
        SEPP(max_distance=400, sigma0=300).fit(simulated, GRID, 1500.0)


def test_pair_cut_off_matches_brute_force():
    rng = np.random.default_rng(1)
    t = np.sort(rng.uniform(0, 100, 300))
    x, y = rng.uniform(0, 1000, 300), rng.uniform(0, 1000, 300)
    i, j, dt, d2 = _pairs(t, x, y, max_lag=10, max_distance=150)
    got = set(zip(i.tolist(), j.tolist(), strict=True))
    want = {(a, b) for a in range(300) for b in range(300)
            if 0 < t[b] - t[a] <= 10 and (x[b] - x[a]) ** 2 + (y[b] - y[a]) ** 2 <= 150**2}
    assert got == want
    assert (dt > 0).all() and (d2 <= 150**2).all()


def test_forecast_adds_decaying_triggering_around_recent_events():
    ev = simulate_hawkes(1.0, 0.5, 0.2, 100.0, days=800, bbox=(0, 0, 5000, 5000), seed=11)
    burst = Events.of(np.concatenate([ev.t, np.full(20, 799.0)]), np.concatenate([ev.x, np.full(20, 2250.0)]),
                      np.concatenate([ev.y, np.full(20, 2250.0)]))
    model = SEPP(max_distance=400, sigma0=100).fit(burst, GRID, 800.0)
    f = model.predict(7.0)
    hot = GRID.assign(np.array([2250.0]), np.array([2250.0]))[0]
    assert int(np.argmax(f.expected)) == hot
    assert f.expected[hot] > 7 * model.params.background[hot] + 1.0
    assert (f.lower <= f.upper).all() and f.lower[hot] <= f.expected[hot] <= f.upper[hot]
    # the total is background*horizon plus at most theta per past event
    assert f.expected.sum() <= 7 * model.params.background.sum() + model.params.theta * len(burst) + 1e-9


def test_simulator_rejects_explosive_branching():
    with pytest.raises(ValueError):
        simulate_hawkes(1.0, 1.2, 0.2, 100.0, days=10, bbox=(0, 0, 1, 1))


def test_triggering_mass_of_one_event_is_integrated_over_the_cells():
    # One past event in the middle of the grid, background forced to 0: the forecast over all cells must equal
    # theta * (exp(-omega a) - exp(-omega (a + h))), and split between two cells as the Gaussian does.
    from scipy.stats import norm

    from sitaware.analytics.forecasting.sepp import SEPPParams

    model = SEPP().fit(Events.of(np.array([0.0]), np.array([2500.0]), np.array([2250.0])), GRID, 1.0)
    model.params = SEPPParams(theta=0.5, omega=0.2, sigma=300.0, background=np.zeros(GRID.size))
    f = model.predict(7.0)
    assert f.expected.sum() == pytest.approx(0.5 * (np.exp(-0.2) - np.exp(-0.2 * 8)), rel=1e-6)
    # the event sits on the boundary between cells (4, 4) and (5, 4), level with their centres (y = 2250)
    left, right = GRID.ids.index("4 4"), GRID.ids.index("5 4")
    share_y = norm.cdf(250 / 300) - norm.cdf(-250 / 300)
    share_x = norm.cdf(500 / 300) - 0.5
    expected_cell = 0.5 * (np.exp(-0.2) - np.exp(-0.2 * 8)) * share_x * share_y
    assert f.expected[left] == pytest.approx(expected_cell, rel=1e-6)
    assert f.expected[right] == pytest.approx(expected_cell, rel=1e-6)
