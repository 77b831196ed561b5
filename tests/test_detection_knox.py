"""Knox test and Near Repeat Calculator table: agreement with pointpats, surveillance and NRC 1.3."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from sitaware.analytics.detection.knox import knox_test, near_repeat_table
from tests.conftest import shared_data

NRC_OBSERVED = [  # chicago_be_month1_NRverbose_*.csv, "Observed frequencies distribution"
    [28, 5, 5, 2],
    [44, 13, 8, 4],
    [97, 56, 19, 16],
    [77, 67, 45, 20],
    [182194, 146149, 95237, 45879],
]


def _chicago(name: str, header: bool) -> tuple[np.ndarray, np.ndarray]:
    path = shared_data("crime", "chicago_near_repeat", name)
    with path.open() as handle:
        rows = list(csv.reader(handle))[1 if header else 0 :]
    rows = [r for r in rows if r[2] not in ("", "NA")]  # one 2016 record has no date
    xy = np.array([[float(r[0]), float(r[1])] for r in rows])
    return xy, np.array([r[2] for r in rows], dtype="datetime64[D]")


@pytest.mark.parametrize(
    ("delta", "tau", "statistic", "expected"),
    [(100, 7, 86, 58.99), (200, 7, 207, 156.27), (200, 14, 288, 260.69)],
)
def test_knox_matches_pointpats_and_surveillance_on_a_month_of_burglaries(delta, tau, statistic, expected):
    xy, t = _chicago("chicago_be_month1.csv", header=False)
    assert len(xy) == 970
    result = knox_test(xy, t, delta, tau, n_permutations=99, seed=1)
    assert result.statistic == statistic
    assert result.expected == pytest.approx(expected, abs=0.005)
    assert result.n_pairs == 970 * 969 // 2
    assert result.expected == pytest.approx(result.close_in_space * result.close_in_time / result.n_pairs)


def test_knox_matches_the_reference_on_a_full_year():
    xy, t = _chicago("chicago_be_2016.csv", header=True)
    assert len(xy) == 11700
    result = knox_test(xy, t, 200, 7, n_permutations=19, seed=1)
    assert result.statistic == 2234
    assert result.expected == pytest.approx(1391.9, abs=0.05)
    # Burglary near repeats are well established: far above anything the shuffles produce.
    assert result.p_value == pytest.approx(1 / 20)
    assert result.p_value_poisson < 1e-50
    assert result.permuted_mean == pytest.approx(result.expected, rel=0.05)


def test_near_repeat_table_reproduces_the_calculator_counts():
    xy, t = _chicago("chicago_be_month1.csv", header=False)
    table = near_repeat_table(xy, t, n_permutations=19, seed=1)
    np.testing.assert_array_equal(table.observed, np.array(NRC_OBSERVED))
    assert table.observed.sum() == 970 * 969 // 2
    assert table.row_labels == ("same location", "1 to 100", "101 to 200", "201 to 300", "more than 300")
    assert table.column_labels[0] == "0 to 7 days" and table.column_labels[-1] == "more than 21 days"
    # NRC: ratio 1.69 and p = 0.05 (the best possible with 19 shuffles) in the (1-100 m, 0-7 d) cell.
    assert table.ratio[1, 0] == pytest.approx(1.69, abs=0.15)
    assert table.p_value[1, 0] == pytest.approx(0.05)
    assert table.p_value[0, 0] == pytest.approx(0.05)
    # Shuffling times keeps every time band's total, so the expected table has the observed column sums.
    np.testing.assert_allclose(table.expected.sum(axis=0), table.observed.sum(axis=0))


def _random_events(n: int, seed: int, repeats: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 5000, size=(n, 2))
    t = rng.integers(0, 365, size=n).astype(float)
    if repeats:  # follow-up events 0-50 m and 0-3 days after randomly chosen ones
        src = rng.integers(0, n, size=repeats)
        xy = np.vstack([xy, xy[src] + rng.uniform(-35, 35, size=(repeats, 2))])
        t = np.concatenate([t, t[src] + rng.integers(0, 4, size=repeats)])
    return xy, t


def test_brute_force_pair_counts_agree():
    xy, t = _random_events(300, 4, repeats=30)
    result = knox_test(xy, t, 150, 5, n_permutations=0)
    i, j = np.triu_indices(len(t), k=1)
    close_s = np.hypot(*(xy[i] - xy[j]).T) <= 150
    close_t = np.abs(t[i] - t[j]) <= 5
    assert result.close_in_space == close_s.sum()
    assert result.close_in_time == close_t.sum()
    assert result.statistic == (close_s & close_t).sum()
    assert result.p_value is None
    table = near_repeat_table(xy, t, spatial_band=50, n_spatial_bands=2, temporal_band=3, n_permutations=0)
    manhattan = np.abs(xy[i] - xy[j]).sum(axis=1)
    dt = np.abs(t[i] - t[j])
    same = manhattan == 0
    first = (manhattan > 0) & (manhattan <= 50)
    assert table.observed[0, 0] == (same & (dt <= 2)).sum()
    assert table.observed[1, 1] == (first & (dt >= 3) & (dt <= 5)).sum()
    assert table.observed[-1, -1] == ((manhattan > 100) & (dt >= 9)).sum()


def test_planted_near_repeats_are_significant_and_noise_is_not():
    xy, t = _random_events(600, 1, repeats=60)
    planted = knox_test(xy, t, 100, 7, n_permutations=199, seed=3)
    assert planted.p_value <= 0.01
    assert planted.ratio > 2
    rejections = 0
    for seed in range(20):
        xy, t = _random_events(600, 100 + seed)
        rejections += knox_test(xy, t, 100, 7, n_permutations=99, seed=seed).p_value <= 0.05
    assert rejections <= 5  # P(>= 6 of 20) ~ 3e-4 under the null


def test_the_same_seed_gives_the_same_p_values():
    xy, t = _random_events(400, 2, repeats=20)
    a = near_repeat_table(xy, t, n_permutations=39, seed=5)
    b = near_repeat_table(xy, t, n_permutations=39, seed=5)
    c = near_repeat_table(xy, t, n_permutations=39, seed=6)
    np.testing.assert_array_equal(a.expected, b.expected)
    np.testing.assert_array_equal(a.p_value, b.p_value)
    assert not np.array_equal(a.expected, c.expected)
    assert knox_test(xy, t, 100, 7, seed=5).p_value == knox_test(xy, t, 100, 7, seed=5).p_value


@pytest.mark.parametrize(
    ("xy", "t", "kwargs", "message"),
    [
        (np.zeros((1, 2)), np.zeros(1), {}, "at least two events"),
        (np.zeros((3, 2)), np.zeros(2), {}, "but t has"),
        (np.zeros((3, 3)), np.zeros(3), {}, "events x 2"),
        (np.zeros((3, 2)), np.array([0, 1, np.nan]), {}, "finite"),
        (np.zeros((3, 2)), np.zeros(3), {"delta": -1}, "non-negative"),
    ],
)
def test_knox_rejects_bad_input(xy, t, kwargs, message):
    args = {"delta": 100, "tau": 7, **kwargs}
    with pytest.raises(ValueError, match=message):
        knox_test(xy, t, **args)


def test_near_repeat_table_rejects_bad_bands():
    xy, t = _random_events(10, 0)
    with pytest.raises(ValueError, match="band"):
        near_repeat_table(xy, t, spatial_band=0)
    with pytest.raises(ValueError, match="metric"):
        near_repeat_table(xy, t, metric="chebyshev")
