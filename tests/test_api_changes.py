"""The change feed: entries after a cursor, in order, narrowed to the caller's scope and redacted like records."""

from __future__ import annotations

import pytest
from django.test import Client

API = "/api/v1"


@pytest.fixture
def client_for(world):
    from sitaware.core.services import create_token

    def make(name: str) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {create_token(world.users[name], 'test')}")

    return make


def _feed(client: Client, after: int = 0, limit: int = 1000) -> dict:
    response = client.get(f"{API}/changes?after={after}&limit={limit}")
    assert response.status_code == 200, response.content
    return response.json()


def _about(feed: dict, record) -> list[dict]:
    return [e for e in feed["items"] if e["object_id"] == str(record.id)]


def test_the_feed_from_a_cursor_returns_later_entries_in_order(client_for, make_record):
    ana = client_for("ana")
    first = make_record("ana")
    cursor = _feed(ana)["next_after"]
    second = make_record("ana", status="in_review")
    feed = _feed(ana, after=cursor)
    seqs = [e["seq"] for e in feed["items"]]
    assert seqs == sorted(seqs) and all(s > cursor for s in seqs)
    assert [(e["action"], e["object_id"]) for e in feed["items"]] == [
        ("record.create", str(second.id)), ("record.status", str(second.id))]
    assert not _about(feed, first)
    assert feed["next_after"] == seqs[-1]
    entry = feed["items"][1]
    assert entry["before"] == {"status": "draft", "version": 1}
    assert entry["after"] == {"status": "in_review", "version": 2}
    assert entry["prev_hash"] != entry["hash"] and len(entry["hash"]) == 64
    assert entry["origin_site"] == "hq" and entry["actor"] == "test"
    # Polling again from the end finds nothing and keeps the cursor.
    assert _feed(ana, after=feed["next_after"]) == {"items": [], "next_after": feed["next_after"]}


def test_small_pages_walk_the_feed_without_gaps_or_repeats(client_for, make_record):
    for _ in range(4):
        make_record("ana", status="verified")  # three entries each
    ana = client_for("ana")
    everything = [e["seq"] for e in _feed(ana)["items"]]
    walked, cursor = [], 0
    while True:
        page = _feed(ana, after=cursor, limit=5)
        if not page["items"]:
            break
        walked.extend(e["seq"] for e in page["items"])
        cursor = page["next_after"]
    assert walked == everything and len(everything) == 12


def test_another_organisations_drafts_never_appear(client_for, make_record):
    draft = make_record("hana", category="police.theft")
    shared = make_record("hana", status="published")
    ana_feed = _feed(client_for("ana"))
    assert not _about(ana_feed, draft)
    assert _about(ana_feed, shared), "a record shared by agreement keeps its history visible"
    assert [e["action"] for e in _about(_feed(client_for("hugo")), draft)] == ["record.create"]


def test_the_feed_withholds_what_the_reader_may_not_see_of_a_record(client_for, make_record):
    own = make_record("ana", status="verified")
    shared = make_record("hana", status="published")
    cora = _feed(client_for("cora"))
    created = _about(cora, own)[0]
    assert created["after"]["source_identity"] is None and created["withheld"] == ["source_identity"]
    assert created["after"]["title"] == "Armed robbery at PK5 market"
    ana = _feed(client_for("ana"))
    assert _about(ana, own)[0]["after"]["source_identity"] == "informant 7"
    # The HSP agreement withholds narratives from UNPOL.
    from_hsp = _about(ana, shared)[0]["after"]
    assert from_hsp["narrative"] is None and from_hsp["source_identity"] is None
    assert _about(_feed(client_for("sara")), shared)[0]["after"]["narrative"]


def test_states_written_above_the_readers_clearance_are_withheld_whole(client_for, make_record):
    record = make_record("ana", sensitivity="confidential", narrative="Names the informant's village.")
    ana = client_for("ana")
    patched = ana.patch(f"{API}/records/{record.id}",
                        {"base_version": 1, "sensitivity": "restricted", "narrative": "Sanitised."},
                        content_type="application/json")
    assert patched.status_code == 200
    rita = _feed(client_for("rita"))  # clearance restricted; sees her unit's drafts
    entries = _about(rita, record)
    assert [e["action"] for e in entries] == ["record.create", "record.update"]
    for entry in entries:
        assert entry["before"] is None and entry["after"] is None and entry["withheld"] == ["before", "after"]
    assert "Names the informant" not in str(rita)
    assert _about(_feed(ana), record)[1]["before"]["narrative"] == "Names the informant's village."


def test_entries_about_accounts_and_tokens_go_to_auditors_only(world, client_for):
    from sitaware.core.models import ApiToken

    otto, ana = client_for("otto"), client_for("ana")
    ana_token = ApiToken.objects.filter(user=world.users["ana"]).get()
    assert ana.delete(f"{API}/tokens/{ana_token.pk}").status_code == 204
    otto_actions = [e["action"] for e in _feed(otto)["items"]]
    assert "token.revoke" in otto_actions and "token.create" in otto_actions
    assert _feed(client_for("ana"))["items"] == []
    assert not any(e["action"].startswith("token.") for e in _feed(client_for("sara"))["items"])


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("after=-1", "after", "give 0 or more"),
        ("after=latest", "after", "give a whole number"),
        ("limit=0", "limit", "give 1 or more"),
        ("limit=1001", "limit", "give 1000 or less"),
        ("since=5", "since", "unknown query parameter"),
    ],
)
def test_bad_feed_parameters_are_a_400_naming_them(query, field, words, client_for):
    response = client_for("ana").get(f"{API}/changes?{query}")
    assert response.status_code == 400
    assert any(p["field"] == field and words in p["message"] for p in response.json()["errors"]), response.json()
