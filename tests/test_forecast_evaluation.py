"""Rolling-origin evaluation: no model ever sees an event at or after its origin; summaries and bootstrap behave."""

import datetime as dt

import numpy as np
import pytest

from sitaware.analytics.forecasting.base import Events, Forecast
from sitaware.analytics.forecasting.baselines import LastDays, LastPeriod, RandomModel
from sitaware.analytics.forecasting.evaluation import (
    day_number,
    flag_matrix,
    monthly_windows,
    paired_bootstrap,
    report_markdown,
    rolling_origin,
    summarise,
    weekly_windows,
    write_report,
)
from sitaware.analytics.forecasting.grid import rect_grid

GRID = rect_grid(0, 0, 100, 100, [(i, j) for i in range(10) for j in range(10)])


class Spy:
    """Records the latest event time it was trained on, and forecasts the training counts (a real forecast)."""

    name = "spy"
    seen: list[tuple[float, float]] = []

    def fit(self, events: Events, grid, origin: float) -> "Spy":
        Spy.seen.append((origin, float(events.t.max()) if len(events) else -np.inf))
        self.counts = grid.counts(events.x, events.y)
        return self

    def predict(self, horizon: float) -> Forecast:
        return Forecast(score=self.counts, expected=self.counts)


def hot_spot_events(seed: int = 0) -> Events:
    """Two persistent hot cells plus uniform noise over 200 days."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 200, 600)
    x, y = rng.uniform(0, 1000, 600), rng.uniform(0, 1000, 600)
    x[:300], y[:300] = 150 + rng.uniform(-40, 40, 300), 150 + rng.uniform(-40, 40, 300)
    x[300:400], y[300:400] = 750 + rng.uniform(-40, 40, 100), 850 + rng.uniform(-40, 40, 100)
    return Events.of(t, x, y)


def test_models_are_trained_only_on_events_before_each_origin():
    Spy.seen = []
    events = hot_spot_events()
    windows = weekly_windows(100.0, 190.0)
    rolling_origin(events, GRID, {"spy": Spy}, windows)
    assert len(Spy.seen) == len(windows)
    assert all(latest < origin for origin, latest in Spy.seen)


def test_injected_future_events_never_change_a_forecast():
    # A burst placed in a cold cell at day 150 must not move any forecast made at an origin <= 150.
    events = hot_spot_events()
    burst = Events.of(np.concatenate([events.t, np.full(50, 150.0)]), np.concatenate([events.x, np.full(50, 950.0)]),
                      np.concatenate([events.y, np.full(50, 50.0)]))
    windows = weekly_windows(100.0, 150.0)
    models = {"last_period": LastPeriod, "last_365": LastDays, "spy": Spy}
    before = rolling_origin(events, GRID, models, windows)
    after = rolling_origin(burst, GRID, models, windows)
    for a, b in zip(before, after, strict=True):
        assert np.array_equal(a.flagged, b.flagged)
        if a.end <= 150.0:  # the burst is outside the scored window too: metrics identical
            assert a.metrics == pytest.approx(b.metrics, nan_ok=True)
    # ... and the last origin's scored window does contain the burst, so the test could have failed
    assert after[-1].n_events > before[-1].n_events


def test_persistent_hot_spots_beat_random_with_a_significant_bootstrap_difference():
    results = rolling_origin(hot_spot_events(), GRID, {"random": lambda: RandomModel(1), "last_365": LastDays},
                             weekly_windows(60.0, 190.0))
    summary = summarise(results, "pai@0.05")
    assert summary["last_365"]["mean"] > 5 > summary["random"]["mean"]
    boot = paired_bootstrap(results, "pai@0.05", baseline="random")
    assert boot["last_365"]["lo"] > 0
    assert boot == paired_bootstrap(results, "pai@0.05", baseline="random")  # seeded: same interval again


def test_report_has_one_table_per_metric_and_is_written(tmp_path):
    results = rolling_origin(hot_spot_events(), GRID, {"random": RandomModel, "last_period": LastPeriod},
                             weekly_windows(100.0, 130.0))
    text = report_markdown(results, ["pai@0.05", "log_score"], baselines=["random"])
    assert "### pai@0.05" in text and "### log_score" in text and "| last_period |" in text
    path = write_report(results, tmp_path / "r.md", ["pai@0.05"], ["random"])
    assert path.read_text().startswith("## Forecast evaluation")
    assert flag_matrix(results, "random").shape == (5, GRID.size)


def test_monthly_windows_follow_calendar_months():
    w = monthly_windows(dt.date(2020, 1, 1), dt.date(2020, 3, 1))
    assert w == [(day_number(dt.date(2020, 1, 1)), day_number(dt.date(2020, 2, 1))),
                 (day_number(dt.date(2020, 2, 1)), day_number(dt.date(2020, 3, 1))),
                 (day_number(dt.date(2020, 3, 1)), day_number(dt.date(2020, 4, 1)))]
