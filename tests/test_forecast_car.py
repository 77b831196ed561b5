"""Forecasting on real data: UCDP GED Central African Republic, monthly, 0.5-degree cells."""

import datetime as dt

import numpy as np
import pytest

from sitaware.analytics.forecasting.base import Events
from sitaware.analytics.forecasting.baselines import KernelDensity, LastDays, LastPeriod, RandomModel
from sitaware.analytics.forecasting.datasets import read_ucdp_ged
from sitaware.analytics.forecasting.evaluation import day_number, monthly_windows, rolling_origin, summarise
from sitaware.analytics.forecasting.grid import degree_grid
from sitaware.analytics.forecasting.sepp import SEPP
from tests.conftest import shared_data

MODELS = {"random": lambda: RandomModel(0), "last_period": LastPeriod, "last_365": lambda: LastDays(365),
          "kde": KernelDensity}


def with_burst(events: Events, day: float, x: float, y: float, n: int = 200) -> Events:
    return Events.of(np.concatenate([events.t, np.full(n, day)]), np.concatenate([events.x, np.full(n, x)]),
                     np.concatenate([events.y, np.full(n, y)]))


@pytest.fixture(scope="module")
def car():
    path = shared_data("events", "ucdp_ged_caf") / "ged231_caf_detection.csv"
    data = read_ucdp_ged(path)
    grid = degree_grid(data.projection, 14.0, 2.0, 0.5, data.lon, data.lat)
    return data, grid


def test_reader_keeps_precise_events_on_the_expected_grid(car):
    data, grid = car
    assert len(data.events) == 1561  # where_prec <= 3 and date_prec <= 3 out of 1,848
    assert grid.size == 149  # the golden scan-statistic case counts the same 149 cells
    assert (np.diff(data.events.t) >= 0).all()


def test_baseline_pai_is_in_a_plausible_range(car):
    data, grid = car
    results = rolling_origin(data.events, grid, MODELS, monthly_windows(dt.date(2014, 1, 1), dt.date(2016, 12, 1)))
    pai = {m: s["mean"] for m, s in summarise(results, "pai@0.05").items()}
    assert 0.3 < pai["random"] < 2.0
    for model in ("last_period", "last_365", "kde"):
        assert 2.5 < pai[model] <= 20.0, (model, pai[model])  # 20 = 1/0.05, a perfect forecast
    assert pai["last_365"] > pai["random"] + 2


def test_future_events_injected_into_the_data_are_never_used(car):
    data, grid = car
    windows = monthly_windows(dt.date(2015, 1, 1), dt.date(2015, 6, 1))
    cut = day_number(dt.date(2015, 7, 1))
    # 200 fake events on 2015-07-01 in the cell with the fewest real events: after every origin and window.
    cold = int(np.argmin(grid.counts(data.events.x, data.events.y)))
    cx, cy = grid.centres[cold]
    fake = with_burst(data.events, cut, cx, cy)
    models = {**MODELS, "sepp": lambda: SEPP(sigma0=20_000, max_lag=90, min_sigma=1_000)}
    clean = rolling_origin(data.events, grid, models, windows)
    dirty = rolling_origin(fake, grid, models, windows)
    for a, b in zip(clean, dirty, strict=True):
        assert np.array_equal(a.flagged, b.flagged), (a.model, a.origin)
        assert a.metrics == pytest.approx(b.metrics, nan_ok=True)
    # the same injection one month earlier does change forecasts: the comparison above can fail
    early = with_burst(data.events, cut - 40, cx, cy)
    leaked = rolling_origin(early, grid, {"last_period": LastPeriod}, windows[-1:])
    assert leaked[0].flagged[cold] > 0


def test_h3_cells_work_end_to_end(car):
    from sitaware.analytics.forecasting.grid import h3_cells_of, h3_grid

    data, _ = car
    grid = h3_grid(data.projection, 4, h3_cells_of(data.projection, 4, data.events.x, data.events.y))
    assert 150 < grid.size < 250
    models = {"random": lambda: RandomModel(0), "last_365": lambda: LastDays(365),
              "sepp": lambda: SEPP(sigma0=20_000, max_lag=90, min_sigma=1_000)}
    results = rolling_origin(data.events, grid, models, monthly_windows(dt.date(2014, 1, 1), dt.date(2014, 12, 1)))
    pai = {m: s["mean"] for m, s in summarise(results, "pai@0.05").items()}
    assert pai["last_365"] > pai["random"] + 2 and pai["sepp"] > pai["random"] + 2
