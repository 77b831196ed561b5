"""The analytics API: run a risk map (a recommendation), list risk maps in scope, read one with its cells;
deciding goes through the oversight API."""

from __future__ import annotations

import json

import pytest

from tests.test_analytics_forecast_service import BBOX, HOT, KEY, ORIGIN, _load, _rows

BASE = "/api/v1"


@pytest.fixture
def api(world, client, actor):
    from sitaware.core.services import create_token
    from sitaware.oversight import services

    services.ensure_builtin_components()
    tokens: dict[str, str] = {}

    class As:
        def __init__(self, name: str):
            if name not in tokens:
                tokens[name] = create_token(world.users[name], "tests")
            self.auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens[name]}"}

        def get(self, path: str):
            return client.get(BASE + path, **self.auth)

        def post(self, path: str, body: dict | None = None):
            return client.post(BASE + path, data=json.dumps(body or {}), content_type="application/json",
                               **self.auth)

    return As


BODY = {"categories": ["police.armed_robbery"], "area": {"bbox": list(BBOX)}, "resolution": 8, "horizon_days": 7,
        "origin": ORIGIN.isoformat()}


def test_switched_off_answers_423_with_the_manual_path(api):
    response = api("ana").post("/analytics/risk-maps", BODY)
    assert response.status_code == 423 and response.json()["manual_path"]


def test_run_list_read_and_decide(api, actor):
    from sitaware.oversight import services

    services.set_enabled(actor("adam"), KEY, True)
    _load(actor, "sam", _rows(40, HOT, 1))
    response = api("ana").post("/analytics/risk-maps", BODY)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "pending"
    items = api("sam").get("/analytics/risk-maps").json()["items"]
    assert [i["id"] for i in items] == [created["risk_map"]] and items[0]["accepted_at"] is None
    assert api("hugo").get("/analytics/risk-maps").json()["items"] == []  # another organisation
    assert api("hugo").get(f"/analytics/risk-maps/{created['risk_map']}").status_code == 404
    detail = api("sam").get(f"/analytics/risk-maps/{created['risk_map']}").json()
    assert detail["cells"] and detail["top"] and detail["explanation"] and detail["limitations"]
    assert detail["cut_off"]["change_log_seq"] > 0 and "gini" in detail["concentration"]
    decided = api("sam").post(f"/recommendations/{created['recommendation']}/decision",
                              {"outcome": "accept", "reason": "agreed at the morning brief"})
    assert decided.status_code == 201 and decided.json()["applied"] is True
    accepted = api("cora").get("/analytics/risk-maps?accepted=true").json()["items"]
    assert [i["id"] for i in accepted] == [created["risk_map"]] and accepted[0]["status"] == "accepted"


def test_bad_input_is_400_and_reporters_are_refused(api, actor):
    from sitaware.oversight import services

    services.set_enabled(actor("adam"), KEY, True)
    bad = api("ana").post("/analytics/risk-maps", {**BODY, "resolution": 15})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "resolution"
    assert api("rita").post("/analytics/risk-maps", BODY).status_code == 403
