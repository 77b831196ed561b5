"""The oversight API: registry and kill switch, suggest-category, the review queue, decisions and rates."""

from __future__ import annotations

import json

import pytest

from tests.test_oversight import KEY, ROBBERY_TEXT

BASE = "/api/v1"


@pytest.fixture
def api(world, client):
    """`api(name).get(path)` / `.post(path, body)` as persona `name`, with a bearer token."""
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
            data = json.dumps(body) if body is not None else ""
            return client.post(BASE + path, data=data, content_type="application/json", **self.auth)

    return As


@pytest.fixture
def record(make_record, api):
    return make_record("ana", **ROBBERY_TEXT)


def suggest(api, name, record):
    return api(name).post(f"/records/{record.id}/suggest-category")


def test_the_component_list_shows_each_kill_switch(api):
    response = api("rita").get("/components")
    assert response.status_code == 200
    [component] = [c for c in response.json()["items"] if c["key"] == KEY]
    assert component["enabled"] is True and component["decider_roles"] == ["analyst", "supervisor"]
    assert component["manual_path"]


def test_an_anonymous_caller_gets_401(client, world):
    assert client.get(f"{BASE}/components").status_code == 401


def test_disabling_makes_suggest_answer_423_with_the_manual_path(api, record):
    response = api("otto").post(f"/components/{KEY}/disable", {"reason": "complaint under review"})
    assert response.status_code == 200 and response.json()["enabled"] is False
    refused = suggest(api, "ana", record)
    assert refused.status_code == 423
    body = refused.json()
    assert "switched off" in body["detail"] and body["component"] == KEY
    assert "choose the category yourself" in body["manual_path"]
    assert api("adam").post(f"/components/{KEY}/enable").status_code == 200
    assert suggest(api, "ana", record).status_code == 201


def test_only_administrators_switch_a_component_on(api):
    api("adam").post(f"/components/{KEY}/disable")
    response = api("otto").post(f"/components/{KEY}/enable", {"reason": "I think it is fine"})
    assert response.status_code == 403 and "manage components" in response.json()["detail"]
    assert api("ana").post(f"/components/{KEY}/disable").status_code == 403


def test_switching_an_unknown_component_is_404(api):
    assert api("adam").post("/components/crystal-ball/disable").status_code == 404


def test_suggest_then_accept_end_to_end(api, record):
    created = suggest(api, "ana", record)
    assert created.status_code == 201
    rec = created.json()
    for name in ("started_at", "ended_at", "component", "model_id", "model_version", "artefact_hash",
                 "input_refs", "input_hash", "parameters", "output", "uncertainty", "explanation", "limitations",
                 "requested_by", "requested_role", "purpose", "record_ids"):
        assert rec[name] not in (None, "", [], {}), name
    assert rec["status"] == "pending" and rec["decision"] is None
    assert rec["output"]["proposal"] == {"category": "police.homicide", "kind": "incident"}

    queue = api("sam").get("/recommendations?status=pending").json()["items"]
    assert [r["id"] for r in queue] == [rec["id"]]

    decided = api("sam").post(f"/recommendations/{rec['id']}/decision",
                              {"outcome": "accept", "reason": "the narrative describes a killing"})
    assert decided.status_code == 201
    body = decided.json()
    assert body["outcome"] == "accept" and body["applied"] is True
    assert body["apply_result"] == {"status": "applied", "record_id": str(record.id), "version": 2}

    detail = api("ana").get(f"/recommendations/{rec['id']}").json()
    assert detail["status"] == "accepted" and detail["decision"]["reason"] == "the narrative describes a killing"
    assert api("sam").get("/recommendations?status=pending").json()["items"] == []
    rates = api("otto").get(f"/components/{KEY}/rates").json()
    assert rates["accept"] == 1 and rates["acceptance_rate"] == 1.0


def test_a_modify_decision_through_the_api_sets_the_deciders_category(api, record):
    from sitaware.records.models import Record

    rec_id = suggest(api, "ana", record).json()["id"]
    response = api("ana").post(f"/recommendations/{rec_id}/decision", {
        "outcome": "modify", "reason": "assault, victim died later", "modified_output": {"category": "police.assault"},
    })
    assert response.status_code == 201 and response.json()["final_output"]["category"] == "police.assault"
    assert Record.objects.get(pk=record.id).category == "police.assault"


def test_an_outsider_gets_404_for_the_recommendation_and_its_decision(api, record):
    rec_id = suggest(api, "ana", record).json()["id"]
    assert api("hugo").get(f"/recommendations/{rec_id}").status_code == 404
    response = api("hugo").post(f"/recommendations/{rec_id}/decision", {"outcome": "accept", "reason": "x"})
    assert response.status_code == 404
    assert api("hugo").get("/recommendations").json()["items"] == []
    assert api("hugo").post(f"/records/{record.id}/suggest-category").status_code == 404


def test_a_missing_reason_is_400_naming_the_field(api, record):
    rec_id = suggest(api, "ana", record).json()["id"]
    response = api("sam").post(f"/recommendations/{rec_id}/decision", {"outcome": "reject"})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "reason", "message": "give the reason for your decision (required for all three)"}
    ]


def test_an_unknown_outcome_is_400(api, record):
    rec_id = suggest(api, "ana", record).json()["id"]
    response = api("sam").post(f"/recommendations/{rec_id}/decision", {"outcome": "maybe", "reason": "unsure"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "outcome"


def test_a_second_decision_is_409(api, record):
    rec_id = suggest(api, "ana", record).json()["id"]
    first = api("ana").post(f"/recommendations/{rec_id}/decision", {"outcome": "reject", "reason": "no"})
    assert first.status_code == 201
    second = api("sam").post(f"/recommendations/{rec_id}/decision", {"outcome": "accept", "reason": "yes"})
    assert second.status_code == 409 and "already decided (reject) by ana" in second.json()["detail"]


def test_a_role_that_may_not_decide_gets_403(api, record):
    rec_id = suggest(api, "ana", record).json()["id"]
    response = api("cora").post(f"/recommendations/{rec_id}/decision", {"outcome": "reject", "reason": "no"})
    assert response.status_code == 403 and "analyst, supervisor" in response.json()["detail"]


def test_a_stale_record_is_reported_not_overwritten(api, record):
    from sitaware.records import services as records
    from sitaware.records.models import Record

    rec_id = suggest(api, "ana", record).json()["id"]
    records.update_record(records_actor("ana"), record.id, {"base_version": 1, "title": "Corrected title"})
    response = api("sam").post(f"/recommendations/{rec_id}/decision", {"outcome": "accept", "reason": "fits"})
    assert response.status_code == 201
    body = response.json()
    assert body["applied"] is False and body["apply_result"]["status"] == "version_conflict"
    assert "version 2" in body["apply_result"]["detail"]
    assert Record.objects.get(pk=record.id).category == "police.armed_robbery"


def records_actor(name):
    from django.contrib.auth import get_user_model

    from sitaware.core.scope import actor_for

    return actor_for(get_user_model().objects.get(username=name))


def test_an_unknown_status_filter_is_400(api):
    response = api("sam").get("/recommendations?status=maybe")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "status"


def test_a_malformed_recommendation_id_is_404(api):
    assert api("sam").get("/recommendations/not-a-uuid").status_code == 404


def test_the_openapi_document_describes_the_decision_body(api):
    schema = api("ana").get("/openapi.json").json()
    body = schema["paths"][f"{BASE}/recommendations/{{recommendation_id}}/decision"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {"outcome", "reason", "modified_output"}
