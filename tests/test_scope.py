"""Scope matrix (R-SA-06): role x action x own/other organisation x sensitivity x status.

The expectations below are written out as the policy a reader can check against docs/architecture.md,
not derived from the code under test.
"""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import PermissionDenied

from tests.conftest import record_payload

SENSITIVITIES = (0, 1, 2, 3)
STATUSES = ("draft", "in_review", "verified", "published")
# persona: (organisation, unit, role, clearance) — mirrors tests/conftest.py
PERSONAS = {
    "rita": ("unpol", "bangui-hq", "reporter", 1),
    "rex": ("unpol", "bria", "reporter", 1),
    "ana": ("unpol", "bangui-hq", "analyst", 2),
    "sam": ("unpol", "bangui-hq", "supervisor", 3),
    "cora": ("unpol", "bangui-hq", "commander", 3),
    "otto": ("unpol", "bangui-hq", "oversight_officer", 3),
    "adam": ("unpol", "bangui-hq", "administrator", 2),
    "hugo": ("hsp", "cnp-bangui", "analyst", 3),
    "hana": ("hsp", "cnp-bangui", "reporter", 1),
}
# Records are written by a supervisor of each organisation's first unit (sam for unpol, sara for hsp).
AUTHOR_UNIT = {"unpol": "bangui-hq", "hsp": "cnp-bangui"}
AGREEMENT = {"provider": "hsp", "recipient": "unpol", "max_sensitivity": 1, "statuses": {"verified", "published"}}


def may_see(persona: str, org: str, sensitivity: int, status: str) -> bool:
    p_org, p_unit, role, clearance = PERSONAS[persona]
    if org == p_org:
        if sensitivity > clearance:
            return False
        same_unit = AUTHOR_UNIT[org] == p_unit
        if role == "reporter":
            return same_unit or status in ("published", "archived")
        return status != "draft" or same_unit
    if AGREEMENT["provider"] == org and AGREEMENT["recipient"] == p_org:
        return sensitivity <= min(AGREEMENT["max_sensitivity"], clearance) and status in AGREEMENT["statuses"]
    return False


@pytest.fixture
def corpus(world, actor):
    """One record per organisation x sensitivity x status."""
    from sitaware.core.scope import system_actor
    from sitaware.records import services

    made = {}
    authors = {"unpol": "sam", "hsp": "sara"}
    for org, sensitivity, status in itertools.product(("unpol", "hsp"), SENSITIVITIES, STATUSES):
        record = services.create_record(
            actor(authors[org]), record_payload(sensitivity=sensitivity, title=f"{org}-{sensitivity}-{status}")
        )
        for step in STATUSES[1 : STATUSES.index(status) + 1]:
            record = services.transition(system_actor("test"), record.id, step)
        made[(org, sensitivity, status)] = record
    return made


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_each_persona_sees_exactly_what_the_policy_allows(persona, corpus, actor):
    from sitaware.records import services
    from sitaware.records.errors import RecordNotFound

    me = actor(persona)
    expected = {r.id for key, r in corpus.items() if may_see(persona, *key)}
    listed = set()
    cursor = None
    while True:
        page = services.list_records(me, services.RecordFilter(), cursor=cursor, limit=7)
        listed |= {item["id"] for item in page.items}
        cursor = page.next_cursor
        if not cursor:
            break
    assert listed == {str(i) for i in expected}
    assert services.count_records(me, services.RecordFilter()) == len(expected)
    for record in corpus.values():
        if record.id in expected:
            assert services.get_record(me, record.id).id == record.id
        else:
            with pytest.raises(RecordNotFound):
                services.get_record(me, record.id)


def test_an_outsider_cannot_tell_a_hidden_record_from_a_missing_one(corpus, actor):
    import uuid

    from sitaware.records import services
    from sitaware.records.errors import RecordNotFound

    hidden = corpus[("unpol", 0, "published")]
    with pytest.raises(RecordNotFound) as hidden_error:
        services.get_record(actor("hugo"), hidden.id)
    missing = uuid.uuid4()
    with pytest.raises(RecordNotFound) as missing_error:
        services.get_record(actor("hugo"), missing)
    assert str(hidden_error.value).replace(str(hidden.id), "X") == str(missing_error.value).replace(str(missing), "X")


