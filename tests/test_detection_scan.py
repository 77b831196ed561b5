"""Space-time permutation scan: agreement with R scanstatistics on real data, and behaviour."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from sitaware.analytics.detection import scan
from sitaware.analytics.detection import zones as zones_module
from sitaware.analytics.detection.scan import _Model, score_table, space_time_permutation_scan
from sitaware.analytics.detection.zones import knn_zones, plan_zones
from tests.conftest import shared_data


def _golden():
    folder = shared_data("golden", "scan_permutation_car")
    counts = np.loadtxt(folder / "counts.csv", delimiter=",", dtype=np.int64)
    lines = (folder / "zones.txt").read_text().splitlines()
    zones = [[int(x) - 1 for x in line.split()] for line in lines if line.strip()]
    with (folder / "locations.csv").open() as handle:
        coords = np.array([[float(r["lon"]), float(r["lat"])] for r in csv.DictReader(handle)])
    with (folder / "top10_observed.csv").open() as handle:
        top10 = list(csv.DictReader(handle))
    return counts, zones, coords, top10


def _grid(side: int) -> np.ndarray:
    return (
        np.array([[x, y] for y in range(side) for x in range(side)], dtype=float)
        + 0.001 * np.arange(side * side)[:, None]
    )


def _planted(seed: int, boost: float) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """64 cells x 40 periods of background noise with a cluster of 5 cells over the last 4 periods."""
    rng = np.random.default_rng(seed)
    coords = _grid(8)
    rate = np.full((40, 64), 0.4)
    hot = [27, 28, 35, 36, 19]
    rate[-4:, hot] *= boost
    return rng.poisson(rate), coords, hot


def test_it_matches_scanstatistics_on_the_car_golden_case():
    counts, zones, _, _ = _golden()
    result = space_time_permutation_scan(counts, zones, n_replicates=999, seed=1)
    mlc = result.most_likely
    assert mlc.zone + 1 == 187
    assert [c + 1 for c in mlc.cells] == [12, 13, 19, 20, 21, 26, 27, 28]
    assert mlc.window == 30
    assert mlc.start_period == 22
    assert mlc.score == pytest.approx(24.329637, abs=1e-6)
    assert mlc.observed_over_expected == pytest.approx(3.06215970961888, rel=1e-9)
    assert result.n_cases == 397 and result.n_zones == 1409
    assert mlc.p_value == pytest.approx(0.001)
    assert mlc.recurrence_interval == pytest.approx(1000.0)


def test_its_ten_best_candidates_are_the_reference_ones():
    counts, zones, _, top10 = _golden()
    table = score_table(counts, zones)
    got = table.top(10)
    for (zone, window, score), row in zip(got, top10, strict=True):
        assert (zone + 1, window) == (int(row["zone"]), int(row["duration"]))
        assert score == pytest.approx(float(row["score"]), abs=1e-6)
        c, e, n = table.observed[zone, window - 1], table.expected[zone, window - 1], table.n_cases
        assert c / e == pytest.approx(float(row["relrisk_in"]), rel=1e-9)
        assert (n - c) / (n - e) == pytest.approx(float(row["relrisk_out"]), rel=1e-9)


def test_knn_zones_from_coordinates_reproduce_the_reference_zone_list():
    _, zones, coords, _ = _golden()
    assert knn_zones(coords, 10) == [tuple(z) for z in zones]


def test_scores_equal_a_direct_computation_of_the_likelihood_ratio():
    rng = np.random.default_rng(3)
    counts = rng.poisson(0.8, size=(12, 9))
    zones = [[0], [0, 1], [0, 1, 4], [2, 5, 8], [3, 4, 5, 6, 7], list(range(9))]
    table = score_table(counts, zones, max_window=6)
    n = counts.sum()
    for z, cells in enumerate(zones):
        for d in range(1, 7):
            c = counts[-d:, cells].sum()
            b = counts[-d:, :].sum() * counts[:, cells].sum() / n
            want = c * math.log(c / b) + (n - c) * math.log((n - c) / (n - b)) if c > b else 0.0
            assert table.observed[z, d - 1] == c
            assert table.expected[z, d - 1] == pytest.approx(b)
            assert table.scores[z, d - 1] == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("n_cases", [600, 70_000])  # 16-bit and 32-bit zone counts
def test_replicate_maxima_are_the_exact_maxima(n_cases, monkeypatch):
    # Small chunks so that candidates straddle chunk edges, as in large problems.
    monkeypatch.setattr(scan, "_CHUNK_ELEMENTS", 1000)
    rng = np.random.default_rng(0)
    coords = _grid(8)
    rate = np.full((40, 64), n_cases / (40 * 64))
    rate[-4:, [27, 28, 35]] *= 2
    counts = rng.poisson(rate)
    model = _Model(counts, plan_zones(knn_zones(coords, 6), 64), 40)
    periods = np.stack([rng.permutation(model.case_period) for _ in range(6)])
    exact = model.exact_scores(model.window_counts(periods)).max(axis=0)
    assert np.all(exact > 0)
    # Without a floor; with one at the median (half the replicates fall below it and are redone in full);
    # with one below every maximum (the shortcut always holds).
    for floor in (None, model.floor(float(np.median(exact))), model.floor(0.5 * float(exact.min()))):
        got = np.array([model.maxima_one(p, floor) for p in periods])
        np.testing.assert_allclose(got, exact, rtol=0, atol=1e-9)


def test_a_strong_planted_cluster_is_found_and_significant():
    counts, coords, hot = _planted(11, 6.0)
    result = space_time_permutation_scan(counts, coords=coords, max_k=6, n_replicates=199, seed=2)
    mlc = result.most_likely
    assert mlc.window <= 5
    assert len(set(mlc.cells) & set(hot)) >= 3
    assert mlc.p_value <= 0.01
    assert mlc.relative_risk > 2


def test_pure_noise_is_rarely_significant():
    p_values = []
    for seed in range(20):
        counts, coords, _ = _planted(100 + seed, 1.0)
        result = space_time_permutation_scan(counts, coords=coords, max_k=6, n_replicates=99, seed=seed)
        p_values.append(result.most_likely.p_value)
    # Under the null, P(p <= 0.05) = 0.05: 6 or more of 20 would happen with probability ~3e-4.
    assert sum(p <= 0.05 for p in p_values) <= 5
    assert 0.3 < float(np.mean(p_values)) < 0.7


def test_the_same_seed_gives_the_same_answer_whatever_the_workers():
    counts, coords, _ = _planted(7, 3.0)
    one = space_time_permutation_scan(counts, coords=coords, max_k=6, n_replicates=120, seed=42, workers=1)
    two = space_time_permutation_scan(counts, coords=coords, max_k=6, n_replicates=120, seed=42, workers=2)
    other = space_time_permutation_scan(counts, coords=coords, max_k=6, n_replicates=120, seed=43, workers=1)
    np.testing.assert_array_equal(one.replicate_maxima, two.replicate_maxima)
    assert one.most_likely == two.most_likely
    assert not np.array_equal(one.replicate_maxima, other.replicate_maxima)


def test_secondary_clusters_are_ranked_and_share_no_cell():
    counts, coords, _ = _planted(9, 4.0)
    result = space_time_permutation_scan(counts, coords=coords, max_k=6, n_replicates=49, n_secondary=5)
    clusters = [result.most_likely, *result.secondary]
    assert len(clusters) == 6
    scores = [c.score for c in clusters]
    assert scores == sorted(scores, reverse=True)
    seen: set[int] = set()
    for c in clusters:
        assert not seen & set(c.cells)
        seen |= set(c.cells)
        assert c.p_value is not None and c.p_value >= clusters[0].p_value


def test_recurrence_interval_scales_with_the_analysis_frequency():
    counts, coords, _ = _planted(11, 6.0)
    weekly = space_time_permutation_scan(counts, coords=coords, max_k=6, n_replicates=99, seed=1)
    monthly = space_time_permutation_scan(
        counts, coords=coords, max_k=6, n_replicates=99, seed=1, analysis_interval=4.0
    )
    assert weekly.most_likely.recurrence_interval == pytest.approx(1 / weekly.most_likely.p_value)
    assert monthly.most_likely.recurrence_interval == pytest.approx(4 * weekly.most_likely.recurrence_interval)
    assert space_time_permutation_scan(counts, coords=coords, n_replicates=0).most_likely.p_value is None


@pytest.mark.parametrize(
    ("counts", "kwargs", "message"),
    [
        (np.zeros((10, 0), dtype=int), {"zones": [[0]]}, "empty area"),
        (np.zeros((10, 3), dtype=int), {"zones": [[0], [1], [2]]}, "zero events"),
        (np.ones((10, 3), dtype=int), {"zones": [[0, 1]]}, "cells without neighbours"),
        (np.ones((10, 3), dtype=int), {"coords": np.eye(3)[:, :2], "max_k": 1}, "neighbours"),
        (np.ones((10, 3), dtype=int), {"zones": [[0], [1], [2]], "max_window": 11}, "longer than the series"),
        (np.ones((10, 3), dtype=int), {"zones": [[0], [1], [2, 3]]}, "outside"),
        (-np.ones((10, 3), dtype=int), {"zones": [[0], [1], [2]]}, "non-negative"),
        (np.ones((10, 3), dtype=int), {}, "zones"),
    ],
)
def test_it_rejects_bad_configurations_with_a_clear_message(counts, kwargs, message):
    with pytest.raises(ValueError, match=message):
        space_time_permutation_scan(counts, n_replicates=9, **kwargs)


def test_nearest_cells_break_distance_ties_like_a_stable_sort():
    # A coarse grid: every cell has many neighbours at exactly the same distance.
    coords = np.array([[x, y] for y in range(30) for x in range(30)], dtype=float)
    dist = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(axis=2))
    np.testing.assert_array_equal(zones_module._nearest(dist, 10), np.argsort(dist, axis=1, kind="stable")[:, :10])


def test_a_window_without_any_case_gives_no_alarm_instead_of_a_crash():
    import math

    import numpy as np

    from sitaware.analytics.detection.scan import space_time_permutation_scan

    counts = np.zeros((10, 3), int)
    counts[0, 0], counts[1, 1], counts[2, 2] = 2, 1, 1
    result = space_time_permutation_scan(counts, coords=[[0, 0], [1, 0], [2, 0]], max_k=2, max_window=3,
                                         n_replicates=9, seed=1)
    best = result.most_likely
    assert best.observed == 0 and best.expected == 0 and best.score == 0
    assert math.isnan(best.relative_risk) and math.isnan(best.observed_over_expected)
