"""Change log (issue 2 point 3): every write appends a hash-chained entry; tampering is caught."""

from __future__ import annotations

import itertools
import threading

import pytest
from django.db import connection

from tests.conftest import record_payload


def test_every_kind_of_write_appends_an_entry_with_actor_time_before_after_and_request_id(world, actor):
    from sitaware.core.context import request_context
    from sitaware.core.models import ChangeEntry
    from sitaware.core.scope import system_actor
    from sitaware.core.services import create_user, set_membership
    from sitaware.records import services

    with request_context("req-123"):
        record = services.create_record(actor("ana"), record_payload())
        services.update_record(actor("ana"), record.id, {"base_version": 1, "title": "Changed"})
        services.transition(actor("ana"), record.id, "in_review")
        user = create_user(system_actor("console"), username="newbie", password=None,
                           organisation=world.unpol, role="reporter", unit=world.hq)
        set_membership(actor("adam"), user, role="analyst")
    entries = list(ChangeEntry.objects.order_by("seq"))
    assert [e.action for e in entries] == ["record.create", "record.update", "record.status", "user.create",
                                           "user.membership"]
    for entry in entries:
        assert entry.request_id == "req-123"
        assert entry.at is not None and entry.actor_label
        assert len(entry.hash) == 64
    create, update, status, _, membership = entries
    assert create.payload["before"] is None and create.payload["after"]["title"] == record.title
    assert update.payload["before"] == {"title": record.title, "version": 1}
    assert update.payload["after"] == {"title": "Changed", "version": 2}
    assert status.payload["after"]["status"] == "in_review"
    assert membership.payload["before"]["role"] == "reporter" and membership.payload["after"]["role"] == "analyst"
    assert membership.actor == world.users["adam"]
    for previous, entry in itertools.pairwise(entries):
        assert entry.prev_hash == previous.hash and entry.seq == previous.seq + 1


def test_verify_passes_on_an_untouched_chain(world, actor):
    from sitaware.core import changelog
    from sitaware.records import services

    for _ in range(5):
        services.create_record(actor("ana"), record_payload())
    result = changelog.verify()
    assert result.ok and result.checked == 5


@pytest.mark.parametrize(
    ("column", "value"),
    [("data", '{"after":{"title":"forged"},"before":null}'), ("actor_label", "mallory"), ("action", "record.view"),
     ("sensitivity", 0)],
)
def test_altering_a_row_with_raw_sql_is_caught_and_the_entry_named(column, value, world, actor):
    from sitaware.core import changelog
    from sitaware.records import services

    for _ in range(4):
        services.create_record(actor("ana"), record_payload(sensitivity=1))
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE core_changeentry SET {column} = %s WHERE seq = 3", [value])
    result = changelog.verify()
    assert not result.ok
    assert result.first_broken_seq == 3
    assert "does not match its hash" in result.reason


def test_deleting_an_entry_or_the_tail_is_caught(world, actor):
    from sitaware.core import changelog
    from sitaware.records import services

    for _ in range(4):
        services.create_record(actor("ana"), record_payload())
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_changeentry WHERE seq = 4")
    result = changelog.verify()
    assert not result.ok and result.first_broken_seq == 4
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_changeentry WHERE seq = 2")
    result = changelog.verify()
    assert not result.ok and result.first_broken_seq == 2 and "missing" in result.reason


@pytest.mark.django_db(transaction=True)
def test_appending_outside_a_transaction_is_refused():
    from sitaware.core import changelog
    from sitaware.core.changelog import PendingEntry

    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="inside the transaction"):
        changelog.append([PendingEntry("x", "y", "1")], actor_id=None, actor_label="x")


def test_entries_carry_the_origin_site_and_a_per_site_sequence(world, actor):
    from sitaware.core.models import ChangeEntry
    from sitaware.records import services

    services.create_record(actor("ana"), record_payload())
    services.create_record(actor("ana"), record_payload())
    rows = list(ChangeEntry.objects.values_list("origin_site", "origin_seq"))
    assert rows == [("hq", 1), ("hq", 2)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_lose_nothing_and_the_chain_stays_whole(world, actor):
    from django.db import connections

    from sitaware.core import changelog
    from sitaware.core.models import ChangeEntry
    from sitaware.records import services
    from sitaware.records.models import Record

    writers, per_writer = 6, 15
    failures: list[BaseException] = []
    names = ["ana", "sam", "rita", "ana", "sam", "rita"]
    barrier = threading.Barrier(writers)

    def write(name: str) -> None:
        try:
            me = actor(name)
            barrier.wait()
            for i in range(per_writer):
                record = services.create_record(me, record_payload(title=f"{name}-{i}", sensitivity=1))
                services.update_record(me, record.id, {"base_version": 1, "narrative": f"update {i}"})
        except BaseException as exc:  # collected and re-raised in the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in names[:writers]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    assert Record.objects.count() == writers * per_writer
    assert ChangeEntry.objects.count() == 2 * writers * per_writer
    assert list(ChangeEntry.objects.values_list("seq", flat=True)) == list(range(1, 2 * writers * per_writer + 1))
    assert changelog.verify().ok
