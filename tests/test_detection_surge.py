"""Farrington-flexible-type surge detection on simulated series with trend and seasonality."""

from __future__ import annotations

import numpy as np
import pytest

from sitaware.analytics.detection.surge import farrington_flexible

WEEKS = 6 * 52


def _quiet(areas: int, seed: int, phi: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Negative binomial weekly counts, mean ~10 with a seasonal wave and a slow upward trend."""
    rng = np.random.default_rng(seed)
    t = np.arange(WEEKS)
    mean = 10 * (1 + 0.4 * np.sin(2 * np.pi * t / 52)) * np.exp(0.001 * t)
    mean = np.repeat(mean[:, None], areas, axis=1)
    size = mean / (phi - 1)
    return rng.negative_binomial(size, size / (size + mean)), mean


def test_quiet_series_alarm_at_about_the_nominal_rate():
    counts, _ = _quiet(areas=6, seed=0)
    result = farrington_flexible(counts, start=WEEKS - 52, alpha=0.05)
    checked = ~np.isnan(result.upper[WEEKS - 52 :])
    assert checked.all()
    rate = result.alarm[WEEKS - 52 :].sum() / checked.sum()
    assert 0.01 <= rate <= 0.09
    assert np.nanmean(result.dispersion) == pytest.approx(1.5, abs=0.3)


def test_an_injected_outbreak_is_caught():
    counts, mean = _quiet(areas=1, seed=3)
    outbreak = slice(WEEKS - 8, WEEKS - 5)
    counts[outbreak, 0] += np.ceil(4 * np.sqrt(1.5 * mean[outbreak, 0])).astype(int)
    result = farrington_flexible(counts[:, 0], start=WEEKS - 20, alpha=0.01)
    assert result.alarm[outbreak].sum() >= 2
    quiet = np.ones(WEEKS, dtype=bool)
    quiet[outbreak] = False
    assert result.alarm[quiet].sum() <= 1
    assert np.all(result.expected[WEEKS - 20 :] > 0)


def test_a_past_outbreak_is_downweighted_so_it_does_not_mask_a_new_one():
    counts, mean = _quiet(areas=1, seed=5)
    series = counts[:, 0].copy()
    target = WEEKS - 1
    for years in (1, 2):  # big outbreaks at the same time of year, one and two years earlier
        series[target - 52 * years - 1 : target - 52 * years + 2] += 60
    series[target] += int(6 * np.sqrt(1.5 * mean[target, 0])) + 5
    weighted = farrington_flexible(series, start=target, alpha=0.01)
    unweighted = farrington_flexible(series, start=target, alpha=0.01, reweight_threshold=np.inf)
    assert weighted.upper[target] < unweighted.upper[target]
    assert weighted.alarm[target]
    assert not unweighted.alarm[target]  # without downweighting, last years' outbreaks hide this one


def test_sparse_areas_need_some_recent_cases_before_alarming():
    series = np.zeros(WEEKS, dtype=int)
    series[::40] = 1
    series[-1] = 2
    result = farrington_flexible(series, start=WEEKS - 1)
    assert series[-1] > result.upper[-1]  # above the threshold...
    assert not result.alarm[-1]  # ...but 2 cases in 4 weeks is below the (5, 4) minimum
    assert farrington_flexible(series, start=WEEKS - 1, min_recent=(1, 4)).alarm[-1]


@pytest.mark.parametrize(
    ("counts", "kwargs", "message"),
    [
        (np.ones(100), {"start": 100}, "no period to check"),
        (-np.ones(400), {}, "non-negative"),
        (np.ones(400), {"alpha": 1.5}, "alpha"),
        (np.zeros((0, 3)), {}, "non-empty"),
    ],
)
def test_it_rejects_bad_configurations(counts, kwargs, message):
    with pytest.raises(ValueError, match=message):
        farrington_flexible(counts, **kwargs)
