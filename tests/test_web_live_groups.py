"""The live feed's shared reads: viewers of one scope group share one read of the change log, and each still gets
exactly what the per-viewer rule gives them (their own drafts included, redactions per viewer)."""

from __future__ import annotations

import itertools

import pytest

STATUSES = ("draft", "in_review", "published")
AUTHORS = ("rita", "rita2", "rex", "ana", "ana2", "sam", "hana", "sara")
SENSITIVITIES = ("restricted", "confidential")


@pytest.fixture
def twins(world):
    """A second reporter and a second analyst with exactly rita's and ana's memberships: same scope group."""
    from django.contrib.auth import get_user_model

    from sitaware.core.models import Membership

    for twin, of in (("rita2", "rita"), ("ana2", "ana")):
        user = get_user_model().objects.create_user(username=twin, password=None)
        original = world.users[of].membership
        Membership.objects.create(user=user, organisation=original.organisation, unit=original.unit,
                                  role=original.role, clearance=original.clearance)
        world.users[twin] = user
    return world


@pytest.fixture
def corpus(twins, make_record):
    """Every author x status x sensitivity a reporter or supervisor may file, in their own unit."""
    made = []
    for author, status, sensitivity in itertools.product(AUTHORS, STATUSES, SENSITIVITIES):
        clearance = twins.users[author].membership.clearance
        if {"restricted": 1, "confidential": 2}[sensitivity] > clearance:
            continue
        made.append(make_record(author=author, status=status, sensitivity=sensitivity,
                                title=f"{author} {status} {sensitivity}"))
    # A supervisor's draft filed for another unit: its author sees it only as its author.
    made.append(make_record(author="sam", reporting_unit="bria", title="sam draft for bria"))
    return made


def _per_viewer(actor, after: int) -> list[dict]:
    """The per-viewer answer, from scratch: the viewer's own scoped read and their own Redactor."""
    from sitaware.core.models import ChangeEntry
    from sitaware.records import services as records
    from sitaware.web import services

    entries = list(ChangeEntry.objects.filter(seq__gt=after).order_by("seq"))
    rows = services.visible_records(actor, {e.record_id for e in entries})
    return services._events(actor, entries, rows, records.Redactor.for_actor(actor))


@pytest.fixture(autouse=True)
def _reuse_on(monkeypatch):
    # Whatever a deployment sets, these tests check that the shared read gives each viewer exactly their answer.
    from sitaware.web import services

    monkeypatch.setattr(services, "GROUP_READ_SECONDS", 0.25)
    services._GROUP_READS.clear()


VIEWERS = ["rita", "rita2", "rex", "ana", "ana2", "sam", "cora", "otto", "adam", "hugo", "hana", "sara"]


def test_every_viewer_gets_exactly_the_per_viewer_answer(corpus, actor):
    from sitaware.records import services as records
    from sitaware.web import services

    services._GROUP_READS.clear()
    # Serve the twins first, so a viewer of a shared group is answered from a read made for someone else.
    for name in ("rita2", "rita", "ana2", "ana"):
        services.feed_batch(actor(name), 0, limit=10_000)
    for viewer in VIEWERS:
        me = actor(viewer)
        got = services.feed_batch(me, 0, limit=10_000).events
        assert got == _per_viewer(me, 0), viewer
        # And the records are exactly those scope gives this viewer.
        in_scope = {str(i) for i in records.scoped_records(me).values_list("id", flat=True)}
        assert {e["record"]["id"] for e in got if e["action"] == "record.create"} == in_scope, viewer
        assert got, f"{viewer}: the corpus must give every viewer something to see"


def test_authors_see_their_own_drafts_and_their_twins_do_not(corpus, actor):
    from sitaware.web import services

    services._GROUP_READS.clear()
    titles = {name: {e["record"]["title"] for e in services.feed_batch(actor(name), 0, limit=10_000).events}
              for name in ("rex", "ana", "ana2")}
    # rex (Bria) files drafts in Bria: the HQ analysts do not see them; rex does.
    assert "rex draft restricted" in titles["rex"]
    assert not any(t.startswith("rex draft") for t in titles["ana"] | titles["ana2"])
    # Both analysts see the HQ unit's drafts (a unit's drafts are the unit's), including each other's.
    assert "ana draft restricted" in titles["ana2"] and "ana2 draft restricted" in titles["ana"]
    # sam's draft for Bria: sam and Bria's reporter see it, HQ's analysts do not.
    assert "sam draft for bria" in titles["rex"]
    assert "sam draft for bria" not in titles["ana"] | titles["ana2"]
    sam = {e["record"]["title"] for e in services.feed_batch(actor("sam"), 0, limit=10_000).events}
    assert "sam draft for bria" in sam


def test_a_write_after_a_shared_read_is_not_hidden_by_it(world, actor, make_record):
    from sitaware.web import services

    services._GROUP_READS.clear()
    start = services.current_head()
    assert services.feed_batch(actor("ana"), start).events == []
    record = make_record(author="sam", status="verified")
    # Within the reuse window: the head moved, so the read is new.
    events = services.feed_batch(actor("ana"), start).events
    assert events and {e["record"]["id"] for e in events} == {str(record.id)}


def test_visibility_is_the_group_rule_plus_the_authors_own(corpus, actor):
    from sitaware.core.scope import authored_q, visibility_q
    from sitaware.records.models import Record

    for name in ("rita", "rita2", "rex", "ana", "ana2", "sam", "otto", "hugo", "hana"):
        me = actor(name)
        whole = set(Record.objects.filter(visibility_q(Record, me)).values_list("id", flat=True))
        group = set(Record.objects.filter(visibility_q(Record, me, authored=False)).values_list("id", flat=True))
        own = set(Record.objects.filter(authored_q(Record, me)).values_list("id", flat=True))
        assert whole == group | own, name
    sam = actor("sam")
    only_as_author = set(Record.objects.filter(authored_q(Record, sam)).values_list("title", flat=True)) - set(
        Record.objects.filter(visibility_q(Record, sam, authored=False)).values_list("title", flat=True))
    assert only_as_author == {"sam draft for bria"}
