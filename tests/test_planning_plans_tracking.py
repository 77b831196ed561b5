"""Execution of an approved plan: positions and patrol reports, plan vs. actual (made, late, missed,
deviation) recomputable from the stored positions, records made on patrol linked to the plan, and exports
(GPX 1.1, GeoJSON, printable sheet in English and French)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from defusedxml import ElementTree as ET

from tests.test_planning_plans_support import END, START, payload, switch_on

GPX = "{http://www.topografix.com/GPX/1/1}"


@pytest.fixture
def approved(world, actor):
    from sitaware.planning import services

    switch_on(actor)
    plan = services.propose_plan(actor("ana"), payload())
    return services.decide_plan(actor("sam"), plan.id, "approve", "ok for the morning shift")


def _follow(visit, late_s=0.0, stay_s=None):
    """Positions every 2 min at the cell for the visit's dwell (or `stay_s`), starting `late_s` late."""
    begin = visit.planned_start + dt.timedelta(seconds=late_s)
    stay = (visit.planned_departure - visit.planned_start).total_seconds() if stay_s is None else stay_s
    n = int(stay // 120) + 1
    return [{"at": (begin + dt.timedelta(seconds=120 * i)).isoformat(), "lat": visit.latitude,
             "lon": visit.longitude} for i in range(n)]


def test_plan_vs_actual_made_late_missed_and_deviation(approved, actor):
    from sitaware.planning import tracking

    visits = list(approved.visits.filter(patrol="hq-1").order_by("order"))
    assert len(visits) >= 3
    points = _follow(visits[0]) + _follow(visits[1], late_s=1800) + _follow(visits[2], stay_s=120)
    # One position far off the planned route.
    points.append({"at": (visits[0].planned_departure + dt.timedelta(seconds=60)).isoformat(),
                   "lat": visits[0].latitude + 0.05, "lon": visits[0].longitude})
    assert tracking.report_positions(actor("rita"), approved.id, "hq-1", points) == len(points)
    result = tracking.plan_vs_actual(actor("sam"), approved.id)
    by_key = {o["key"]: o for o in result["visits"]}
    assert by_key[str(visits[0].pk)]["status"] == "made"
    assert by_key[str(visits[1].pk)]["status"] == "late" and by_key[str(visits[1].pk)]["delay_s"] >= 1800
    assert by_key[str(visits[2].pk)]["status"] == "missed"  # 2 min is less than half the 15-minute dwell
    assert all(o["status"] == "missed" for o in result["visits"] if o["unit"] == "hq-2")  # no positions
    dev = result["deviation"]["hq-1"]
    assert dev["positions"] == len(points) and dev["max_m"] > 1000 and dev["off_route"] == 1
    assert result["deviation"]["hq-2"]["positions"] == 0
    s = result["summary"]
    assert s["made"] == 1 and s["late"] == 1 and s["planned"] == approved.visits.count()
    # Stored outcomes and the plan's figures equal a recomputation from the stored positions.
    approved.refresh_from_db()
    assert tracking.recompute_actual(approved) == approved.actual
    from sitaware.planning.models import VisitOutcome

    stored = {str(o.visit_id): o.status for o in VisitOutcome.objects.filter(visit__plan=approved)}
    assert stored == {k: o["status"] for k, o in by_key.items()}


def test_a_patrol_report_after_the_fact_counts(approved, actor):
    from sitaware.planning import tracking

    v = approved.visits.filter(patrol="hq-2").order_by("order").first()
    n = tracking.report_patrol(actor("ana"), approved.id, "hq-2", [
        {"cell": v.cell, "arrived": v.planned_arrival.isoformat(), "left": v.planned_departure.isoformat()}])
    assert n >= 3
    result = tracking.plan_vs_actual(actor("ana"), approved.id)
    assert next(o for o in result["visits"] if o["key"] == str(v.pk))["status"] == "made"
    assert approved.positions.filter(source="patrol_report").count() == n


def test_bad_positions_are_named(approved, actor):
    from sitaware.planning import tracking
    from sitaware.planning.errors import PlanInputError

    with pytest.raises(PlanInputError) as info:
        tracking.report_positions(actor("rita"), approved.id, "hq-1", [
            {"at": "2026-11-20T06:00:00", "lat": 4.3, "lon": 18.5}, {"at": START.isoformat(), "lat": 95, "lon": 0}])
    assert [p["field"] for p in info.value.problems] == ["points[0].at", "points[1].location"]
    with pytest.raises(PlanInputError):
        tracking.report_positions(actor("rita"), approved.id, "nobody",
                                  [{"at": START.isoformat(), "lat": 4, "lon": 18}])


def test_a_proposed_plan_is_not_tracked(world, actor):
    from sitaware.planning import services, tracking
    from sitaware.planning.errors import PlanStateError

    switch_on(actor)
    plan = services.propose_plan(actor("ana"), payload())
    with pytest.raises(PlanStateError):
        tracking.report_positions(actor("rita"), plan.id, "hq-1", [{"at": START.isoformat(), "lat": 4, "lon": 18}])


def test_records_made_on_patrol_are_linked(approved, actor, make_record):
    from sitaware.planning import services, tracking

    during = make_record("rita", occurred_at=(START + dt.timedelta(hours=1)).isoformat())
    other_unit = make_record("rex", occurred_at=(START + dt.timedelta(hours=1)).isoformat())
    before = make_record("rita", occurred_at=(START - dt.timedelta(days=2)).isoformat())
    result = tracking.plan_vs_actual(actor("sam"), approved.id)
    assert str(during.id) in result["linked_records"]
    assert str(other_unit.id) not in result["linked_records"] and str(before.id) not in result["linked_records"]
    detail = services.serialize_plan(actor("sam"), services.get_plan(actor("sam"), approved.id), detail=True)
    assert detail["linked_records"] == [str(during.id)]


def test_gpx_is_gpx_1_1_in_schema_order(approved, actor):
    from sitaware.planning import exports

    content, ctype, name = exports.export_plan(actor("rita"), approved.id, "gpx")
    assert ctype == "application/gpx+xml" and name.endswith(".gpx")
    root = ET.fromstring(content)
    assert root.tag == f"{GPX}gpx" and root.get("version") == "1.1" and root.get("creator") == "sitaware"
    tags = [child.tag.removeprefix(GPX) for child in root]
    assert tags[0] == "metadata" and tags == sorted(tags, key=["metadata", "wpt", "rte"].index)
    assert tags.count("wpt") == approved.visits.count() and tags.count("rte") == 2
    order = ["ele", "time", "name", "cmt", "desc", "src", "link", "sym", "type"]
    for wpt in root.iter(f"{GPX}wpt"):
        assert -90 <= float(wpt.get("lat")) <= 90 and -180 <= float(wpt.get("lon")) <= 180
        names = [c.tag.removeprefix(GPX) for c in wpt]
        assert names == sorted(names, key=order.index) and "time" in names
        dt.datetime.fromisoformat(wpt.find(f"{GPX}time").text.replace("Z", "+00:00"))
    for rte in root.iter(f"{GPX}rte"):
        names = [c.tag.removeprefix(GPX) for c in rte]
        assert names[:2] == ["name", "desc"] and set(names[2:]) == {"rtept"}
        points = rte.findall(f"{GPX}rtept")
        assert (points[0].get("lat"), points[0].get("lon")) == (points[-1].get("lat"), points[-1].get("lon"))


def test_geojson_routes_and_visits(approved, actor):
    from sitaware.planning import exports

    content, ctype, _ = exports.export_plan(actor("sam"), approved.id, "geojson")
    data = json.loads(content)
    assert ctype == "application/geo+json" and data["type"] == "FeatureCollection"
    assert data["plan"] == str(approved.id) and data["status"] == "approved"
    kinds = [f["properties"]["kind"] for f in data["features"]]
    assert kinds.count("route") == 2 and kinds.count("visit") == approved.visits.count()
    v = approved.visits.order_by("patrol", "order").first()
    point = next(f for f in data["features"] if f["properties"]["kind"] == "visit"
                 and f["properties"]["cell"] == v.cell)
    assert point["geometry"]["coordinates"] == [round(v.longitude, 7), round(v.latitude, 7)]  # lon, lat
    for f in data["features"]:
        if f["geometry"]["type"] == "LineString":
            assert f["geometry"]["coordinates"][0] == f["geometry"]["coordinates"][-1]


def test_printable_sheet_in_english_and_french(approved, actor):
    from django.utils import translation

    from sitaware.planning import exports

    content, ctype, _ = exports.export_plan(actor("sam"), approved.id, "html")
    html = content.decode()
    assert ctype.startswith("text/html") and "hq-1" in html and "hq-2" in html
    first = approved.visits.order_by("patrol", "order").first()
    assert first.cell in html and f"{first.planned_start:%H:%M}" in html
    with translation.override("fr"):
        french = exports.export_plan(actor("sam"), approved.id, "html")[0].decode()
    assert "Plan de patrouille" in french and "Unité" in french
    assert END.isoformat()[:10] in html


def test_the_console_recomputes_stored_figures(approved, actor):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from sitaware.planning import tracking
    from sitaware.planning.models import Plan

    v = approved.visits.order_by("patrol", "order").first()
    tracking.report_patrol(actor("rita"), approved.id, v.patrol, [
        {"cell": v.cell, "arrived": v.planned_start.isoformat(), "left": v.planned_departure.isoformat()}])
    tracking.plan_vs_actual(actor("sam"), approved.id)
    out = io.StringIO()
    call_command("plans", "verify-actual", stdout=out)
    assert "1 plan(s) checked, 0 differ" in out.getvalue()
    call_command("plans", "list", stdout=io.StringIO())
    stored = Plan.objects.get(pk=approved.pk).actual
    stored["summary"]["made"] += 1  # tampering with the stored figures is found
    Plan.objects.filter(pk=approved.pk).update(actual=stored)
    with pytest.raises(CommandError):
        call_command("plans", "verify-actual", stdout=io.StringIO(), stderr=io.StringIO())
