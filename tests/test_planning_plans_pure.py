"""The pure helpers behind stored plans: re-scheduling edited routes, plan vs. actual, GPX and GeoJSON."""

from __future__ import annotations

import datetime as dt

import pytest
from defusedxml import ElementTree as ET

from sitaware.planning.plans import actual, geojson
from sitaware.planning.plans.gpx import NS, GpxRoute, GpxStop, build_gpx
from sitaware.planning.plans.schedule import routes_of, schedule_routes
from sitaware.planning.solver.feasibility import check_plan
from sitaware.planning.solver.problem import Cell, PlanningRequest, TimeWindow, Unit
from sitaware.planning.solver.solve import plan_shift

HOUR = 3600.0
BASE = (4.36, 18.55)


def _request() -> PlanningRequest:
    units = [Unit.of("a", BASE, 0, 3 * HOUR, "vehicle", 20), Unit.of("b", BASE, 0, 3 * HOUR, "foot", 4)]
    cells = [Cell(f"c{i}", BASE[0] + 0.004 * i, BASE[1] + 0.003 * (i % 3), priority=float(i % 5 + 1))
             for i in range(1, 12)]
    cells.append(Cell("w", BASE[0] + 0.01, BASE[1], priority=3, windows=(TimeWindow(HOUR, 1.5 * HOUR),)))
    cells.append(Cell("m", BASE[0] - 0.01, BASE[1], priority=0, required_visits=1))
    return PlanningRequest.of(units, cells, seed=3, time_budget_s=5)


def test_rescheduling_the_solvers_own_routes_stays_feasible():
    request = _request()
    solved = plan_shift(request, num_seeds=1, max_iterations=100)
    again = schedule_routes(request, routes_of(solved))
    assert check_plan(request, again) == [] and routes_of(again) == routes_of(solved)
    assert again.total_priority == pytest.approx(solved.total_priority)


def test_an_edit_that_breaks_a_window_or_drops_a_mandatory_visit_is_caught():
    request = _request()
    routes = {"a": ["c1", "c2", "w"], "b": ["m"]}
    ok = schedule_routes(request, routes)
    assert check_plan(request, ok) == [] and ok.feasible
    start_w = next(v.start for v in ok.units[0].visits if v.cell_id == "w")
    assert HOUR <= start_w <= 1.5 * HOUR  # waited for the window to open
    late = schedule_routes(request, {"a": [f"c{i}" for i in range(1, 12)] + ["w"], "b": []})
    problems = check_plan(request, late)
    assert not late.feasible and late.missed[0].cell_id == "m" and late.missed[0].constraint == "dropped"
    assert any("outside every time window" in p for p in problems)
    assert late.decisions["m"].reason == "mandatory_unmet"


def _visit(**kw) -> actual.PlannedVisit:
    base = dict(key="v", unit_id="a", cell_id="c", lat=4.36, lon=18.55, start=1000.0, dwell_s=900.0,
                window_start=0.0, window_end=10_000.0)
    return actual.PlannedVisit(**{**base, **kw})


def test_made_late_missed_from_positions():
    v = _visit()
    on = [actual.Position(1000 + 60 * i, 4.36, 18.55) for i in range(9)]  # 8 min at the cell
    assert actual.visit_outcome(v, on, actual.Params())["status"] == "made"
    later = [actual.Position(3000 + 60 * i, 4.36, 18.55) for i in range(9)]
    out = actual.visit_outcome(v, later, actual.Params())
    assert out["status"] == "late" and out["delay_s"] == 2000
    short = on[:5]  # 4 min < half the dwell
    assert actual.visit_outcome(v, short, actual.Params())["status"] == "missed"
    away = [actual.Position(p.t, 4.37, 18.55) for p in on]  # 1.1 km away
    assert actual.visit_outcome(v, away, actual.Params())["status"] == "missed"
    outside = [actual.Position(20_000 + 60 * i, 4.36, 18.55) for i in range(20)]  # after the window
    assert actual.visit_outcome(v, outside, actual.Params())["status"] == "missed"
    gap = [actual.Position(1000, 4.36, 18.55), actual.Position(4000, 4.36, 18.55)]  # silent for 50 min
    assert actual.visit_outcome(v, gap, actual.Params())["presence_s"] == 600


def test_deviation_and_determinism():
    route = [(4.36, 18.55), (4.37, 18.55), (4.36, 18.55)]
    assert actual.distance_to_route_m(4.365, 18.55, route) == pytest.approx(0, abs=0.5)
    assert actual.distance_to_route_m(4.365, 18.56, route) == pytest.approx(1110, rel=0.01)
    track = [actual.Position(1000 + 60 * i, 4.36, 18.55) for i in range(9)]
    a = actual.plan_vs_actual([_visit()], {"a": track[::-1]}, {"a": route})
    b = actual.plan_vs_actual([_visit()], {"a": track}, {"a": route})
    assert a == b and a["summary"] == {"made": 1, "late": 0, "missed": 0, "planned": 1, "made_share": 1.0}


def test_gpx_and_geojson_builders():
    when = dt.datetime(2026, 11, 20, 6, tzinfo=dt.UTC)
    base = GpxStop(4.36, 18.55, "base", kind="base")
    xml = build_gpx("p", "d", when, [GpxRoute("a", "x", [base, GpxStop(4.37, 18.56, "v1", when, "arrive", "priority"),
                                                          base])])
    root = ET.fromstring(xml)
    assert xml.startswith(b"<?xml") and root.tag == f"{{{NS}}}gpx" and root.get("version") == "1.1"
    assert [c.tag.split("}")[1] for c in root] == ["metadata", "wpt", "rte"]
    assert root.find(f"{{{NS}}}wpt/{{{NS}}}time").text == "2026-11-20T06:00:00Z"
    f = geojson.feature(geojson.line([(4.36, 18.55), (4.37, 18.56)]), {"unit": "a"})
    assert f["geometry"]["coordinates"] == [[18.55, 4.36], [18.56, 4.37]]
    assert geojson.collection([f], plan="x")["type"] == "FeatureCollection"
