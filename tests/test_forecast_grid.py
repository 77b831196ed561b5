"""Grids: every event lands in the right cell, or in none."""

import numpy as np
import pytest

from sitaware.analytics.forecasting.grid import (
    LocalProjection,
    degree_grid,
    h3_cells_of,
    h3_grid,
    points_in_polygon,
    rect_grid,
    square_grid_over,
)


def test_rect_grid_assigns_points_and_drops_outside_ones():
    grid = rect_grid(0, 0, 100, 100, [(0, 0), (1, 0), (1, 1)])
    idx = grid.assign(np.array([50, 150, 150, 50, -1]), np.array([50, 50, 150, 150, 50]))
    assert idx.tolist() == [0, 1, 2, -1, -1]
    assert grid.counts(np.array([50, 50, 150]), np.array([50, 60, 150])).tolist() == [2, 0, 1]


def test_square_grid_keeps_only_cells_whose_centre_is_inside_the_boundary():
    triangle = np.array([[0, 0], [1000, 0], [0, 1000]], dtype=float)
    grid = square_grid_over(np.array([]), np.array([]), 100, boundary=triangle)
    assert grid.size == 45  # centres (i+.5, j+.5)*100 with i + j + 1 < 10
    assert points_in_polygon(np.array([100, 900]), np.array([100, 900]), triangle).tolist() == [True, False]


def test_degree_grid_ids_follow_the_floor_convention():
    proj = LocalProjection(6.0, 20.0)
    lon, lat = np.array([18.58, 14.1]), np.array([4.37, 2.2])
    grid = degree_grid(proj, 14.0, 2.0, 0.5, lon, lat)
    assert grid.ids == ["0 0", "9 4"]
    x, y = proj.to_xy(lon, lat)
    assert grid.assign(x, y).tolist() == [1, 0]


def test_projection_round_trips():
    proj = LocalProjection(6.0, 20.0)
    x, y = proj.to_xy(np.array([18.5]), np.array([4.3]))
    lon, lat = proj.to_lonlat(x, y)
    assert lon[0] == pytest.approx(18.5) and lat[0] == pytest.approx(4.3)


def test_h3_grid_assigns_events_to_their_own_cells():
    proj = LocalProjection(4.0, 18.0)
    x, y = proj.to_xy(np.array([18.55, 18.56, 20.0]), np.array([4.36, 4.37, 6.0]))
    cells = h3_cells_of(proj, 5, x[:2], y[:2])
    grid = h3_grid(proj, 5, cells)
    idx = grid.assign(x, y)
    assert idx[2] == -1 and (idx[:2] >= 0).all()
    assert grid.areas[0] == pytest.approx(252.9e6, rel=0.1)  # H3 res 5 ~ 253 km2


def test_forecasting_package_imports_no_django():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import sitaware.analytics.forecasting.evaluation, sitaware.analytics.forecasting.sepp\n"
        "import sitaware.analytics.forecasting.feedback, sitaware.analytics.forecasting.datasets\n"
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == "False"
