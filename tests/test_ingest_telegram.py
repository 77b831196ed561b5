"""Telegram Desktop channel exports: date_unixtime, dedupe per channel and message, drop folder and upload."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sitaware.core.services import create_token
from sitaware.ingest import services
from sitaware.ingest.models import IntakeItem, Source
from tests.test_ingest_support import make_source


def export(*messages: dict) -> dict:
    return {"name": "Centrafrique Infos", "type": "public_channel", "id": 1788447312, "messages": list(messages)}


def message(mid: int, text, unixtime: str = "1764322200", **extra) -> dict:
    # `date` is the exporting computer's local time without a zone: deliberately off by hours here.
    return {"id": mid, "type": "message", "date": "2026-11-28T10:30:00", "date_unixtime": unixtime,
            "from": "Centrafrique Infos", "from_id": "channel1788447312", "text": text, **extra}


@pytest.fixture
def drop(world, tmp_path):
    path = tmp_path / "result.json"
    source = make_source(world, "telegram_export", "centrafrique-infos", config={"path": str(path)})
    return source, path


def test_messages_become_items_once_with_times_from_date_unixtime(drop):
    source, path = drop
    path.write_text(json.dumps(export(
        message(1, "Tirs entendus à Bambari ce matin"),
        message(2, ["Alerte : ", {"type": "bold", "text": "route Bangui-Damara coupée"}]),
        {"id": 3, "type": "service", "action": "pin_message", "date_unixtime": "1764322300"},
    ), ensure_ascii=False), encoding="utf-8")
    outcome = services.poll_source(source)
    assert outcome.stored == 2
    items = {i.external_id: i for i in IntakeItem.objects.all()}
    assert set(items) == {"1788447312:1", "1788447312:2"}
    assert items["1788447312:1"].occurred_at.timestamp() == 1764322200
    assert items["1788447312:2"].text == "Alerte : route Bangui-Damara coupée"
    # The same file is not read twice; a newer export repeating old messages adds only the new ones.
    assert services.poll_source(Source.objects.get(pk=source.pk)).not_modified
    path.write_text(json.dumps(export(message(1, "Tirs entendus à Bambari ce matin"),
                                      message(4, "Calme à Bria", "1764408600"))), encoding="utf-8")
    again = services.poll_source(Source.objects.get(pk=source.pk))
    assert (again.stored, again.duplicates) == (1, 1)


def test_group_authors_are_personal_data(drop):
    source, path = drop
    path.write_text(json.dumps(export(message(7, "Je confirme", from_id="user5550001", **{"from": "Jean K."}))))
    services.poll_source(source)
    item = IntakeItem.objects.get()
    assert item.personal_data == {"from": "Jean K.", "from_id": "user5550001"}
    assert "Jean K." not in json.dumps(item.provenance)


@pytest.mark.parametrize(("content", "words"), [
    (b'{"messages": [', "not valid JSON"),
    (b'{"name": "x", "id": 1, "chats": []}', "not a Telegram export"),
    ('{"name": "é", "id": 1, "messages": []}'.encode("latin-1"), "not valid UTF-8"),
])
def test_bad_exports_are_refused_with_a_reason(drop, content, words):
    source, path = drop
    path.write_bytes(content)
    outcome = services.poll_source(source)
    assert outcome.rejected == 1 and words in outcome.reasons[0] and not IntakeItem.objects.exists()
    source.refresh_from_db()
    assert words in source.last_error


def test_a_message_without_date_unixtime_is_rejected_alone(drop):
    source, path = drop
    bad = message(8, "old export")
    del bad["date_unixtime"]
    path.write_text(json.dumps(export(bad, message(9, "fine"))))
    outcome = services.poll_source(source)
    assert (outcome.stored, outcome.rejected) == (1, 1) and "date_unixtime" in outcome.reasons[0]


def test_a_missing_file_is_a_failure_of_that_source(drop):
    source, _ = drop
    outcome = services.poll_source(source)
    assert "no export file" in outcome.error


def test_an_export_can_be_uploaded_through_the_api(world, drop):
    source, _ = drop
    client = Client(HTTP_AUTHORIZATION=f"Bearer {create_token(world.users['ana'], 't')}")
    body = json.dumps(export(message(1, "Tirs entendus"))).encode()
    answer = client.post(f"/api/v1/ingest/sources/{source.pk}/upload",
                         {"file": SimpleUploadedFile("result.json", body, "application/json")})
    assert answer.status_code == 200, answer.content
    assert answer.json()["stored"] == 1
    rita = Client(HTTP_AUTHORIZATION=f"Bearer {create_token(world.users['rita'], 't')}")
    assert rita.post(f"/api/v1/ingest/sources/{source.pk}/upload",
                     {"file": SimpleUploadedFile("result.json", body, "application/json")}).status_code == 403
