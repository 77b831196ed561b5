"""The risk map's default model follows the H3 evaluation; the pieces that evaluation needs (Portland in
longitude/latitude, a kernel density that scales to 20,000 H3 cells) are right."""

import json
from pathlib import Path

import numpy as np
import pytest

from sitaware.analytics.forecasting import baselines, riskmap
from sitaware.analytics.forecasting.base import Events
from sitaware.analytics.forecasting.datasets import oregon_north_to_lonlat
from sitaware.analytics.forecasting.grid import LocalProjection, h3_grid
from sitaware.analytics.forecasting.riskmap import EVALUATED, default_model, evaluated_setting

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "forecast.json"


def test_oregon_north_feet_become_the_same_lon_lat_as_proj():
    # pyproj 3.7 (EPSG:2913 -> EPSG:4326) on two Portland burglary points; the 1 m left is the HARN datum shift.
    lon, lat = oregon_north_to_lonlat(np.array([7688186.0, 7650823.0]), np.array([676342.0, 670782.0]))
    expected_lon, expected_lat = np.array([-122.50470614, -122.64980953]), np.array([45.50433574, 45.48645688])
    assert np.abs(lon - expected_lon).max() * 78_000 < 2.0  # metres east at 45.5 N
    assert np.abs(lat - expected_lat).max() * 111_000 < 2.0


def _hex_grid(resolution: int = 9):
    import h3

    projection = LocalProjection(45.52, -122.65)
    centre = h3.latlng_to_cell(45.52, -122.65, resolution)
    return h3_grid(projection, resolution, list(h3.grid_disk(centre, 14))), projection


def test_the_near_pairs_kernel_gives_the_dense_kernels_forecast(monkeypatch):
    grid, _ = _hex_grid()  # 631 cells: dense by default
    rng = np.random.default_rng(3)
    n = 800
    events = Events.of(rng.uniform(0, 400, n), rng.normal(0, 900, n), rng.normal(0, 700, n))
    dense = baselines.KernelDensity().fit(events, grid, 400.0)
    f_dense = dense.predict(14.0)
    monkeypatch.setattr(baselines, "DENSE_KERNEL_MAX_CELLS", 10)
    sparse_grid, _ = _hex_grid()  # a fresh grid: the kernel is cached per grid
    sparse = baselines.KernelDensity().fit(events, sparse_grid, 400.0)
    f_sparse = sparse.predict(14.0)
    assert sparse_grid._kde_kernel.d2 is None  # the near-pairs path really ran
    assert sparse.bandwidth == dense.bandwidth
    assert np.abs(f_sparse.expected - f_dense.expected).max() <= 1e-3 * f_dense.expected.max()
    top = 30
    assert set(np.argsort(-f_sparse.score)[:top]) == set(np.argsort(-f_dense.score)[:top])


def test_the_default_table_is_the_committed_evaluation():
    """riskmap.EVALUATED must be what bench/results/forecast.json says; rerun the bench and update both."""
    h3 = json.loads(RESULTS.read_text(encoding="utf-8"))["h3"]
    measured = set()
    for series, s in h3["series"].items():
        for res, r in s["resolutions"].items():
            for d in r["horizons"].values():
                measured.add((series, int(res), float(d["horizon_days"]), d["best_baseline"],
                              bool(d["sepp_beats_best"])))
                assert d["winner"] == ("sepp" if d["sepp_beats_best"] else d["best_baseline"])
    table = {(e.series, e.resolution, e.horizon_days, e.best_baseline, e.sepp_beats_best) for e in EVALUATED}
    assert table == measured


@pytest.mark.parametrize("setting", EVALUATED, ids=lambda e: f"{e.series}-r{e.resolution}-{e.horizon_days:g}d")
def test_the_default_at_an_evaluated_setting_is_its_winner(setting):
    winner = "sepp" if setting.sepp_beats_best else setting.best_baseline
    assert evaluated_setting(setting.horizon_days, setting.resolution) == setting
    assert default_model(500, setting.horizon_days, setting.resolution) == winner
    # too few events to fit SEPP: the setting's best baseline, never SEPP
    assert default_model(10, setting.horizon_days, setting.resolution) == setting.best_baseline


def test_requests_between_evaluated_settings_take_the_nearest():
    resolutions = {e.resolution for e in EVALUATED}
    finest, coarsest = max(resolutions), min(resolutions)
    assert evaluated_setting(7, 10).resolution == finest  # res 10 was not evaluated (above the cell limit)
    assert evaluated_setting(30, coarsest - 1).resolution == coarsest
    # resolution 7 was evaluated on both series: the horizon picks the one evaluated nearest to it
    assert evaluated_setting(30, 7).series == "car"
    assert evaluated_setting(7, 7).series == "portland"
    assert evaluated_setting(9, 8).horizon_days == 7 and evaluated_setting(10, 8).horizon_days == 14  # by ratio


def test_every_default_is_a_model_the_risk_map_can_run():
    for e in EVALUATED:
        assert e.best_baseline in riskmap.MODELS and e.best_baseline != "sepp"
