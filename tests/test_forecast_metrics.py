"""PAI, PEI*, hit rate and the Poisson log score against hand-computed values."""

import math

import numpy as np
import pytest

from sitaware.analytics.forecasting.metrics import captured, flag_weights, hotspot_metrics, poisson_log_score

AREAS_20 = np.ones(20)


def test_pai_pei_and_hit_rate_match_hand_computation():
    # 20 equal cells; 10% budget = 2 cells. The model ranks cells 0 and 1 first; events: 3 in cell 0, 1 in cell 5.
    score = np.arange(20, 0, -1, dtype=float)
    observed = np.zeros(20)
    observed[0], observed[5], observed[7] = 3, 1, 4
    m = hotspot_metrics(score, observed, AREAS_20, shares=(0.1,))
    assert m["hit@0.1"] == pytest.approx(3 / 8)
    assert m["pai@0.1"] == pytest.approx((3 / 8) / 0.1)
    # best possible two cells hold 4 + 3 = 7 events
    assert m["pei@0.1"] == pytest.approx(3 / 7)


def test_tied_cells_are_prorated_not_ordered():
    # All four cells tie; a 50% budget gets half of every event, whatever the cell order.
    observed = np.array([4.0, 0, 0, 0])
    w = flag_weights(np.zeros(4), np.ones(4), 0.5)
    assert w == pytest.approx([0.5] * 4)
    assert captured(np.zeros(4), observed, np.ones(4), 0.5) == pytest.approx(2.0)
    assert captured(np.zeros(4), observed[::-1], np.ones(4), 0.5) == pytest.approx(2.0)


def test_partial_last_cell_is_credited_by_area_fraction():
    score = np.array([3.0, 2.0, 1.0, 0.0])
    observed = np.array([1.0, 1.0, 2.0, 0.0])
    # budget 2.5 of 4 cells: cells 0 and 1 fully, half of cell 2
    assert captured(score, observed, np.ones(4), 2.5 / 4) == pytest.approx(1 + 1 + 1)


def test_ranking_is_by_score_per_area():
    # Cell 1 has the larger score but four times the area, so its density is lower.
    score = np.array([2.0, 3.0])
    w = flag_weights(score, np.array([1.0, 4.0]), 0.2)
    assert w == pytest.approx([1.0, 0.0])


def test_window_without_events_gives_nan_not_zero():
    m = hotspot_metrics(np.arange(20.0), np.zeros(20), AREAS_20, shares=(0.05,))
    assert math.isnan(m["pai@0.05"]) and math.isnan(m["pei@0.05"])


def test_only_positive_flags_less_area_and_divides_by_it():
    score = np.zeros(20)
    score[0] = 1.0
    observed = np.zeros(20)
    observed[0], observed[1] = 1, 1
    strict = hotspot_metrics(score, observed, AREAS_20, shares=(0.1,))
    sparse = hotspot_metrics(score, observed, AREAS_20, shares=(0.1,), only_positive=True)
    # strict: cell 0 + 1/19 of the tied rest (cell 1 among them)
    assert strict["hit@0.1"] == pytest.approx((1 + 1 / 19) / 2)
    # only positive: one cell (5% of the area) flagged, half the events found
    assert sparse["pai@0.1"] == pytest.approx(0.5 / 0.05)


def test_poisson_log_score_matches_formula_and_floors_zero_forecasts():
    assert poisson_log_score(np.array([2.0]), np.array([3.0])) == pytest.approx(3 * math.log(2) - 2 - math.log(6))
    assert np.isfinite(poisson_log_score(np.array([0.0]), np.array([1.0])))
    assert poisson_log_score(np.array([1.0]), np.array([1.0])) > poisson_log_score(np.array([0.0]), np.array([1.0]))


def test_share_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError):
        flag_weights(np.ones(3), np.ones(3), 0.0)
