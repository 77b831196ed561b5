"""Triage on intake items (Django side): proposals as oversight recommendations, the analyst's one-screen
decision through ingest services, the kill switch leaving manual intake working, the redacted copy for sharing,
near-duplicates, the API, and retraining from analysts' decisions."""

from __future__ import annotations

import io
import json

import pytest

GAZ = """name,alternate_names,lat,lon,admin1,admin2,pcode,feature_type
PK5,Kilomètre Cinq,4.3700,18.5400,Bangui,Bangui,CF7101,neighbourhood
Bangui,,4.3612,18.5550,Bangui,Bangui,CF71,populated_place
Boyo,,6.2100,21.6300,Ouaka,Bambari,CF52,populated_place
"""
TAXONOMY = "sitaware-default@1.0"
TEXT = ("Braquage au marché de PK5 ce matin : deux commerçants blessés. Témoin M. Albert Yakité, "
        "joignable au 75 04 12 34.")


@pytest.fixture
def triage_setup(world, settings, tmp_path):
    from sitaware.core.scope import actor_for
    from sitaware.ingest import services as ingest
    from sitaware.oversight import services as oversight

    path = tmp_path / "gazetteer.csv"
    path.write_text(GAZ, encoding="utf-8")
    settings.SITAWARE_TRIAGE_GAZETTEER = str(path)
    settings.DATA_DIR = tmp_path
    oversight.ensure_builtin_components()
    source = ingest.create_source(actor_for(world.users["sam"]), kind="sms", name="hotline",
                                  config={"secret": "s3cret-value"})
    return source


@pytest.fixture
def make_item(triage_setup):
    from sitaware.ingest import services as ingest
    from sitaware.ingest.adapters.base import Incoming

    counter = {"n": 0}

    def make(text: str = TEXT, title: str = "SMS"):
        counter["n"] += 1
        item, _ = ingest.store_item(triage_setup, Incoming(external_id=f"m{counter['n']}", raw=text.encode(),
                                                           content_type="text/plain", title=title, text=text))
        return item

    return make


def test_triage_proposes_and_changes_nothing(make_item, actor):
    from sitaware.oversight.models import Recommendation
    from sitaware.records.models import Record
    from sitaware.triage import services

    item = make_item()
    records_before = Record.objects.count()
    result = services.triage_item(actor("ana"), item.pk)
    assert result.language == "fr"
    assert result.analysis["location"]["name"] == "PK5"
    assert result.analysis["personal_data"]["counts"] == {"name": 1, "phone": 1}
    assert "[PHONE]" in result.redacted_text and "Yakité" not in result.redacted_text
    assert result.relevant in (True, False) and result.info_type
    recs = {r.parameters["aspect"]: r for r in Recommendation.objects.filter(target_id=str(item.pk))}
    assert set(recs) == {"category", "location", "redaction"}
    assert recs["category"].output["proposal"] == {"category": "police.armed_robbery", "kind": "incident"}
    assert all(r.status == "pending" for r in recs.values())
    assert recs["location"].uncertainty["confidence"] == 1.0
    item.refresh_from_db()
    assert item.status == "new" and item.record_id is None
    assert Record.objects.count() == records_before
    # Stored personal data: kinds and offsets only, never the text.
    stored = json.dumps(result.analysis) + json.dumps(result.facts)
    assert "Yakité" not in stored and "75 04" not in stored and "75041234" not in stored
    assert recs["redaction"].output["proposal"] == {"redact": ["name", "phone"]}
    # The hash-chained change log (which cannot be erased) receives no text of the item and no personal data.
    from sitaware.core.models import ChangeEntry

    chain = " ".join(ChangeEntry.objects.values_list("data", flat=True))
    for fragment in ("Yakité", "75 04 12 34", "deux commerçants", "[PHONE]"):
        assert fragment not in chain
    # Running again returns the same result rather than filing the proposals twice.
    assert services.triage_item(actor("ana"), item.pk).pk == result.pk
    assert Recommendation.objects.filter(target_id=str(item.pk)).count() == 3


