"""The records API: create, read, change, move, list with filters and cursor pages, revisions, taxonomies.

Bad input is 400 with `errors: [{field, message}]` and writes nothing; out-of-scope is 404 like a missing id.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.test import Client

from tests.conftest import record_payload

API = "/api/v1"


@pytest.fixture
def client_for(world):
    """A Client authenticated with a fresh API token of the named persona."""
    from sitaware.core.services import create_token

    def make(name: str) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {create_token(world.users[name], 'test')}")

    return make


def _counts() -> tuple[int, int, int]:
    from sitaware.core.models import ChangeEntry
    from sitaware.records.models import Record, RecordRevision

    return Record.objects.count(), RecordRevision.objects.count(), ChangeEntry.objects.count()


def _post(client: Client, path: str, body) -> object:
    return client.post(f"{API}{path}", body, content_type="application/json")


def _patch(client: Client, path: str, body) -> object:
    return client.patch(f"{API}{path}", body, content_type="application/json")


def _problem(response, field: str, words: str) -> bool:
    return any(p["field"] == field and words in p["message"] for p in response.json()["errors"])


# ---------------------------------------------------------------- create


def test_it_creates_a_record_and_answers_201_with_it(client_for):
    ana = client_for("ana")
    before = _counts()
    response = _post(ana, "/records", record_payload(title="Robbery at the market"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Robbery at the market"
    assert body["status"] == "draft" and body["version"] == 1
    assert body["organisation"] == "unpol" and body["reporting_unit"] == "bangui-hq"
    assert body["source_identity"] == "informant 7"  # the author has need to know
    assert _counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert ana.get(f"{API}/records/{body['id']}").json()["title"] == "Robbery at the market"


def test_retrying_a_create_with_the_same_client_id_makes_no_duplicate(client_for):
    ana = client_for("ana")
    record_id = str(uuid.uuid4())
    first = _post(ana, "/records", record_payload(id=record_id))
    after_first = _counts()
    retry = _post(ana, "/records", record_payload(id=record_id))
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == record_id == first.json()["id"]
    assert _counts() == after_first


def test_another_author_cannot_reuse_a_taken_record_id(client_for):
    record_id = str(uuid.uuid4())
    assert _post(client_for("ana"), "/records", record_payload(id=record_id)).status_code == 201
    sam = client_for("sam")
    before = _counts()
    response = _post(sam, "/records", record_payload(id=record_id))
    assert response.status_code == 400
    assert _problem(response, "id", "already taken")
    assert _counts() == before


BAD_CREATE = [
    ({"narrative": "x" * 20_001}, "narrative", "at most 20000 characters"),
    ({"latitude": 91}, "latitude", "give 90 or less"),
    ({"longitude": -180.5}, "longitude", "give -180 or more"),
    ({"latitude": "north"}, "latitude", "give a number"),
    ({"information_credibility": "high"}, "information_credibility", "give a whole number"),
    ({"category": "police.unicorn_theft"}, "category", "not a category of sitaware-default@1.0"),
    ({"occurred_at": "2026-01-05T10:00:00"}, "occurred_at", "needs a time zone"),
    ({"casualties": {"civilians": {"killed": -2}}}, "casualties.civilians.killed", "give 0 or more"),
    ({"favourite_colour": "blue"}, "favourite_colour", "not a field of this form"),
    ({"sensitivity": "top secret"}, "sensitivity", "public, restricted, confidential"),
]


@pytest.mark.parametrize(("override", "field", "words"), BAD_CREATE)
def test_bad_input_to_create_is_a_400_naming_the_field_and_writes_nothing(override, field, words, client_for):
    ana = client_for("ana")
    before = _counts()
    response = _post(ana, "/records", record_payload(**override))
    assert response.status_code == 400, response.content
    assert _problem(response, field, words), response.json()
    assert _counts() == before


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ("{not json", "body", "not valid JSON"),
        ("[1, 2, 3]", "request", "give an object"),
        ("", "request", "send a JSON object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400_and_writes_nothing(body, field, words, client_for):
    ana = client_for("ana")
    before = _counts()
    response = _post(ana, "/records", body)
    assert response.status_code == 400
    assert _problem(response, field, words), response.json()
    assert _counts() == before


def test_a_role_that_may_not_create_gets_403_and_nothing_is_written(client_for):
    cora = client_for("cora")  # commanders read and decide; they do not write records
    before = _counts()
    response = _post(cora, "/records", record_payload())
    assert response.status_code == 403
    assert "may not create" in response.json()["detail"]
    assert _counts() == before


# ---------------------------------------------------------------- read


def test_an_out_of_scope_record_is_404_with_the_same_body_as_a_missing_one(client_for, make_record):
    hidden = make_record("hana", category="police.theft")  # an HSP draft: UNPOL may not know it exists
    missing = uuid.uuid4()
    ana = client_for("ana")
    out_of_scope = ana.get(f"{API}/records/{hidden.id}")
    nowhere = ana.get(f"{API}/records/{missing}")
    assert out_of_scope.status_code == nowhere.status_code == 404
    assert out_of_scope.json()["detail"].replace(str(hidden.id), "ID") == nowhere.json()["detail"].replace(
        str(missing), "ID")
    assert set(out_of_scope.json()) == set(nowhere.json()) == {"detail"}
    assert client_for("hugo").get(f"{API}/records/{hidden.id}").status_code == 200
    assert ana.get(f"{API}/records/not-a-uuid").status_code == 404


def test_source_identity_is_withheld_from_readers_without_need_to_know(client_for, make_record):
    record = make_record("ana", status="verified")
    cora = client_for("cora").get(f"{API}/records/{record.id}").json()
    ana = client_for("ana").get(f"{API}/records/{record.id}").json()
    assert cora["source_identity"] is None and "source_identity" in cora["redacted_fields"]
    assert ana["source_identity"] == "informant 7" and ana["redacted_fields"] == []


# ---------------------------------------------------------------- change


def test_it_changes_a_record_as_a_new_version(client_for, make_record):
    record = make_record("ana")
    ana = client_for("ana")
    response = _patch(ana, f"/records/{record.id}", {"base_version": 1, "title": "Robbery, two suspects"})
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2 and response.json()["title"] == "Robbery, two suspects"
    revisions = ana.get(f"{API}/records/{record.id}/revisions").json()["items"]
    assert [r["version"] for r in revisions] == [1, 2]
    assert revisions[0]["snapshot"]["title"] == "Armed robbery at PK5 market"
    assert revisions[1]["changed_fields"] == ["title"]


def test_a_stale_base_version_is_a_409_with_the_current_version(client_for, make_record):
    record = make_record("ana")
    ana = client_for("ana")
    assert _patch(ana, f"/records/{record.id}", {"base_version": 1, "title": "first edit"}).status_code == 200
    before = _counts()
    response = _patch(ana, f"/records/{record.id}", {"base_version": 1, "title": "second edit"})
    assert response.status_code == 409
    assert response.json()["current_version"] == 2 and response.json()["base_version"] == 1
    assert "reload" in response.json()["detail"]
    assert _counts() == before


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"title": "no version"}, "base_version", "this field is required"),
        ({"base_version": 1, "latitude": 100}, "latitude", "give 90 or less"),
        ({"base_version": 1, "category": "police.unicorn_theft"}, "category", "not a category"),
        ({"base_version": 1, "occurred_at": "2026-01-05T10:00:00"}, "occurred_at", "needs a time zone"),
        ({"base_version": 1, "narrative": "x" * 20_001}, "narrative", "at most 20000 characters"),
    ],
)
def test_bad_input_to_a_change_is_a_400_and_writes_nothing(body, field, words, client_for, make_record):
    record = make_record("ana")
    ana = client_for("ana")
    before = _counts()
    response = _patch(ana, f"/records/{record.id}", body)
    assert response.status_code == 400, response.content
    assert _problem(response, field, words), response.json()
    assert _counts() == before


@pytest.mark.parametrize(("body", "field", "english", "french"), [
    ({"title": "no version"}, "base_version", "this field is required", "ce champ est obligatoire"),
    ({"base_version": "one"}, "base_version", "give a whole number", "donnez un nombre entier"),
    ({"base_version": 1, "latitude": 100}, "latitude", "give 90 or less", "donnez 90 ou moins"),
    ({"base_version": 1, "occurred_at": "yesterday"}, "occurred_at", "give a date and time",
     "donnez une date et une heure"),
])
def test_schema_problems_are_in_words_and_in_the_callers_language(body, field, english, french, client_for,
                                                                    make_record):
    record = make_record("ana")
    ana = client_for("ana")
    assert _problem(_patch(ana, f"/records/{record.id}", body), field, english)
    answer = ana.patch(f"{API}/records/{record.id}", body, content_type="application/json",
                       HTTP_ACCEPT_LANGUAGE="fr")
    assert answer.status_code == 400 and _problem(answer, field, french), answer.json()


def test_changing_an_out_of_scope_record_is_404(client_for, make_record):
    hidden = make_record("hana")
    response = _patch(client_for("ana"), f"/records/{hidden.id}", {"base_version": 1, "title": "x"})
    assert response.status_code == 404


# ---------------------------------------------------------------- transitions


def test_it_moves_a_record_through_its_workflow(client_for, make_record):
    record = make_record("ana")
    ana, sam = client_for("ana"), client_for("sam")
    submitted = _post(ana, f"/records/{record.id}/transitions", {"to": "in_review", "reason": "ready"})
    assert submitted.status_code == 200 and submitted.json()["status"] == "in_review"
    verified = _post(sam, f"/records/{record.id}/transitions", {"to": "verified", "base_version": 2})
    assert verified.status_code == 200 and verified.json()["version"] == 3
    revisions = ana.get(f"{API}/records/{record.id}/revisions").json()["items"]
    assert [(r["version"], r["snapshot"]["status"]) for r in revisions] == [
        (1, "draft"), (2, "in_review"), (3, "verified")]
    assert revisions[1]["reason"] == "ready"


def test_transitions_refuse_what_the_workflow_or_role_does_not_allow(client_for, make_record):
    record = make_record("ana")
    submitted_by_rita = make_record("rita", status="in_review")
    ana, rita = client_for("ana"), client_for("rita")
    before = _counts()
    unknown = _post(ana, f"/records/{record.id}/transitions", {"to": "approved"})
    skip = _post(ana, f"/records/{record.id}/transitions", {"to": "published"})
    stale = _post(ana, f"/records/{record.id}/transitions", {"to": "in_review", "base_version": 7})
    not_a_reviewer = _post(rita, f"/records/{submitted_by_rita.id}/transitions", {"to": "verified"})
    assert unknown.status_code == 400 and _problem(unknown, "to", "'draft', 'in_review'")
    assert skip.status_code == 409 and "cannot go from draft to published" in skip.json()["detail"]
    assert stale.status_code == 409 and stale.json()["current_version"] == 1
    assert not_a_reviewer.status_code == 403 and "may not review" in not_a_reviewer.json()["detail"]
    assert _counts() == before


def test_revisions_of_an_out_of_scope_record_are_404(client_for, make_record):
    hidden = make_record("hana")
    assert client_for("ana").get(f"{API}/records/{hidden.id}/revisions").status_code == 404


# ---------------------------------------------------------------- list


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def test_cursor_pages_walk_every_record_exactly_once(world, actor, client_for):
    from sitaware.records import services

    ana_actor = actor("ana")
    base = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    made = set()
    for i in range(120):
        # Records share timestamps three by three, so the id must break ties in the page order.
        when = base - dt.timedelta(hours=i // 3)
        made.add(str(services.create_record(ana_actor, record_payload(occurred_at=when.isoformat())).id))
    ana = client_for("ana")
    seen: list[str] = []
    sizes = []
    cursor = None
    while True:
        query = f"?limit=50&cursor={cursor}" if cursor else "?limit=50"
        page = ana.get(f"{API}/records{query}").json()
        sizes.append(len(page["items"]))
        seen.extend(item["id"] for item in page["items"])
        times = [item["occurred_at"] for item in page["items"]]
        assert times == sorted(times, reverse=True)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [50, 50, 20]
    assert len(seen) == len(set(seen)) == 120
    assert set(seen) == made


@pytest.fixture
def spread(make_record):
    """Records that differ in one attribute each, to see every filter narrow."""
    now = dt.datetime.now(dt.UTC)
    return {
        "bangui": make_record("ana", occurred_at=(now - dt.timedelta(days=2)).isoformat()),
        "bria": make_record("ana", latitude=6.5389, longitude=21.9866, place_name="Bria", title="Theft in Bria",
                            narrative="Goats stolen near the airfield.", reporting_unit="bria",
                            occurred_at=(now - dt.timedelta(days=40)).isoformat()),
        "patrol": make_record("ana", kind="activity", category="activity.patrol.foot", source_type="patrol_report",
                              title="Foot patrol", narrative="Quiet night.", status="published",
                              sensitivity="public", occurred_at=(now - dt.timedelta(days=5)).isoformat()),
        "clash": make_record("ana", kind="event", category="conflict.battles.armed_clash", source_type="media",
                             sensitivity="confidential", title="Clashes reported", narrative="Exchange of fire.",
                             occurred_at=(now - dt.timedelta(days=10)).isoformat()),
    }


def test_each_filter_narrows_the_list(spread, client_for):
    ana = client_for("ana")
    ids = {name: str(r.id) for name, r in spread.items()}
    now = dt.datetime.now(dt.UTC)
    expectations = {
        "bbox=21,6,23,7": {"bria"},
        f"since={(now - dt.timedelta(days=7)).isoformat().replace('+', '%2B')}": {"bangui", "patrol"},
        f"until={(now - dt.timedelta(days=7)).isoformat().replace('+', '%2B')}": {"bria", "clash"},
        "kind=activity": {"patrol"},
        "kind=event&kind=activity": {"patrol", "clash"},
        "kind=event,activity": {"patrol", "clash"},
        "category=conflict.battles": {"clash"},  # a parent selects its children
        "category=police.armed_robbery,activity.patrol": {"bangui", "bria", "patrol"},
        "status=published": {"patrol"},
        "sensitivity=public": {"patrol"},
        "sensitivity=2": {"clash"},
        "source_type=media": {"clash"},
        "unit=bria": {"bria"},
        "q=goats airfield": {"bria"},
        "q=exchange": {"clash"},
        "kind=incident&unit=bangui-hq": {"bangui"},
    }
    for query, expected in expectations.items():
        assert _ids(ana.get(f"{API}/records?{query}")) == {ids[n] for n in expected}, query


def test_a_timestamp_with_an_unescaped_plus_is_read_as_its_zone(spread, client_for):
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).astimezone(dt.timezone(dt.timedelta(hours=1)))
    raw = since.replace(microsecond=0).isoformat()  # "...+01:00", whose + a careless client leaves unescaped
    assert _ids(client_for("ana").get(f"{API}/records?since={raw}")) == {
        str(spread["bangui"].id), str(spread["patrol"].id)}


def test_the_list_counts_on_request_and_leaves_out_what_is_out_of_scope(spread, client_for, make_record):
    hidden = make_record("hana")
    ana = client_for("ana")
    page = ana.get(f"{API}/records?count=true").json()
    assert page["count"] == 4 and len(page["items"]) == 4
    assert str(hidden.id) not in {item["id"] for item in page["items"]}
    assert ana.get(f"{API}/records").json()["count"] is None


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("colour=blue", "colour", "unknown query parameter"),
        ("since=2026-01-01T00:00:00", "since", "add a time zone"),
        ("until=yesterday", "until", "not an ISO 8601 timestamp"),
        ("since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until", "later than since"),
        ("bbox=1,2,3", "bbox", "four numbers"),
        ("bbox=10,20,5,30", "bbox", "antimeridian"),
        ("kind=rumour", "kind", "unknown kind 'rumour'"),
        ("status=approved", "status", "unknown status 'approved'"),
        ("category=police.unicorn_theft", "category", "unknown category"),
        ("sensitivity=secret", "sensitivity", "unknown sensitivity"),
        ("source_type=pigeon", "source_type", "unknown source_type"),
        ("limit=0", "limit", "give 1 or more"),
        ("limit=501", "limit", "give 500 or less"),
        ("limit=many", "limit", "give a whole number"),
        ("cursor=garbage", "cursor", "not a cursor"),
    ],
)
def test_bad_list_parameters_are_a_400_naming_them(query, field, words, client_for):
    response = client_for("ana").get(f"{API}/records?{query}")
    assert response.status_code == 400, response.content
    assert _problem(response, field, words), response.json()


# ---------------------------------------------------------------- taxonomies


def test_taxonomies_are_listed_with_categories_and_labels_in_english_and_french(client_for):
    ana = client_for("ana")
    listed = ana.get(f"{API}/taxonomies").json()["items"]
    default = next(t for t in listed if t["key"] == "sitaware-default@1.0")
    assert default["default"] is True
    one = ana.get(f"{API}/taxonomies/sitaware-default@1.0").json()
    categories = {c["code"]: c for c in one["categories"]}
    assert categories["conflict.battles.armed_clash"]["parent"] == "conflict.battles"
    assert categories["conflict.battles.armed_clash"]["acled"] == "Armed clash"
    assert categories["police.abduction"]["label"]["fr"] and categories["police.abduction"]["label"]["en"]
    assert one["categories"] == default["categories"]


def test_an_unknown_taxonomy_is_404_naming_the_known_ones(client_for):
    response = client_for("ana").get(f"{API}/taxonomies/sitaware-default@9.9")
    assert response.status_code == 404
    assert "sitaware-default@1.0" in response.json()["detail"]
