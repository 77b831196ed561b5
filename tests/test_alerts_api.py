"""The alerts API, the Atom feed for authorised consumers, the `sitaware detect` command, the scheduled worker
task, bad configurations, scope, and the oversight numbers per detector (R-AI-06)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.test_alerts_support import CONFIG, NOW, background, hotspot, load, make_detector, run, switch_on

BASE = "/api/v1/alerts"


@pytest.fixture
def data(world, actor):
    switch_on(actor)
    load(actor, background(90, 1, at=NOW) + hotspot(24, 2, before=NOW))
    # A second area with its own events, so the numbers by admin1 have two rows.
    load(actor, background(40, 7, admin1="Bimbo", at=NOW))


def _post(client, tokens, who, path, body=None):
    return client.post(BASE + path, data=json.dumps(body or {}), content_type="application/json", **tokens(who))


def _accept_first(actor, detector, who="sam"):
    from sitaware.alerts.models import Alert
    from sitaware.oversight import services

    alert = Alert.objects.filter(detector=detector).order_by("created_at").first()
    services.decide(actor(who), alert.recommendation_id, "accept", reason="confirmed by sector commander")
    alert.refresh_from_db()
    return alert


# ---------------------------------------------------------------- configuration


def test_an_analyst_configures_a_detector_over_the_api(client, tokens, data):
    response = _post(client, tokens, "ana", "/detectors", CONFIG)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["categories"] == ["police.armed_robbery"] and body["area"] == {"bbox": CONFIG["area"]["bbox"]}
    listed = client.get(BASE + "/detectors", **tokens("sam")).json()["items"]
    assert [d["id"] for d in listed] == [body["id"]]


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"area": {"bbox": [18.5, 4.3, 18.5, 4.4]}}, "area.bbox", "empty area"),
    ({"area": {"admin1": []}}, "area.admin1", "empty area"),
    ({"area": {}}, "area", "exactly one"),
    ({"categories": []}, "categories", "at least one"),
    ({"max_neighbours": 1}, "max_neighbours", "cells without neighbours"),
    ({"resolution": 12}, "resolution", "between 5 and 9"),
    ({"max_window": 20}, "max_window", "half the history"),
    ({"alpha": 0.5}, "alpha", "significance"),
    ({"method": "surge"}, "history_periods", "at least 110"),
    ({"cap_status": "Test"}, "cap_status", "Actual"),
])
def test_bad_configurations_get_field_named_messages(client, tokens, data, change, field, words):
    response = _post(client, tokens, "ana", "/detectors", {**CONFIG, **change})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(e["field"] == field and words in e["message"] for e in errors), errors


def test_configuration_messages_are_translated(world, actor):
    from django.utils import translation

    from sitaware.alerts.detectors import create_detector
    from sitaware.alerts.errors import DetectorConfigError

    with translation.override("fr"), pytest.raises(DetectorConfigError) as caught:
        create_detector(actor("ana"), {**CONFIG, "area": {"admin1": []}})
    assert "zone vide" in str(caught.value)


def test_reporters_do_not_configure_detectors(client, tokens, data):
    assert _post(client, tokens, "rita", "/detectors", CONFIG).status_code == 403


def test_zero_events_and_a_single_cell_fail_with_clear_errors(data, actor):
    from sitaware.alerts.models import DetectorRun

    nothing = make_detector(actor, categories=["police.homicide"])
    r = run(actor, nothing, at=NOW)
    assert r.status == "failed" and "zero events" in r.error
    tiny = make_detector(actor, name="PK5 only", area={"bbox": [18.552, 4.359, 18.558, 4.364]}, resolution=7)
    r = run(actor, tiny, at=NOW)
    assert r.status == "failed" and "cells without neighbours" in r.error
    assert DetectorRun.objects.filter(status="failed").count() == 2  # failed runs are logged too


# ---------------------------------------------------------------- running and reading


def test_run_over_the_api_and_read_the_alert(client, tokens, data, actor):
    detector = make_detector(actor)
    response = _post(client, tokens, "ana", f"/detectors/{detector.id}/run")
    assert response.status_code == 200, response.content
    run_body = response.json()
    assert run_body["status"] == "succeeded" and run_body["cut_off"]["change_log_seq"] > 0
    assert run_body["code_version"].startswith("alerts-")
    items = client.get(f"{BASE}/alerts?detector={detector.id}", **tokens("ana")).json()["items"]
    assert items and items[0]["state"] == "raised"
    detail = client.get(f"{BASE}/alerts/{items[0]['id']}", **tokens("ana")).json()
    assert detail["zone"]["type"] in ("Polygon", "MultiPolygon") and detail["record_ids"]
    assert detail["p_value"] is not None and detail["recurrence_days"] and detail["relative_risk"] > 1
    # The review queue shows it as a pending recommendation.
    queue = client.get("/api/v1/recommendations?status=pending", **tokens("sam")).json()["items"]
    assert detail["recommendation"] in [r["id"] for r in queue]
    runs = client.get(f"{BASE}/detectors/{detector.id}/runs", **tokens("ana")).json()["items"]
    assert runs[0]["parameters"]["permutations"] == 99


def test_switching_a_detector_off_over_the_api_refuses_runs(client, tokens, data, actor):
    detector = make_detector(actor)
    response = client.patch(f"{BASE}/detectors/{detector.id}", data=json.dumps({"enabled": False}),
                            content_type="application/json", **tokens("ana"))
    assert response.status_code == 200 and response.json()["enabled"] is False
    response = _post(client, tokens, "ana", f"/detectors/{detector.id}/run")
    assert response.status_code == 409 and "switched off" in response.json()["detail"]


def test_other_organisations_see_neither_detectors_nor_alerts(client, tokens, data, actor):
    detector = make_detector(actor)
    run(actor, detector, at=NOW)
    _accept_first(actor, detector)
    assert client.get(f"{BASE}/detectors/{detector.id}", **tokens("hugo")).status_code == 404
    assert client.get(f"{BASE}/alerts", **tokens("hugo")).json()["items"] == []
    feed = client.get("/alerts/feed.atom", **tokens("hugo"))
    assert feed.status_code == 200 and b"<entry>" not in feed.content


# ---------------------------------------------------------------- the feed


def test_the_feed_lists_accepted_alerts_for_token_and_session(client, tokens, data, actor, world):
    import feedparser

    from sitaware.alerts import cap

    detector = make_detector(actor)
    run(actor, detector, at=NOW)
    empty = client.get("/alerts/feed.atom", **tokens("cora"))
    assert empty.status_code == 200 and b"<entry>" not in empty.content  # pending: not published
    alert = _accept_first(actor, detector)
    response = client.get("/alerts/feed.atom", **tokens("cora"))
    assert response["Content-Type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo and [e.id for e in parsed.entries] == [f"urn:sitaware:cap:{alert.cap_identifier}"]
    link = parsed.entries[0].links[0].href
    message = client.get(link.replace("http://testserver", ""), **tokens("cora"))
    assert message.status_code == 200 and message["Content-Type"].startswith("application/cap+xml")
    cap.validate(message.content)
    client.force_login(world.users["otto"])
    assert b"<entry>" in client.get("/alerts/feed.atom").content


def test_the_feed_needs_authentication(client, data):
    assert client.get("/alerts/feed.atom").status_code == 401
    assert client.get("/alerts/feed.atom", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 401


# ---------------------------------------------------------------- oversight numbers


def test_oversight_numbers_per_detector_by_area(client, tokens, data, actor):
    from sitaware.alerts.models import Alert
    from sitaware.oversight import services

    detector = make_detector(actor, area={"admin1": ["Bangui", "Bimbo"]})
    run(actor, detector, at=NOW)
    alerts = list(Alert.objects.filter(detector=detector).order_by("created_at"))
    services.decide(actor("sam"), alerts[0].recommendation_id, "accept", reason="confirmed")
    for other in alerts[1:]:
        services.decide(actor("sam"), other.recommendation_id, "reject", reason="reporting artefact")
    body = client.get(f"{BASE}/stats?detector={detector.id}", **tokens("otto")).json()["items"][0]
    assert body["raised"] == len(alerts) and body["accepted"] == 1 and body["rejected"] == len(alerts) - 1
    assert body["acceptance_rate"] == round(1 / len(alerts), 4)
    rows = {r["admin1"]: r for r in body["by_admin1"]}
    assert set(rows) == {"Bangui", "Bimbo"}
    assert rows["Bangui"]["raised"] >= 1 and rows["Bangui"]["accepted"] == 1
    assert abs(sum(r["record_share"] for r in rows.values()) - 1) < 1e-9
    assert rows["Bangui"]["alerts_to_records_ratio"] is not None


# ---------------------------------------------------------------- console and worker


def test_detect_run_list_and_progress(data, actor, capsys):
    detector = make_detector(actor)
    call_command("detect", "list")
    assert str(detector.id) in capsys.readouterr().out
    call_command("detect", "run", str(detector.id), "--progress")
    out = capsys.readouterr().out
    assert "reading records" in out and "detecting" in out and "significant cluster" in out


def test_detect_run_reports_a_failed_run(data, actor, capsys):
    detector = make_detector(actor, categories=["police.homicide"])
    with pytest.raises(CommandError, match="failed"):
        call_command("detect", "run", "--all")
    assert "zero events" in capsys.readouterr().err
    with pytest.raises(CommandError, match="not a detector id"):
        call_command("detect", "run", "42")
    assert detector.runs.count() == 1


def test_scheduled_detectors_run_when_due_and_the_task_requeues_itself(data, actor):
    from django_tasks_db.models import DBTaskResult

    from sitaware.alerts import jobs
    from sitaware.alerts.models import Detector

    due = make_detector(actor, schedule_hours=24)
    make_detector(actor, name="on demand")
    assert due.next_run_at is not None
    results = jobs.run_due()
    assert [r["detector"] for r in results] == [str(due.id)] and results[0]["status"] == "succeeded"
    due = Detector.objects.get(pk=due.pk)
    assert due.runs.get().trigger == "schedule"
    assert due.next_run_at - due.last_run_at == dt.timedelta(hours=24)
    assert jobs.run_due() == []  # not due again yet
    assert jobs.ensure_scheduled() is True and jobs.ensure_scheduled() is False
    jobs.run_due_detectors_task.call(True)
    assert DBTaskResult.objects.filter(task_path=jobs.run_due_detectors_task.module_path).count() == 2


def test_a_scheduled_run_of_a_switched_off_component_is_skipped(data, actor):
    from sitaware.alerts import jobs
    from sitaware.oversight import services

    make_detector(actor, schedule_hours=6)
    services.set_enabled(actor("otto"), "early-warning", False, reason="review")
    [result] = jobs.run_due()
    assert result["status"] == "refused"