def test_source_identity_is_shown_only_to_those_with_need_to_know(corpus, actor):
    from sitaware.records import services

    record = corpus[("unpol", 1, "published")]
    assert services.read_record(actor("sam"), record.id)["source_identity"] == "informant 7"  # author
    for persona in ("ana", "cora", "otto", "adam", "rita"):
        data = services.read_record(actor(persona), record.id)
        assert data["source_identity"] is None, persona
        assert "source_identity" in data["redacted_fields"]


def test_a_partner_gets_the_record_with_agreed_fields_redacted_and_the_access_is_logged(corpus, actor, world):
    from sitaware.core.models import AccessEvent
    from sitaware.records import services

    record = corpus[("hsp", 1, "published")]
    data = services.read_record(actor("ana"), record.id)
    assert data["narrative"] is None and data["source_identity"] is None
    assert data["title"] == "hsp-1-published"
    event = AccessEvent.objects.get(object_id=str(record.id))
    assert event.user == world.users["ana"]
    assert event.agreement == world.agreement
    assert set(event.redacted_fields) == {"narrative", "source_identity"}


def test_a_lapsed_agreement_shares_nothing(corpus, actor, world):
    import datetime as dt

    from django.utils import timezone

    from sitaware.records import services

    world.agreement.valid_until = timezone.now() - dt.timedelta(seconds=1)
    world.agreement.save()
    ids = {i["id"] for i in services.list_records(actor("ana"), services.RecordFilter(), limit=500).items}
    assert not ids & {str(r.id) for (org, *_), r in corpus.items() if org == "hsp"}


WRITE_MATRIX = {
    # role: (create, change any in own org, submit, review/verify, publish, archive)
    "reporter": (True, False, True, False, False, False),
    "analyst": (True, True, True, False, False, False),
    "supervisor": (True, True, True, True, True, True),
    "commander": (False, False, False, False, True, False),
    "oversight_officer": (False, False, False, False, False, False),
    "administrator": (False, False, False, False, False, False),
}
PERSONA_FOR_ROLE = {"reporter": "rita", "analyst": "ana", "supervisor": "sam", "commander": "cora",
                    "oversight_officer": "otto", "administrator": "adam"}


@pytest.mark.parametrize("role", sorted(WRITE_MATRIX))
def test_each_role_can_write_exactly_what_the_policy_allows(role, world, actor):
    from sitaware.core.scope import system_actor
    from sitaware.records import services
    from sitaware.records.errors import RecordNotFound

    me = actor(PERSONA_FOR_ROLE[role])
    create, change, submit, review, publish, archive = WRITE_MATRIX[role]

    def attempt(fn) -> bool:
        try:
            fn()
            return True
        except PermissionDenied:
            return False

    assert attempt(lambda: services.create_record(me, record_payload(sensitivity=0))) == create

    system = system_actor("test")
    other_author = services.create_record(actor("sam"), record_payload(sensitivity=0))
    assert attempt(lambda: services.update_record(me, other_author.id, {"base_version": 1, "title": "x"})) == change

    draft = services.create_record(actor("sam"), record_payload(sensitivity=0))
    assert attempt(lambda: services.transition(me, draft.id, "in_review")) == submit

    in_review = services.transition(system, services.create_record(actor("sam"), record_payload(sensitivity=0)).id,
                                    "in_review")
    assert attempt(lambda: services.transition(me, in_review.id, "verified")) == review

    verified = services.transition(system, in_review.id, "verified") if not review else None
    verified = verified or services.get_record(system, in_review.id)
    if verified.status != "verified":
        verified = services.transition(system, verified.id, "verified")
    assert attempt(lambda: services.transition(me, verified.id, "published")) == publish

    published = services.get_record(system, verified.id)
    if published.status != "published":
        published = services.transition(system, published.id, "published")
    assert attempt(lambda: services.transition(me, published.id, "archived")) == archive

    # Another organisation's records are never writable, whatever the role (and unseen ones are 404).
    foreign = services.create_record(actor("sara"), record_payload(sensitivity=0))
    with pytest.raises((PermissionDenied, RecordNotFound)):
        services.update_record(me, foreign.id, {"base_version": 1, "title": "x"})


