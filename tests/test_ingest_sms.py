"""SMS gateway webhook: secret, dedupe, personal data kept apart, bad input refused with a reason."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from sitaware.core.models import ChangeEntry
from sitaware.ingest.adapters.sms import pseudonym
from sitaware.ingest.models import IntakeItem, Source
from sitaware.ingest.webhooks import secret_hash
from tests.test_ingest_support import make_source

SECRET = "gateway-secret-7f3a"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def hotline(world):
    return make_source(world, "sms", "hotline", config={"secret_sha256": secret_hash(SECRET), "gateway": "rapidpro"})


def send(source: Source, body: str | bytes, content_type: str = FORM, secret: str = SECRET):
    return Client().post(f"/intake/sms/{source.pk}/", body, content_type=content_type,
                         HTTP_X_SITAWARE_SECRET=secret)


def test_a_message_is_stored_once_with_the_sender_kept_apart(hotline):
    body = "id=rp-1001&sender=%2B23672123456&text=Hommes+armes+a+PK12&time=2026-11-28T09%3A30%3A00Z"
    first = send(hotline, body)
    assert first.status_code == 200 and first.json()["stored"] == 1
    assert send(hotline, body).json() == {"stored": 0, "duplicates": 1, "rejected": 0, "reasons": []}
    item = IntakeItem.objects.get()
    assert item.external_id == "rp-1001" and item.text == "Hommes armes a PK12"
    assert bytes(item.raw) == body.encode() and item.content_type == FORM
    assert item.personal_data == {"sender": "+23672123456"}
    assert item.provenance["sender_pseudonym"] == pseudonym("+23672123456")
    assert item.provenance["personal_data_fields"] == ["sender"]
    assert "+23672123456" not in json.dumps(item.provenance)
    assert "+23672123456" not in "".join(ChangeEntry.objects.values_list("data", flat=True))


def test_without_a_gateway_id_sender_time_and_text_are_the_id(hotline):
    message = {"from": "+23675000001", "message": "Incendie au marché", "timestamp": 1764322200}
    assert send(hotline, json.dumps(message), "application/json").json()["stored"] == 1
    assert send(hotline, json.dumps(message), "application/json").json()["duplicates"] == 1
    item = IntakeItem.objects.get()
    assert item.occurred_at.timestamp() == 1764322200


def test_a_list_of_messages_stores_the_good_and_rejects_the_bad(hotline):
    messages = [{"sender": "+23672000001", "text": "Route bloquée", "time": "2026-11-28T08:00:00+00:00"},
                {"sender": "+23672000002", "text": ""},
                {"sender": "+23672000003", "text": "Coups de feu", "time": "yesterday"},
                "not an object"]
    answer = send(hotline, json.dumps(messages), "application/json")
    assert answer.status_code == 200
    assert (answer.json()["stored"], answer.json()["rejected"]) == (1, 3)
    assert any("unreadable time" in r for r in answer.json()["reasons"])
    hotline.refresh_from_db()
    assert hotline.rejected_count == 3 and hotline.last_item_at is not None


@pytest.mark.parametrize(("body", "content_type", "words"), [
    (b'{"sender": "+236", "text": ', "application/json", "not valid JSON"),
    (b"sender=%2B236&text=caf%E9", FORM, "not valid UTF-8"),
    (b"sender=x&text=" + b"a" * 70_000, FORM, "larger than"),
])
def test_bad_input_is_refused_with_a_reason_and_nothing_stored(hotline, body, content_type, words):
    answer = send(hotline, body, content_type)
    assert answer.status_code == 400 and words in answer.json()["reasons"][0]
    assert not IntakeItem.objects.exists()


def test_a_wrong_secret_or_unknown_source_looks_the_same(world, hotline):
    assert send(hotline, "sender=1&text=x", secret="guess").status_code == 404
    other = make_source(world, "sms", "no-secret")
    assert send(other, "sender=1&text=x").status_code == 404
    assert Client().post(f"/intake/sms/{hotline.pk}/?secret={SECRET}", "sender=1&text=hello",
                         content_type=FORM).status_code == 200
    assert Client().get(f"/intake/sms/{hotline.pk}/").status_code == 405