def test_one_screen_record_uses_what_the_analyst_accepted(make_item, actor):
    from sitaware.triage import services

    item = make_item()
    result = services.triage_item(actor("ana"), item.pk)
    recs = result.recommendations
    handled = services.handle_item(actor("ana"), item.pk, "record", decisions={
        recs["category"]: {"outcome": "accept"},
        recs["location"]: {"outcome": "modify", "modified_output": {
            "latitude": 4.371, "longitude": 18.541, "place_name": "PK5 market", "location_precision": "exact"},
            "reason": "the market, not the district centre"},
        recs["redaction"]: {"outcome": "accept"},
    }, reason="checked against the SMS", fields={"source_reliability": "C", "information_credibility": 3})
    record = handled.record
    assert handled.status == "turned_into_record" and record.status == "draft"
    assert (record.category, record.kind) == ("police.armed_robbery", "incident")
    assert (record.latitude, record.longitude, record.place_name) == (4.371, 18.541, "PK5 market")
    assert "[PHONE]" in record.narrative and "Yakité" not in record.narrative
    assert record.created_by_id == actor("ana").user_id
    from sitaware.oversight.models import Decision

    decisions = Decision.objects.filter(recommendation_id__in=recs.values())
    assert {d.outcome for d in decisions} == {"accept", "modify"}
    assert all(d.decider_id == actor("ana").user_id for d in decisions)


def test_a_modified_redaction_hides_only_the_kinds_kept(make_item, actor):
    from sitaware.triage import services

    item = make_item()
    recs = services.triage_item(actor("ana"), item.pk).recommendations
    handled = services.handle_item(actor("ana"), item.pk, "record", reason="the witness agreed to be named",
                                   decisions={recs["redaction"]: {"outcome": "modify",
                                                                  "modified_output": {"redact": ["phone"]}}},
                                   fields={"kind": "incident", "category": "police.armed_robbery",
                                           "taxonomy_version": TAXONOMY, "latitude": 4.37, "longitude": 18.54})
    assert "Albert Yakité" in handled.record.narrative and "[PHONE]" in handled.record.narrative


def test_rejected_proposals_leave_the_items_own_values(make_item, actor):
    from sitaware.triage import services

    item = make_item()
    recs = services.triage_item(actor("ana"), item.pk).recommendations
    handled = services.handle_item(actor("ana"), item.pk, "record", reason="wrong place", decisions={
        recs["location"]: {"outcome": "reject"}}, fields={
        "kind": "incident", "category": "police.armed_robbery", "taxonomy_version": TAXONOMY, "latitude": 4.4,
        "longitude": 18.6})
    assert (handled.record.latitude, handled.record.longitude) == (4.4, 18.6)
    assert "Yakité" in handled.record.narrative  # redaction was not accepted: the analyst's narrative stays


def test_dismiss_in_one_screen_and_no_second_handling(make_item, actor):
    from sitaware.ingest.errors import ItemAlreadyHandled
    from sitaware.oversight.models import Recommendation
    from sitaware.triage import services

    item = make_item("Match de football ce soir au stade")
    recs = services.triage_item(actor("ana"), item.pk).recommendations
    pending = {rid: {"outcome": "reject"} for rid in recs.values()
               if Recommendation.objects.get(pk=rid).status == "pending"}
    handled = services.handle_item(actor("ana"), item.pk, "dismiss", decisions=pending, reason="not relevant")
    assert handled.status == "dismissed"
    with pytest.raises(ItemAlreadyHandled):
        services.handle_item(actor("ana"), item.pk, "dismiss", reason="again")


def test_switched_off_triage_leaves_manual_intake_and_redaction_working(make_item, actor):
    from sitaware.ingest import services as ingest
    from sitaware.oversight import services as oversight
    from sitaware.oversight.errors import ComponentDisabled
    from sitaware.triage import services

    oversight.set_enabled(actor("otto"), services.COMPONENT_KEY, False, reason="test")
    item = make_item()
    with pytest.raises(ComponentDisabled) as info:
        services.triage_item(actor("ana"), item.pk)
    assert "/api/v1/ingest/items" in info.value.manual_path
    copy = services.shareable_copy(actor("ana"), item.pk)
    assert copy["redacted"] == {"name": 1, "phone": 1} and "75 04 12 34" not in copy["text"]
    handled = ingest.turn_into_record(actor("ana"), item.pk, {
        "kind": "incident", "category": "police.armed_robbery", "taxonomy_version": TAXONOMY,
        "latitude": 4.37, "longitude": 18.54})
    assert handled.record.status == "draft"
    other = make_item("Deuxième message")
    assert services.handle_item(actor("ana"), other.pk, "dismiss", reason="manual path").status == "dismissed"


def test_reporters_cannot_triage_and_other_organisations_see_nothing(make_item, actor):
    from django.core.exceptions import PermissionDenied

    from sitaware.ingest.errors import ItemNotFound
    from sitaware.triage import services

    item = make_item()
    with pytest.raises(PermissionDenied):
        services.triage_item(actor("rita"), item.pk)
    with pytest.raises(ItemNotFound):
        services.triage_item(actor("hugo"), item.pk)


