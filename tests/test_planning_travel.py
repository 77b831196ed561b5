"""Travel-time providers: straight line, speed grids (raster and H3) with impassable cells, road graphs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sitaware.planning.solver.problem import Unit
from sitaware.planning.solver.travel import CellGraph, StraightLine, haversine_m

CAR = Unit("car", 0.0, 0.0, 0, 3600, "vehicle", 36.0)  # 10 m/s keeps arithmetic readable


def test_straight_line_is_great_circle_times_detour_over_speed():
    seconds, metres = StraightLine(detour={"vehicle": 1.5}).leg((0.0, 0.0), (1.0, 0.0), CAR)
    assert metres == pytest.approx(1.5 * 111_195, rel=1e-3)
    assert seconds == pytest.approx(metres / 10.0)


def test_straight_line_matrices_agree_with_single_legs():
    points = [(4.36, 18.55), (4.40, 18.60), (4.30, 18.50)]
    provider = StraightLine()
    sec, met = provider.matrices(points, CAR)
    assert sec.shape == (3, 3) and np.all(np.diag(sec) == 0)
    assert sec[1, 2] == pytest.approx(provider.leg(points[1], points[2], CAR)[0])
    assert met[0, 1] == pytest.approx(met[1, 0])


def walled_grid(gap: bool) -> CellGraph:
    speeds = np.full((20, 20), 36.0)
    speeds[:, 10] = 0.0  # a river down the middle
    if gap:
        speeds[18, 10] = 36.0  # one bridge near the north edge
    return CellGraph.from_raster(speeds, 0.0, 0.0, 0.2, 0.2)


def test_grid_paths_never_cross_impassable_cells():
    grid = walled_grid(gap=True)
    west, east = (0.05, 0.02), (0.05, 0.18)
    path = grid.path(west, east, CAR)
    assert path, "the bridge makes the east reachable"
    assert all(grid.passable[i] for i in path)
    assert 18 * 20 + 10 in path  # it has to use the bridge cell
    detour_s, detour_m = grid.leg(west, east, CAR)
    straight_m = haversine_m(np.array(0.05), np.array(0.02), np.array(0.05), np.array(0.18))
    assert detour_m > 1.5 * straight_m
    assert detour_s == pytest.approx(detour_m / 10.0, rel=1e-6)


def test_grid_without_a_crossing_is_unreachable():
    grid = walled_grid(gap=False)
    seconds, _ = grid.leg((0.05, 0.02), (0.05, 0.18), CAR)
    assert math.isinf(seconds)
    assert grid.path((0.05, 0.02), (0.05, 0.18), CAR) == []


def test_slow_cells_cap_the_unit_speed():
    speeds = np.full((1, 10), 36.0)
    fast = CellGraph.from_raster(speeds, 0.0, 0.0, 0.01, 0.1)
    slow = CellGraph.from_raster(speeds / 6, 0.0, 0.0, 0.01, 0.1)
    a, b = (0.005, 0.005), (0.005, 0.095)
    assert slow.leg(a, b, CAR)[0] == pytest.approx(6 * fast.leg(a, b, CAR)[0], rel=0.05)


def test_h3_grid_routes_around_impassable_cells():
    h3 = pytest.importorskip("h3")
    centre = h3.latlng_to_cell(4.36, 18.55, 9)
    cells = h3.grid_disk(centre, 6)
    blocked = set(h3.grid_ring(centre, 3)) - {h3.grid_ring(centre, 3)[0]}  # a ring wall with one opening
    speeds = {c: (0.0 if c in blocked else 20.0) for c in cells}
    grid = CellGraph.from_h3(speeds)
    inside, outside = h3.cell_to_latlng(centre), h3.cell_to_latlng(sorted(h3.grid_ring(centre, 6))[0])
    path = grid.path(inside, outside, CAR)
    assert path and all(speeds[grid.node_ids[i]] > 0 for i in path)
    assert grid.node_ids.index(h3.grid_ring(centre, 3)[0]) in path


def test_road_graph_respects_one_way_streets_and_edge_speeds():
    nodes = {"a": (0.0, 0.0), "b": (0.0, 0.01), "c": (0.01, 0.01)}
    edges = [("a", "b", 1000.0, 18.0, True), ("b", "c", 1000.0, 72.0, False), ("a", "c", 5000.0, 36.0, False)]
    road = CellGraph.from_road_edges(nodes, edges)
    to_c, metres = road.leg((0.0, 0.0), (0.01, 0.01), CAR)
    # a→b at 18 km/h (200 s) then b→c capped at the car's 36 km/h (100 s), not the long a→c edge.
    assert to_c == pytest.approx(300.0)
    assert metres == pytest.approx(2000.0)
    # Back from b to a the one-way street is closed: b→c→a, 100 s + 500 s.
    assert road.leg((0.0, 0.01), (0.0, 0.0), CAR)[0] == pytest.approx(600.0)


def test_graph_matrices_add_the_walk_from_point_to_node():
    road = CellGraph.from_road_edges({"a": (0.0, 0.0), "b": (0.0, 0.01)}, [("a", "b", 1112.0, 36.0, False)])
    off_road = (0.001, 0.0)  # about 111 m north of node a
    sec, met = road.matrices([off_road, (0.0, 0.01)], CAR)
    assert met[0, 1] == pytest.approx(1112.0 + 111.2, rel=1e-3)
    assert sec[0, 1] == pytest.approx(met[0, 1] / 10.0)