def test_a_reporter_edits_their_own_draft_but_not_once_it_is_verified(world, actor):
    from sitaware.core.scope import system_actor
    from sitaware.records import services

    record = services.create_record(actor("rita"), record_payload())
    record = services.update_record(actor("rita"), record.id, {"base_version": 1, "title": "typo fixed"})
    services.transition(actor("rita"), record.id, "in_review")
    services.transition(system_actor("test"), record.id, "verified")
    with pytest.raises(PermissionDenied):
        services.update_record(actor("rita"), record.id, {"base_version": 4, "title": "again"})


def test_nobody_can_file_a_record_above_their_clearance(world, actor):
    from sitaware.records import services
    from sitaware.records.errors import RecordValidationError

    with pytest.raises(RecordValidationError, match="sensitivity"):
        services.create_record(actor("rita"), record_payload(sensitivity="confidential"))


def test_a_reporter_cannot_file_for_another_unit(world, actor):
    from sitaware.records import services

    with pytest.raises(PermissionDenied):
        services.create_record(actor("rita"), record_payload(reporting_unit="bria"))


def test_a_user_without_membership_has_no_access(db):
    from django.contrib.auth import get_user_model

    from sitaware.core.scope import actor_for

    user = get_user_model().objects.create_user(username="stray", password="x" * 12)
    with pytest.raises(PermissionDenied):
        actor_for(user)


def test_the_change_log_is_narrowed_to_the_readers_scope(corpus, actor, world):
    from sitaware.core.services import changes_for

    visible_to_hugo = {str(r.id) for key, r in corpus.items() if may_see("hugo", *key)}
    seen = {e.object_id for e in changes_for(actor("hugo"), limit=1000)}
    assert seen == visible_to_hugo
    # Oversight officers also see their organisation's non-record entries (user and token changes), others do not.
    from sitaware.core.services import create_token

    create_token(world.users["ana"], "laptop")
    assert any(e.object_type == "api_token" for e in changes_for(actor("otto"), limit=1000))
    assert not any(e.object_type == "api_token" for e in changes_for(actor("sam"), limit=1000))
    assert not any(e.object_type == "api_token" for e in changes_for(actor("hugo"), limit=1000))


def test_history_does_not_leak_an_earlier_more_sensitive_version(world, actor):
    from sitaware.records import services

    record = services.create_record(actor("sam"), record_payload(sensitivity="confidential",
                                                                 narrative="Names the informant's village."))
    services.update_record(actor("sam"), record.id, {"base_version": 1, "sensitivity": "restricted",
                                                     "narrative": "Sanitised account."})
    services.transition(actor("sam"), record.id, "in_review")
    revs = services.revisions(actor("rita"), record.id)  # clearance: restricted
    assert revs[0]["snapshot"] == {"version": 1, "withheld": True}
    assert revs[1]["snapshot"]["narrative"] == "Sanitised account."
    assert "Names the informant" not in str(revs)


def test_a_partner_sees_no_history_from_before_the_record_was_shared(world, actor):
    from sitaware.core.scope import system_actor
    from sitaware.records import services

    record = services.create_record(actor("sara"), record_payload(sensitivity="public", title="draft wording"))
    for step in ("in_review", "verified"):
        services.transition(system_actor("test"), record.id, step)
    revs = services.revisions(actor("ana"), record.id)
    assert [r["snapshot"].get("withheld", False) for r in revs] == [True, True, False]
    assert revs[2]["snapshot"]["narrative"] is None  # withheld by the agreement
