"""Runaway feedback (Ensign et al. 2018) and attention concentration."""

import numpy as np
import pytest

from sitaware.analytics.forecasting.feedback import concentration, gini, polya_urn

RATES = (3.0, 2.0)  # true shares 0.6 / 0.4


def test_uncorrected_urn_runs_away_from_the_true_shares():
    errors = [polya_urn(RATES, days=1000, correction="none", seed=s).final_error for s in range(20)]
    assert min(errors) > 0.05
    assert np.median(errors) > 0.25


def test_inverse_probability_weighting_keeps_shares_within_five_points():
    for seed in range(10):
        run = polya_urn(RATES, days=1000, correction="inverse_probability", seed=seed)
        assert run.final_error <= 0.05, seed
    errors = [polya_urn(RATES, 1000, "inverse_probability", seed=s).final_error for s in range(10, 40)]
    assert np.median(errors) < 0.025


def test_reported_incidents_only_keep_shares_within_five_points():
    for seed in range(10):
        assert polya_urn(RATES, days=1000, correction="reported_only", seed=seed).final_error <= 0.05


def test_urn_rejects_unknown_corrections():
    with pytest.raises(ValueError):
        polya_urn(RATES, days=5, correction="magic")  # type: ignore[arg-type]


def test_gini_extremes():
    assert gini(np.ones(10)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 1.0])) == pytest.approx(0.75)


def test_concentration_warns_when_the_same_cells_are_flagged_for_months():
    flags = np.zeros((24, 50))
    flags[:, :2] = 1.0  # the same two cells every period
    report = concentration(flags)
    assert report.top_share == pytest.approx(1.0) and report.longest_streak[0] == 24
    assert len(report.warnings) == 2
    assert report.flag_share[0] == 1.0 and report.flag_share[10] == 0.0


def test_rotating_flags_raise_no_warning():
    flags = np.zeros((24, 48))
    for period in range(24):
        flags[period, (2 * period) % 48:(2 * period) % 48 + 2] = 1.0
    report = concentration(flags)
    assert report.warnings == [] and report.gini == pytest.approx(0.0)
