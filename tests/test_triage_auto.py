"""Automatic triage on arrival: items that come in through intake are triaged by the task worker, once, while
the triage component is switched on; off, intake works and nothing is queued; a failing item fails alone."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.management import call_command
from django.db import transaction

GAZ = """name,alternate_names,lat,lon,admin1,admin2,pcode,feature_type
PK5,Kilomètre Cinq,4.3700,18.5400,Bangui,Bangui,CF7101,neighbourhood
Bangui,,4.3612,18.5550,Bangui,Bangui,CF71,populated_place
"""
TEXT = "Braquage au marché de PK5 ce matin : deux commerçants blessés. Témoin joignable au 75 04 12 34."


@pytest.fixture
def hotline(transactional_db, world, settings, tmp_path):
    # Transactional: the worker closes and reopens its connection between tasks, as a real worker does.
    from sitaware.core.scope import actor_for
    from sitaware.ingest import services as ingest
    from sitaware.oversight import services as oversight

    path = tmp_path / "gazetteer.csv"
    path.write_text(GAZ, encoding="utf-8")
    settings.SITAWARE_TRIAGE_GAZETTEER = str(path)
    settings.DATA_DIR = tmp_path
    oversight.ensure_builtin_components()
    return ingest.create_source(actor_for(world.users["sam"]), kind="sms", name="hotline",
                                config={"secret": "s3cret-value"})


def sms(source, message_id: str, text: str = TEXT):
    """A message as the SMS gateway pushes it: the real intake path (parse, dedupe, store)."""
    from sitaware.ingest import services as ingest

    body = json.dumps({"id": message_id, "sender": "+23675041234", "text": text,
                       "time": "2026-11-29T08:00:00+00:00"}).encode()
    return ingest.receive(source, body, "application/json")


def queued():
    from django_tasks_db.models import DBTaskResult

    from sitaware.triage import jobs

    return DBTaskResult.objects.filter(task_path=jobs.triage_item_task.module_path)


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def switch(actor, on: bool) -> None:
    from sitaware.oversight import services as oversight
    from sitaware.triage.services import COMPONENT_KEY

    # Oversight officers may switch off; only administrators switch back on.
    oversight.set_enabled(actor("adam" if on else "otto"), COMPONENT_KEY, on, reason="test")


def test_new_items_are_triaged_by_the_worker_without_anyone_running_triage(hotline, world):
    from sitaware.core.models import ChangeEntry
    from sitaware.ingest.models import IntakeItem
    from sitaware.oversight.models import Recommendation
    from sitaware.records.models import Record
    from sitaware.triage.models import TriageResult

    records = Record.objects.count()
    assert sms(hotline, "a").stored == 1 and sms(hotline, "b", "Barrage routier à PK5").stored == 1
    assert queued().filter(status="READY").count() == 2
    run_worker()
    assert queued().filter(status="SUCCESSFUL").count() == 2
    items = list(IntakeItem.objects.filter(source=hotline))
    assert TriageResult.objects.filter(item__in=items).count() == 2
    recs = Recommendation.objects.filter(target_type="intake_item")
    assert recs.count() >= 4
    # Filed in the name of the organisation's service account (R-AI-03 names who asked), an analyst.
    assert {(r.requested_by.username, r.requested_role) for r in recs} == {("intake-triage.unpol", "analyst")}
    service = recs.first().requested_by
    assert ChangeEntry.objects.filter(action="user.create", object_id=str(service.pk)).count() == 1
    assert not service.has_usable_password()
    # Proposals only: no decision, no record, items still new for an analyst.
    assert not recs.exclude(status__in=["pending", "empty"]).exists()
    assert Record.objects.count() == records
    assert {i.status for i in items} == {"new"}
    location = recs.get(parameters__aspect="location", target_id=str(items[0].pk))
    assert location.output["proposal"]["place_name"] == "PK5"


def test_switched_off_intake_works_and_nothing_is_queued(hotline, actor):
    from sitaware.ingest.models import IntakeItem
    from sitaware.triage.models import TriageResult

    switch(actor, False)
    assert sms(hotline, "off-1").stored == 1
    assert not queued().exists()
    run_worker()
    assert IntakeItem.objects.filter(source=hotline).count() == 1 and not TriageResult.objects.exists()
    # Switched on again: the next item is triaged on arrival; the one that came while off waits for
    # `sitaware triage run` (the kill switch is not undone behind the operator's back).
    switch(actor, True)
    assert sms(hotline, "on-1").stored == 1
    run_worker()
    assert list(TriageResult.objects.values_list("item__external_id", flat=True)) == ["on-1"]


def test_switched_off_after_queueing_the_task_does_nothing(hotline, actor):
    from sitaware.triage.models import TriageResult

    sms(hotline, "late")
    switch(actor, False)
    run_worker()
    assert queued().get().return_value == {"item": str(queued().get().args_kwargs["args"][0]),
                                           "status": "switched_off"}
    assert not TriageResult.objects.exists()


def test_redelivery_does_not_triage_twice(hotline):
    from sitaware.ingest.models import IntakeItem
    from sitaware.oversight.models import Recommendation
    from sitaware.triage import jobs
    from sitaware.triage.models import TriageResult

    assert sms(hotline, "dup").stored == 1
    # The gateway delivers the same message again: a duplicate, no new item, nothing queued.
    again = sms(hotline, "dup")
    assert (again.stored, again.duplicates) == (0, 1) and queued().count() == 1
    item = IntakeItem.objects.get(source=hotline)
    # The task queue delivers the task twice (two workers, a replay): triaged once.
    jobs.triage_item_task.enqueue(str(item.pk))
    run_worker()
    assert TriageResult.objects.filter(item=item).count() == 1
    outcomes = sorted(r.return_value["status"] for r in queued())
    assert outcomes == ["already_triaged", "triaged"]
    filed = Recommendation.objects.filter(target_id=str(item.pk)).count()
    assert jobs.triage_item_task.call(str(item.pk))["status"] == "already_triaged"
    assert Recommendation.objects.filter(target_id=str(item.pk)).count() == filed


def test_a_failing_item_is_logged_and_never_blocks_the_others(hotline, monkeypatch, caplog):
    from sitaware.ingest.models import IntakeItem
    from sitaware.oversight.models import Recommendation
    from sitaware.triage import pipeline
    from sitaware.triage.models import TriageResult

    real = pipeline.analyse

    def analyse(title, text, res):
        if "POISON" in text:
            raise RuntimeError("model crashed on this text")
        return real(title, text, res)

    monkeypatch.setattr(pipeline, "analyse", analyse)
    for key, text in (("p1", "Message POISON"), ("ok1", TEXT), ("ok2", "Barrage routier à PK5")):
        assert sms(hotline, key, text).stored == 1
    with caplog.at_level(logging.ERROR, logger="sitaware.triage"):
        run_worker()
    poison = IntakeItem.objects.get(external_id="p1")
    assert sorted(TriageResult.objects.values_list("item__external_id", flat=True)) == ["ok1", "ok2"]
    assert queued().filter(status="FAILED").count() == 1 and queued().filter(status="SUCCESSFUL").count() == 2
    assert any(str(poison.pk) in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
    # Nothing half-written for the failed item; it stays new for an analyst (manual path).
    assert not Recommendation.objects.filter(target_id=str(poison.pk)).exists() and poison.status == "new"


def test_a_queueing_failure_never_stops_the_intake(hotline, monkeypatch, caplog):
    from django_tasks_db.backend import DatabaseBackend

    from sitaware.ingest.models import IntakeItem

    def broken(*args, **kwargs):
        raise RuntimeError("task table unavailable")

    monkeypatch.setattr(DatabaseBackend, "enqueue", broken)
    with caplog.at_level(logging.ERROR, logger="sitaware.triage"):
        outcome = sms(hotline, "q1")
    assert outcome.stored == 1 and IntakeItem.objects.filter(external_id="q1").exists()
    assert any("could not queue the triage" in r.getMessage() for r in caplog.records)


def test_an_item_and_its_task_commit_together_or_not_at_all(hotline):
    from sitaware.ingest import services as ingest
    from sitaware.ingest.adapters.base import Incoming
    from sitaware.ingest.models import IntakeItem

    with pytest.raises(RuntimeError), transaction.atomic():
        ingest.store_item(hotline, Incoming(external_id="rolled-back", raw=b"x", content_type="text/plain",
                                            text="x"))
        raise RuntimeError("the caller's transaction fails")
    assert not IntakeItem.objects.filter(external_id="rolled-back").exists() and not queued().exists()


def test_an_item_handled_before_the_worker_runs_is_left_alone(hotline, actor):
    from sitaware.ingest import services as ingest
    from sitaware.ingest.models import IntakeItem
    from sitaware.triage.models import TriageResult

    sms(hotline, "quick")
    ingest.dismiss(actor("ana"), IntakeItem.objects.get(external_id="quick").pk, "spam")
    run_worker()
    assert queued().get().return_value["status"] == "already_handled" and not TriageResult.objects.exists()


def test_a_deactivated_service_account_stops_automatic_triage_for_its_organisation(hotline):
    from django.contrib.auth import get_user_model

    from sitaware.triage.models import TriageResult

    sms(hotline, "first")
    run_worker()
    get_user_model().objects.filter(username="intake-triage.unpol").update(is_active=False)
    sms(hotline, "second")
    run_worker()
    assert list(TriageResult.objects.values_list("item__external_id", flat=True)) == ["first"]
    assert queued().filter(status="FAILED").count() == 1
    # The account is not silently re-enabled.
    assert not get_user_model().objects.get(username="intake-triage.unpol").is_active
