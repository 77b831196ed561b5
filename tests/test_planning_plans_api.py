"""The planning API: propose (201), bad input (400 with field messages), scope (404 across organisations),
edit preview, approval through the decision gate, dispatch, exports, positions and plan vs. actual."""

from __future__ import annotations

import json

import pytest

from tests.test_planning_plans_support import END, START, payload, switch_on

BASE = "/api/v1/planning"


def _post(client, tokens, who, path, body=None):
    return client.post(BASE + path, data=json.dumps(body or {}), content_type="application/json", **tokens(who))


@pytest.fixture
def proposed(world, actor, client, tokens):
    switch_on(actor)
    response = _post(client, tokens, "ana", "/plans", payload())
    assert response.status_code == 201, response.content
    return response.json()


def test_propose_and_read_a_plan(proposed, client, tokens):
    assert proposed["status"] == "proposed" and proposed["feasible"] is True
    assert {r["unit"] for r in proposed["routes"]} == {"hq-1", "hq-2"}
    assert all("reason" in d for d in proposed["decisions"].values()) and proposed["missed"] == []
    got = client.get(f"{BASE}/plans/{proposed['id']}", **tokens("sam")).json()
    assert got["recommendation"] == proposed["recommendation"] and got["explanation"]
    listed = client.get(f"{BASE}/plans?status=proposed", **tokens("cora")).json()["items"]
    assert [p["id"] for p in listed] == [proposed["id"]]
    queue = client.get("/api/v1/recommendations?status=pending", **tokens("sam")).json()["items"]
    assert proposed["recommendation"] in {r["id"] for r in queue}


def test_bad_input_is_400_with_field_messages(world, actor, client, tokens):
    switch_on(actor)
    bad = payload(shift={"start": END.isoformat(), "end": START.isoformat()},
                  units=[{"id": "x", "unit": "bangui-hq", "base": None}])
    response = _post(client, tokens, "ana", "/plans", bad)
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert "shift.end" in fields
    response = _post(client, tokens, "ana", "/plans", payload(units=[{"id": "x", "unit": "bangui-hq", "base": None}]))
    assert response.status_code == 400
    assert response.json()["errors"][0] == {"field": "units[0].base", "message": "unit 'x' has no base"}


def test_scope_between_organisations(proposed, client, tokens):
    plan = proposed["id"]
    assert client.get(f"{BASE}/plans/{plan}", **tokens("hugo")).status_code == 404
    assert client.get(f"{BASE}/plans", **tokens("hugo")).json()["items"] == []
    assert _post(client, tokens, "hugo", f"/plans/{plan}/edits", {"edits": []}).status_code == 404
    assert _post(client, tokens, "hugo", f"/plans/{plan}/decision", {"outcome": "approve", "reason": "x"}
                 ).status_code == 404
    assert _post(client, tokens, "rita", "/plans", payload()).status_code == 403


def test_a_rejection_in_the_review_queue_shows_in_the_list(proposed, client, tokens):
    response = client.post(f"/api/v1/recommendations/{proposed['recommendation']}/decision",
                           data=json.dumps({"outcome": "reject", "reason": "not this shift"}),
                           content_type="application/json", **tokens("sam"))
    assert response.status_code == 201
    items = client.get(f"{BASE}/plans?status=rejected", **tokens("ana")).json()["items"]
    assert [p["id"] for p in items] == [proposed["id"]]
    assert client.get(f"{BASE}/plans?status=bogus", **tokens("ana")).status_code == 400


def test_edit_preview_approve_dispatch_export_track(proposed, client, tokens):
    plan = proposed["id"]
    preview = _post(client, tokens, "ana", f"/plans/{plan}/edits",
                    {"edits": [{"op": "drop", "unit": "hq-1", "index": 0}], "dry_run": True}).json()
    assert preview["stored"] is False and preview["violations"] == []
    assert client.get(f"{BASE}/plans/{plan}/export?format=gpx", **tokens("sam")).status_code == 409
    assert _post(client, tokens, "sam", f"/plans/{plan}/dispatch").status_code == 409
    decided = _post(client, tokens, "sam", f"/plans/{plan}/decision", {"outcome": "approve", "reason": "ok"})
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    again = _post(client, tokens, "cora", f"/plans/{plan}/decision", {"outcome": "reject", "reason": "late"})
    assert again.status_code == 409
    assert _post(client, tokens, "sam", f"/plans/{plan}/dispatch").json()["status"] == "dispatched"
    gpx = client.get(f"{BASE}/plans/{plan}/export?format=gpx", **tokens("rita"))
    assert gpx.status_code == 200 and gpx["Content-Type"] == "application/gpx+xml"
    assert b'version="1.1"' in gpx.content and "attachment" in gpx["Content-Disposition"]
    geo = client.get(f"{BASE}/plans/{plan}/export?format=geojson", **tokens("rita"))
    assert geo.json()["type"] == "FeatureCollection"
    sheet = client.get(f"{BASE}/plans/{plan}/export?format=html", **tokens("rita"))
    assert sheet.status_code == 200 and b"hq-1" in sheet.content
    assert client.get(f"{BASE}/plans/{plan}/export?format=kml", **tokens("rita")).status_code == 400
    visit = proposed["routes"][0]["visits"][0]
    unit = proposed["routes"][0]["unit"]
    stored = _post(client, tokens, "rita", f"/plans/{plan}/report",
                   {"unit": unit, "stops": [{"cell": visit["cell"], "arrived": visit["start"],
                                             "left": visit["departure"]}]})
    assert stored.status_code == 201 and stored.json()["stored"] >= 3
    bad = _post(client, tokens, "rita", f"/plans/{plan}/positions", {"unit": unit, "points": [{"at": "x"}]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "points[0].at"
    actual = _post(client, tokens, "sam", f"/plans/{plan}/actual").json()
    assert actual["summary"]["made"] == 1 and actual["summary"]["planned"] == sum(
        len(r["visits"]) for r in proposed["routes"])


@pytest.mark.parametrize("body", [
    {"shift": "tomorrow"},
    payload(units="two"),
    payload(units=[1, {"unit": "bangui-hq", "base": "HQ"}]),
    payload(cells=[{"id": "x", "lat": "north", "lon": 18.5, "windows": "always"}]),
    payload(constraints={"no_go": "pk5", "curfews": ["night"], "area": {"bbox": [1, 2]}}),
    payload(constraints=[1], solver={"seed": "x"}),
    payload(priorities=["forecast"]),
])
def test_garbage_is_a_400_never_a_500(world, actor, client, tokens, body):
    switch_on(actor)
    response = _post(client, tokens, "ana", "/plans", body)
    assert response.status_code == 400, response.content
    assert response.json()["errors"]


def test_garbage_edits_are_a_400(proposed, client, tokens):
    for edits in ("drop", [{"op": "drop", "unit": ["hq-1"], "index": "0"}], [None], []):
        response = _post(client, tokens, "ana", f"/plans/{proposed['id']}/edits", {"edits": edits})
        assert response.status_code == 400, (edits, response.content)