def test_near_duplicates_of_items_and_records(make_item, actor):
    from sitaware.records import services as records
    from sitaware.triage import services
    from tests.conftest import record_payload

    record = records.create_record(actor("ana"), record_payload(
        title="Armed robbery at Boyo", narrative="Armed men attacked Boyo village: 3 dead, 12 injured."))
    first = make_item("TR: Des hommes armés ont attaqué Boyo ce matin, 3 morts et 12 blessés")
    services.triage_item(actor("ana"), first.pk)
    second = make_item("des hommes armes ont attaque Boyo ce matin. 3 morts, 12 blesses")
    duplicates = services.triage_item(actor("ana"), second.pk).duplicates
    keys = {d["key"]: d["method"] for d in duplicates}
    assert keys[f"item:{first.pk}"] == "text"
    assert keys[f"record:{record.pk}"] == "facts"


@pytest.fixture
def api(client, world):
    from sitaware.core.services import create_token

    tokens: dict[str, str] = {}

    class As:
        def __init__(self, name: str):
            tokens.setdefault(name, create_token(world.users[name], "tests"))
            self.auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens[name]}"}

        def get(self, path: str):
            return client.get("/api/v1/triage" + path, **self.auth)

        def post(self, path: str, body: dict | None = None):
            return client.post("/api/v1/triage" + path, data=json.dumps(body or {}),
                               content_type="application/json", **self.auth)

    return As


def test_the_api_queue_run_handle_and_shareable(make_item, actor, api):
    item = make_item()
    listed = api("ana").get("/items").json()["items"]
    assert [i["id"] for i in listed] == [str(item.pk)] and listed[0]["triage"] is None
    ran = api("ana").post(f"/items/{item.pk}/run")
    assert ran.status_code == 200
    triage = ran.json()["triage"]
    assert triage["location"]["name"] == "PK5" and triage["personal_data"] == {"name": 1, "phone": 1}
    cat = triage["recommendations"]["category"]
    assert cat["status"] == "pending" and cat["uncertainty"]["confidence"] > 0 and cat["limitations"]
    assert api("ana").get(f"/items/{item.pk}/shareable").json()["text"].endswith("joignable au [PHONE].")
    handled = api("ana").post(f"/items/{item.pk}/handle", {
        "action": "record", "reason": "checked", "decisions": {
            cat["id"]: {"outcome": "accept"},
            triage["recommendations"]["location"]["id"]: {"outcome": "accept"}}})
    assert handled.status_code == 200, handled.content
    assert handled.json()["status"] == "turned_into_record"
    assert api("ana").post(f"/items/{item.pk}/handle", {"action": "dismiss", "reason": "x"}).status_code == 409
    assert api("hugo").get(f"/items/{item.pk}").status_code == 404


def test_the_api_answers_423_with_the_manual_path_when_switched_off(make_item, actor, api):
    from sitaware.oversight import services as oversight
    from sitaware.triage import services

    oversight.set_enabled(actor("adam"), services.COMPONENT_KEY, False)
    item = make_item()
    response = api("ana").post(f"/items/{item.pk}/run")
    assert response.status_code == 423 and "ingest/items" in response.json()["manual_path"]


def test_retraining_from_analysts_decisions(make_item, actor, tmp_path):
    from django.core.management import call_command

    from sitaware.ingest import services as ingest
    from sitaware.triage import services

    assert services.retrain()["relevance"]["trained"] is False  # nothing decided yet
    for i in range(12):
        ingest.dismiss(actor("ana"), make_item(f"Publicité numéro {i} : promotion sur les téléphones").pk, "spam")
        ingest.turn_into_record(actor("ana"), make_item(f"Braquage numéro {i} sur la route de Boyo").pk,
                                {"kind": "incident", "category": "police.armed_robbery", "taxonomy_version": TAXONOMY,
                                 "latitude": 6.21, "longitude": 21.63})
    out = io.StringIO()
    call_command("triage", "retrain", stdout=out)
    report = json.loads(out.getvalue())
    assert report["relevance"]["trained"] is True and report["relevance"]["examples"] == 24
    assert report["category"]["trained"] is False  # one category only: nothing to learn
    # The retrained model under DATA_DIR/triage/models now replaces the shipped one.
    assert services.model_path("relevance") == tmp_path / "triage" / "models" / "relevance.npz"
    assert services.resources().relevance.header["trained_on"] == "analysts' decisions on intake items"
