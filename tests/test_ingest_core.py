"""The intake core, for every adapter alike: isolation, health, silence alarm, scope, and what analysts do."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sitaware.core import changelog
from sitaware.core.models import ChangeEntry
from sitaware.ingest import jobs, services
from sitaware.ingest.adapters import ADAPTERS, Adapter, Batch, Incoming
from sitaware.ingest.errors import ItemAlreadyHandled, ItemNotFound
from sitaware.ingest.models import IntakeItem, ItemStatus, Source
from sitaware.records.errors import RecordValidationError
from sitaware.records.models import Record
from tests.test_ingest_support import Route, free_port, make_source, rss

pytest_plugins = ["tests.test_ingest_support"]


class CrashingAdapter(Adapter):
    """An adapter with a bug: it raises something no adapter error covers."""

    kind = "crash"
    label = "crashes"
    pull = True

    def fetch(self) -> Batch:
        raise RuntimeError("bug in adapter")


def _incoming(external_id: str = "m1", **fields) -> Incoming:
    values = {"raw": b'{"text": "Shots at PK5"}', "content_type": "application/json", "title": "Shots at PK5",
              "text": "Shots heard near PK5 market", "latitude": 4.3612, "longitude": 18.555,
              "occurred_at": timezone.now() - dt.timedelta(hours=2)}
    values.update(fields)
    return Incoming(external_id=external_id, **values)


@pytest.fixture
def sms_source(world):
    return make_source(world, "sms", "hotline", config={"record_defaults": {
        "kind": "incident", "category": "police.armed_robbery", "taxonomy_version": "sitaware-default@1.0"}})


@pytest.fixture
def client_for(world):
    from sitaware.core.services import create_token

    def make(name: str) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {create_token(world.users[name], 'test')}")

    return make


# ---------------------------------------------------------------- storing


def test_one_message_never_becomes_two_items(sms_source):
    item, created = services.store_item(sms_source, _incoming())
    again, created_again = services.store_item(sms_source, _incoming(title="changed"))
    assert created and not created_again and again.pk == item.pk
    assert IntakeItem.objects.count() == 1
    assert ChangeEntry.objects.filter(action="ingest.item.receive").count() == 1


def test_the_same_id_from_two_sources_is_two_items(world, sms_source):
    other = make_source(world, "sms", "hotline-2")
    services.store_item(sms_source, _incoming("m1"))
    services.store_item(other, _incoming("m1"))
    assert IntakeItem.objects.count() == 2


def test_receipts_are_logged_without_payload_or_personal_data(sms_source):
    item, _ = services.store_item(sms_source, _incoming(personal_data={"sender": "+23672000000"}))
    entry = ChangeEntry.objects.get(action="ingest.item.receive")
    assert entry.object_id == str(item.pk) and entry.organisation_id == sms_source.organisation_id
    assert item.raw_sha256 in entry.data
    assert "+23672000000" not in entry.data and "Shots" not in entry.data
    assert changelog.verify().ok


def test_a_failing_write_leaves_no_half_item(sms_source, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(changelog, "append", broken)
    with pytest.raises(RuntimeError):
        services.store_item(sms_source, _incoming())
    assert not IntakeItem.objects.exists()


# ---------------------------------------------------------------- the poll loop


def test_a_broken_source_never_stops_the_others(world, feed_server, monkeypatch, caplog):
    monkeypatch.setitem(ADAPTERS, "crash", CrashingAdapter)
    feed_server.routes["/ok.xml"] = Route(rss(("ok1", "Road reopened")))
    crashing = make_source(world, "crash", "buggy")
    unreachable = make_source(world, "rss", "down", config={"url": f"http://127.0.0.1:{free_port()}/x.xml"})
    working = make_source(world, "rss", "working", config={"url": feed_server.url("/ok.xml")})
    with caplog.at_level(logging.WARNING, logger="sitaware.ingest"):
        results = dict((s.name, o) for s, o in services.poll_due(sleep=lambda s: None))
    assert set(results) == {"buggy", "down", "working"}
    assert results["working"].ok and results["working"].stored == 1
    assert "bug in adapter" in results["buggy"].error and "cannot reach" in results["down"].error
    assert "crashed the poll" in caplog.text
    for source in (crashing, unreachable):
        source.refresh_from_db()
        assert source.consecutive_failures == 1 and source.last_error and source.last_error_at
    working.refresh_from_db()
    assert working.last_success_at and not working.last_error and working.items_per_hour == 1


def test_only_due_sources_are_polled_and_a_claimed_source_is_not_polled_twice(world, feed_server):
    feed_server.routes["/due.xml"] = Route(rss(("d1", "Curfew announced")))
    source = make_source(world, "rss", "due", config={"url": feed_server.url("/due.xml")}, poll_interval=600)
    assert [s.name for s, _ in services.poll_due()] == ["due"]
    assert services.poll_due() == []  # next poll in 10 minutes
    later = timezone.now() + dt.timedelta(minutes=11)
    assert [s.name for s, _ in services.poll_due(now=later)] == ["due"]
    source.refresh_from_db()
    assert len(feed_server.hits("/due.xml")) == 2


def test_push_sources_are_never_polled(sms_source):
    assert services.poll_due() == []


# ---------------------------------------------------------------- silence


def test_a_silent_source_raises_the_alarm_once_and_clears_when_items_return(sms_source, caplog):
    Source.objects.filter(pk=sms_source.pk).update(silence_threshold=3600,
                                                   last_item_at=timezone.now() - dt.timedelta(hours=2))
    with caplog.at_level(logging.WARNING, logger="sitaware.ingest"):
        raised = services.check_silence()
    assert [s.name for s in raised] == ["hotline"] and "ALARM intake source hotline" in caplog.text
    assert services.check_silence() == []  # once per silence
    sms_source.refresh_from_db()
    assert sms_source.silent_since is not None and services.health(sms_source)["state"] == "silent"
    assert ChangeEntry.objects.filter(action="ingest.source.silent", object_id=str(sms_source.pk)).count() == 1

    services.receive(sms_source, b"sender=%2B23675000001&text=Roadblock+at+PK12&time=1764322200",
                     "application/x-www-form-urlencoded")
    sms_source.refresh_from_db()
    assert sms_source.silent_since is None and services.health(sms_source)["state"] == "ok"
    assert ChangeEntry.objects.filter(action="ingest.source.resumed").count() == 1


def test_a_source_within_its_threshold_is_not_silent(sms_source):
    Source.objects.filter(pk=sms_source.pk).update(silence_threshold=3600,
                                                   last_item_at=timezone.now() - dt.timedelta(minutes=30))
    assert services.check_silence() == []


def test_a_new_source_that_never_delivered_goes_silent_after_its_threshold(sms_source):
    later = timezone.now() + dt.timedelta(seconds=sms_source.silence_threshold + 1)
    assert [s.pk for s in services.check_silence(now=later)] == [sms_source.pk]


# ---------------------------------------------------------------- scope


def test_items_stay_with_their_organisation_despite_record_sharing(world, actor, sms_source):
    hsp_source = make_source(world, "sms", "hsp-hotline", org=world.hsp, sensitivity=0)
    mine, _ = services.store_item(sms_source, _incoming("u1"))
    theirs, _ = services.store_item(hsp_source, _incoming("h1"))
    # HSP shares published records with UNPOL; intake items are not records and are not shared.
    assert list(services.items_for(actor("ana"))) == [mine]
    assert list(services.items_for(actor("hugo"))) == [theirs]
    assert list(services.sources_for(actor("ana")).values_list("name", flat=True)) == ["hotline"]
    with pytest.raises(ItemNotFound):
        services.get_item(actor("ana"), theirs.pk)


def test_reporters_do_not_triage_and_clearance_narrows_items(world, actor):
    secret = make_source(world, "sms", "secret-line", sensitivity=3)
    item, _ = services.store_item(secret, _incoming("s1"))
    assert not services.items_for(actor("rita")).exists()
    assert not services.items_for(actor("ana")).exists()  # clearance 2 < 3
    assert list(services.items_for(actor("sam"))) == [item]


def test_the_api_answers_404_for_another_organisations_item(world, client_for, sms_source):
    hsp_source = make_source(world, "sms", "hsp-hotline", org=world.hsp)
    theirs, _ = services.store_item(hsp_source, _incoming("h1"))
    mine, _ = services.store_item(sms_source, _incoming("u1"))
    ana = client_for("ana")
    assert ana.get(f"/api/v1/ingest/items/{theirs.pk}").status_code == 404
    assert ana.get(f"/api/v1/ingest/items/{mine.pk}").status_code == 200
    assert [i["id"] for i in ana.get("/api/v1/ingest/items").json()] == [str(mine.pk)]
    assert client_for("hugo").get(f"/api/v1/ingest/items/{mine.pk}").status_code == 404


def test_personal_data_and_raw_payload_need_to_know(world, client_for, sms_source):
    item, _ = services.store_item(sms_source, _incoming(personal_data={"sender": "+23672000000"}))
    seen_by_ana = client_for("ana").get(f"/api/v1/ingest/items/{item.pk}?raw=true").json()
    assert seen_by_ana["personal_data"] is None and seen_by_ana["raw"] is None
    assert seen_by_ana["withheld"] == ["personal_data", "raw"]
    seen_by_sam = client_for("sam").get(f"/api/v1/ingest/items/{item.pk}?raw=true").json()
    assert seen_by_sam["personal_data"] == {"sender": "+23672000000"} and "Shots" in seen_by_sam["raw"]


# ---------------------------------------------------------------- what analysts do with items


def test_an_analyst_turns_an_item_into_a_draft_record_she_authored(world, actor, sms_source):
    item, _ = services.store_item(sms_source, _incoming())
    handled = services.turn_into_record(actor("ana"), item.pk, {"place_name": "PK5"})
    record = Record.objects.get(pk=handled.record_id)
    assert handled.status == ItemStatus.TURNED_INTO_RECORD and handled.handled_by_id == world.users["ana"].pk
    assert record.status == "draft" and record.created_by_id == world.users["ana"].pk
    assert (record.category, record.title, record.place_name) == ("police.armed_robbery", "Shots at PK5", "PK5")
    assert record.narrative == "Shots heard near PK5 market" and record.source_type == "community"
    assert (record.external_source, record.external_id) == ("ingest", str(item.pk))
    entry = ChangeEntry.objects.get(action="ingest.item.record")
    assert entry.record_id == record.pk and entry.actor_id == world.users["ana"].pk
    assert ChangeEntry.objects.filter(action="record.create", record_id=record.pk).exists()
    assert changelog.verify().ok
    with pytest.raises(ItemAlreadyHandled):
        services.turn_into_record(actor("sam"), item.pk, {})


def test_an_item_without_a_place_needs_one_and_stays_new_until_given(actor, sms_source):
    item, _ = services.store_item(sms_source, _incoming(latitude=None, longitude=None))
    with pytest.raises(RecordValidationError) as refused:
        services.turn_into_record(actor("ana"), item.pk, {})
    assert {p["field"] for p in refused.value.problems} >= {"latitude", "longitude"}
    item.refresh_from_db()
    assert item.status == ItemStatus.NEW and not Record.objects.exists()
    services.turn_into_record(actor("ana"), item.pk, {"latitude": 4.37, "longitude": 18.56,
                                                      "location_precision": "near"})
    assert Record.objects.get().location_precision == "near"


def test_reporters_cannot_turn_items_into_records(actor, sms_source):
    item, _ = services.store_item(sms_source, _incoming())
    with pytest.raises((PermissionDenied, ItemNotFound)):
        services.turn_into_record(actor("rita"), item.pk, {})


def test_attach_and_dismiss_are_logged(world, actor, make_record, sms_source):
    record = make_record("ana")
    first, _ = services.store_item(sms_source, _incoming("m1"))
    second, _ = services.store_item(sms_source, _incoming("m2"))
    services.attach(actor("ana"), first.pk, record.pk, "same robbery, second witness")
    with pytest.raises(RecordValidationError):
        services.dismiss(actor("ana"), second.pk, "  ")
    services.dismiss(actor("ana"), second.pk, "prank message")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.record_id) == (ItemStatus.ATTACHED, record.pk)
    assert (second.status, second.note) == (ItemStatus.DISMISSED, "prank message")
    assert ChangeEntry.objects.get(action="ingest.item.attach").record_id == record.pk
    assert json.loads(ChangeEntry.objects.get(action="ingest.item.dismiss").data)["after"]["reason"] == "prank message"


def test_an_item_cannot_be_attached_to_another_organisations_record(world, actor, make_record, sms_source):
    shared = make_record("hugo", status="published", sensitivity="public")
    item, _ = services.store_item(sms_source, _incoming())
    with pytest.raises(PermissionDenied):
        services.attach(actor("ana"), item.pk, shared.pk)


def test_the_api_turns_attaches_and_dismisses(world, client_for, make_record, sms_source):
    ana = client_for("ana")
    items = [services.store_item(sms_source, _incoming(f"m{i}"))[0] for i in range(3)]
    made = ana.post(f"/api/v1/ingest/items/{items[0].pk}/record", {"fields": {"admin1": "Bangui"}},
                    content_type="application/json")
    assert made.status_code == 201, made.content
    assert made.json()["status"] == "turned_into_record"
    again = ana.post(f"/api/v1/ingest/items/{items[0].pk}/record", {}, content_type="application/json")
    assert again.status_code == 409
    record = make_record("ana")
    attached = ana.post(f"/api/v1/ingest/items/{items[1].pk}/attach", {"record": str(record.pk)},
                        content_type="application/json")
    assert attached.status_code == 200 and attached.json()["record"] == str(record.pk)
    dismissed = ana.post(f"/api/v1/ingest/items/{items[2].pk}/dismiss", {"reason": "duplicate"},
                         content_type="application/json")
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert [i["status"] for i in ana.get("/api/v1/ingest/items?status=new").json()] == []


def test_sources_and_health_through_the_api(world, client_for):
    sam = client_for("sam")
    made = sam.post("/api/v1/ingest/sources", {"kind": "sms", "name": "hotline",
                                               "config": {"secret": "gateway-secret-1"}},
                    content_type="application/json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["config"] == {"secret_sha256": "********"} and body["health"]["state"] == "ok"
    assert "gateway-secret-1" not in str(Source.objects.get().config)
    # The plain secret, kept only as a hash, opens the webhook.
    assert Client().post(f"/intake/sms/{body['id']}/", "sender=%2B23672000009&text=test",
                         content_type="application/x-www-form-urlencoded",
                         HTTP_X_SITAWARE_SECRET="gateway-secret-1").status_code == 200
    no_url = sam.post("/api/v1/ingest/sources", {"kind": "rss", "name": "feed"}, content_type="application/json")
    assert no_url.status_code == 400 and no_url.json()["errors"][0]["field"] == "config"
    form = sam.post("/api/v1/ingest/sources", {"kind": "openrosa", "name": "incidents"},
                    content_type="application/json")
    assert form.status_code == 201 and form.json()["config"]["form_id"] == "incident_report"
    assert client_for("ana").post("/api/v1/ingest/sources", {"kind": "sms", "name": "x"},
                                  content_type="application/json").status_code == 403
    assert sam.post("/api/v1/ingest/sources", {"kind": "fax", "name": "y"},
                    content_type="application/json").status_code == 400
    listed = client_for("ana").get("/api/v1/ingest/sources").json()
    assert [s["name"] for s in listed] == ["hotline", "incidents"]
    assert client_for("hugo").get(f"/api/v1/ingest/sources/{body['id']}").status_code == 404
    assert ChangeEntry.objects.filter(action="ingest.source.create").count() == 2
    assert "gateway-secret-1" not in "".join(ChangeEntry.objects.values_list("data", flat=True))


# ---------------------------------------------------------------- console and worker


def test_the_poll_command_reports_each_source(world, feed_server, monkeypatch):
    monkeypatch.setitem(ADAPTERS, "crash", CrashingAdapter)
    feed_server.routes["/cmd.xml"] = Route(rss(("c1", "Bridge closed")))
    make_source(world, "rss", "cmd-feed", config={"url": feed_server.url("/cmd.xml")})
    make_source(world, "crash", "buggy")
    out = io.StringIO()
    call_command("ingest", "poll", stdout=out)
    text = out.getvalue()
    assert "cmd-feed: 1 new, 0 already known, 0 rejected" in text and "buggy: FAILED" in text
    out = io.StringIO()
    call_command("ingest", "poll", "--all", "--source", "cmd-feed", stdout=out)
    assert "cmd-feed: 0 new" in out.getvalue() and "buggy" not in out.getvalue()
    out = io.StringIO()
    call_command("ingest", "status", stdout=out)
    assert "unpol/cmd-feed [rss] ok" in out.getvalue() and "unpol/buggy [crash] failing" in out.getvalue()


def test_the_form_command_turns_an_xlsform_into_an_xform():
    from sitaware.ingest.forms import SHIPPED

    out = io.StringIO()
    call_command("ingest", "form", str(SHIPPED["incident_report"]), "--json", stdout=out)
    config = json.loads(out.getvalue())
    assert config["form_id"] == "incident_report" and "<instanceID/>" in config["xform"]


def test_the_periodic_poll_runs_and_queues_its_next_run_once(world, feed_server):
    from django_tasks_db.models import DBTaskResult

    feed_server.routes["/task.xml"] = Route(rss(("t1", "Patrol completed")))
    make_source(world, "rss", "task-feed", config={"url": feed_server.url("/task.xml")})
    assert jobs.ensure_scheduled() is True
    assert jobs.ensure_scheduled() is False  # already waiting: restarts do not multiply the loop
    result = jobs.poll_sources_task.call(True)
    assert result == {"polled": 1, "failed": 0, "stored": 1}
    waiting = DBTaskResult.objects.filter(task_path=jobs.poll_sources_task.module_path, status="READY")
    assert waiting.count() == 2 and max(w.run_after for w in waiting) > timezone.now()

