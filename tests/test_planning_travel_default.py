"""The organisation's default travel provider, stored in the database (issue 6): set by administrators,
supervisors and commanders through the planning services (checked with the providers' own rules, change-logged),
used by a plan whose request names no provider, with the site's SITAWARE_PLANNING_TRAVEL and then straight line
as fallbacks; the API's GET/PUT/DELETE /planning/settings/travel. And `tracking.positions_of`: each patrol's stored
positions, read through the viewer's scope."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied

from tests import test_planning_travel_choice as travel_choice_tests
from tests.test_planning_plans_support import payload

FIXTURES = Path(__file__).parent / "fixtures" / "osm"


on = travel_choice_tests.on  # the fixtures
osm_dir = travel_choice_tests.osm_dir


@pytest.fixture(autouse=True)
def _no_site_default(monkeypatch):
    monkeypatch.delenv("SITAWARE_PLANNING_TRAVEL", raising=False)


def test_without_any_setting_plans_use_straight_lines(on, actor):
    from sitaware.planning import services

    assert services.default_travel(actor("ana")) == {"spec": {"provider": "straight_line"}, "source": "built_in",
                                                     "set_by": None, "set_at": None}
    plan = services.propose_plan(actor("ana"), payload())
    assert plan.request.travel["described"]["provider"] == "straight_line"
    assert plan.request.travel["chosen"] == "site"


def test_a_supervisor_sets_the_default_it_is_used_and_logged(on, actor, monkeypatch):
    from sitaware.core.models import ChangeEntry
    from sitaware.planning import services

    # The site's default says speed grid, the organisation's own says straight line with a larger detour:
    # the organisation's wins.
    monkeypatch.setenv("SITAWARE_PLANNING_TRAVEL", '{"provider": "speed_grid"}')
    assert services.default_travel(actor("ana"))["source"] == "site"
    result = services.set_default_travel(actor("sam"), {"provider": "straight_line", "detour": {"vehicle": 1.5}})
    assert result["source"] == "organisation" and result["set_by"] == "sam"
    assert result["spec"] == {"provider": "straight_line", "detour": {"vehicle": 1.5, "foot": 1.2}}
    plan = services.propose_plan(actor("ana"), payload())
    assert plan.request.travel["described"] == {"provider": "straight_line", "rules": "straight-line-1",
                                                "detour": {"vehicle": 1.5, "foot": 1.2}}
    assert plan.request.travel["chosen"] == "organisation"
    # A request that names its provider still gets it.
    asked = services.propose_plan(actor("ana"), payload(travel={"provider": "straight_line"}))
    assert asked.request.travel["described"]["detour"] == {"vehicle": 1.3, "foot": 1.2}
    assert asked.request.travel["chosen"] == "request"

    entry = ChangeEntry.objects.get(action="planning.travel.default")
    data = json.loads(entry.data)
    assert entry.object_type == "planning_setting" and entry.organisation_id == actor("sam").organisation_id
    assert data["before"] is None and data["after"]["detour"]["vehicle"] == 1.5

    # Removed: the site's default applies again, and the removal is logged too.
    assert services.set_default_travel(actor("cora"), None)["source"] == "site"
    removal = ChangeEntry.objects.filter(action="planning.travel.default").order_by("-seq").first()
    assert json.loads(removal.data)["after"] is None and json.loads(removal.data)["before"]["detour"]["vehicle"] == 1.5
    assert services.propose_plan(actor("ana"), payload()).request.travel["described"]["provider"] == "speed_grid"


def test_each_organisation_has_its_own_default(on, actor):
    from sitaware.planning import services

    services.set_default_travel(actor("sam"), {"provider": "speed_grid", "resolution": 8})
    assert services.default_travel(actor("hugo"))["source"] == "built_in"
    assert services.default_travel(actor("ana"))["spec"]["provider"] == "speed_grid"


def test_analysts_and_reporters_may_not_set_the_default(on, actor):
    from sitaware.core.models import ChangeEntry
    from sitaware.planning import services

    for name in ("ana", "rita", "otto"):
        with pytest.raises(PermissionDenied):
            services.set_default_travel(actor(name), {"provider": "speed_grid"})
    with pytest.raises(PermissionDenied):
        services.default_travel(actor("rita"))
    services.set_default_travel(actor("adam"), {"provider": "speed_grid"})  # administrators may
    assert ChangeEntry.objects.filter(action="planning.travel.default").count() == 1


def test_a_bad_default_is_refused_with_the_providers_messages(on, actor, osm_dir):
    from sitaware.core.models import ChangeEntry
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError
    from sitaware.planning.models import TravelDefault

    cases = [
        ({"provider": "teleport"}, "travel.provider", "use one of"),
        ({"provider": "straight_line", "detour": {"vehicle": 9}}, "travel.detour.vehicle", "from 1 to 5"),
        ({"provider": "speed_grid", "resolution": 3}, "travel.resolution", "from 5 to 11"),
        ({"provider": "osm", "extract": "nowhere.osm.pbf"}, "travel.extract", "no OSM extract named nowhere.osm.pbf"),
        ({"provider": "osm", "extract": "../etc/passwd"}, "travel.extract", "file name"),
        ("roads", "travel", "object"),
    ]
    for spec, field, words in cases:
        with pytest.raises(PlanInputError) as err:
            services.set_default_travel(actor("sam"), spec)
        problem = err.value.problems[0]
        assert problem["field"] == field and words in problem["message"], (spec, problem)
    (osm_dir / "junk.osm.pbf").write_bytes(b"not osm" * 20)
    with pytest.raises(PlanInputError, match="not a readable OSM extract"):
        services.set_default_travel(actor("sam"), {"provider": "osm", "extract": "junk.osm.pbf"})
    assert not TravelDefault.objects.exists()
    assert not ChangeEntry.objects.filter(action="planning.travel.default").exists()


def test_an_extract_default_that_no_longer_fits_names_the_organisation_setting(on, actor, osm_dir):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    shutil.copy(FIXTURES / "helsinki.osm.pbf", osm_dir / "helsinki.osm.pbf")
    saved = services.set_default_travel(actor("sam"), {"provider": "osm", "extract": "helsinki.osm.pbf"})
    assert saved["spec"] == {"provider": "osm", "extract": "helsinki.osm.pbf", "max_snap_m": 500.0}
    with pytest.raises(PlanInputError) as err:
        services.propose_plan(actor("ana"), payload())  # Bangui: the Helsinki extract does not cover it
    problem = err.value.problems[0]
    assert problem["field"] == "travel.extract"
    assert "your organisation's default travel times" in problem["message"] and "does not cover" in problem["message"]


def test_the_api_reads_sets_and_clears_the_default(on, world, client):
    from sitaware.core.services import create_token

    def auth(name):
        return {"HTTP_AUTHORIZATION": f"Bearer {create_token(world.users[name], 'tests')}"}

    url = "/api/v1/planning/settings/travel"
    assert client.get(url, **auth("ana")).json()["source"] == "built_in"
    denied = client.put(url, data=json.dumps({"provider": "speed_grid"}), content_type="application/json",
                        **auth("ana"))
    assert denied.status_code == 403
    bad = client.put(url, data=json.dumps({"provider": "osm", "extract": "x.osm.pbf"}),
                     content_type="application/json", **auth("sam"))
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "travel.extract"
    ok = client.put(url, data=json.dumps({"provider": "speed_grid"}), content_type="application/json",
                    **auth("sam"))
    assert ok.status_code == 200 and ok.json()["spec"]["provider"] == "speed_grid"
    assert client.get(url, **auth("ana")).json()["source"] == "organisation"
    assert client.delete(url, **auth("cora")).json()["source"] == "built_in"


# ---------------------------------------------------------------- positions_of


def test_positions_of_gives_each_patrols_positions_in_scope_only(on, world, actor, client):
    from sitaware.planning import services, tracking
    from sitaware.planning.errors import PlanNotFound

    plan = services.propose_plan(actor("ana"), payload())
    plan = services.decide_plan(actor("sam"), plan.id, "approve", "ok")
    start = plan.visits.order_by("planned_start").first().planned_start
    points = [{"at": (start + dt.timedelta(minutes=m)).isoformat(), "lat": 4.36 + m / 1000, "lon": 18.55}
              for m in (10, 0, 5)]  # sent out of order
    tracking.report_positions(actor("rita"), plan.id, "hq-1", points)
    found = tracking.positions_of(actor("ana"), plan)
    assert list(found) == ["hq-1"]
    assert [p["lat"] for p in found["hq-1"]] == [4.36, 4.365, 4.37]  # oldest first
    assert found["hq-1"][0] == {"at": start.astimezone(dt.UTC).isoformat(), "lat": 4.36, "lon": 18.55,
                                "source": "api"}
    assert tracking.positions_of(actor("rita"), plan.id) == found  # by id too
    with pytest.raises(PlanNotFound):
        tracking.positions_of(actor("hugo"), plan)  # another organisation, even holding the object
    from sitaware.core.services import create_token

    auth = {"HTTP_AUTHORIZATION": f"Bearer {create_token(world.users['hugo'], 'tests')}"}
    assert client.get(f"/api/v1/planning/plans/{plan.id}/positions", **auth).status_code == 404


def test_an_api_edit_with_a_stale_base_version_is_refused(on, world, actor, client):
    from sitaware.core.services import create_token
    from sitaware.planning import services

    plan = services.propose_plan(actor("ana"), payload())
    auth = {"HTTP_AUTHORIZATION": f"Bearer {create_token(world.users['ana'], 'tests')}"}
    url = f"/api/v1/planning/plans/{plan.id}/edits"
    drop = [{"op": "drop", "unit": "hq-1", "index": 0}]
    saved = client.post(url, data=json.dumps({"edits": drop, "base_version": 1}), content_type="application/json",
                        **auth)
    assert saved.status_code == 200 and saved.json()["version"] == 2
    stale = client.post(url, data=json.dumps({"edits": drop, "base_version": 1}), content_type="application/json",
                        **auth)
    assert stale.status_code == 409 and "now version 2" in json.dumps(stale.json())
    plan.refresh_from_db()
    assert plan.version == 2
