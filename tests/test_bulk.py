"""bulk_upsert, the importers' write path: counts, idempotency, row errors, and that every record it
writes has the same columns, revision and hash-chained change-log entry the one-record path gives it."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from tests.conftest import record_payload

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _rows(count: int, *, start: int = 0, **overrides) -> list[tuple[int, dict]]:
    return [
        (n, record_payload(external_source="ucdp", external_id=f"ged-{n}",
                           occurred_at=(NOW - dt.timedelta(hours=n + 1)).isoformat(), **overrides))
        for n in range(start, start + count)
    ]


def _counts():
    from sitaware.core.models import ChangeEntry
    from sitaware.records.models import Record, RecordRevision

    return Record.objects.count(), RecordRevision.objects.count(), ChangeEntry.objects.count()


def _columns(record) -> dict:
    return {f.attname: getattr(record, f.attname) for f in type(record)._meta.concrete_fields}


def test_it_creates_every_row_with_its_revision_and_change_log_entry(world, actor):
    from sitaware.core import changelog
    from sitaware.core.models import ChangeEntry
    from sitaware.records.bulk import bulk_upsert
    from sitaware.records.models import Record
    from sitaware.records.services import snapshot_of

    result = bulk_upsert(actor("ana"), _rows(25), reason="ucdp import")
    assert (result.created, result.updated, result.unchanged, result.errors) == (25, 0, 0, [])
    assert _counts() == (25, 25, 25)
    entries = {e.record_id: e for e in ChangeEntry.objects.all()}
    for record in Record.objects.select_related("organisation", "reporting_unit"):
        snapshot = snapshot_of(record)
        revision = record.revisions.get()
        assert (revision.version, revision.snapshot, revision.changed_fields) == (1, snapshot, [])
        assert (revision.reason, revision.actor_id, revision.actor_label) == ("ucdp import", world.users["ana"].pk,
                                                                                 "ana")
        entry = entries[record.id]
        assert revision.change_seq == entry.seq
        assert (entry.action, entry.object_type, entry.object_id) == ("record.create", "record", str(record.id))
        assert (entry.organisation_id, entry.sensitivity, entry.actor_id) == (world.unpol.pk, 1, world.users["ana"].pk)
        # The text kept is exactly what the one-entry path would have written (and hashed).
        assert entry.data == changelog.entry_data(None, snapshot, {"via": "ucdp import"})
    assert sorted(e.seq for e in entries.values()) == list(range(1, 26))
    assert changelog.verify().ok


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"casualties": {"civilians": {"killed": 2}, "un_personnel": {"injured": 1, "missing": 3}},
         "occurred_until": (NOW - dt.timedelta(hours=1)).isoformat(), "status": "published"},
        {"occurred_at": "2026-01-05T10:11:12.345678+01:00", "reported_at": "2026-01-06T08:00:00.5-05:00",
         "sensitivity": 0, "source_identity": "", "admin2": "Bangui 3", "reporting_unit": "bria"},
        {"casualties": {}, "latitude": 6.5423, "longitude": 21.9863, "title": "  padded  "},
    ],
    ids=["plain", "casualties-and-until", "offsets-and-microseconds", "empty-casualties"],
)
def test_a_bulk_record_is_identical_to_the_one_create_record_makes(overrides, world, actor):
    from sitaware.records import services
    from sitaware.records.bulk import bulk_upsert
    from sitaware.records.models import Record

    sam = actor("sam")
    payload = record_payload(**overrides)
    single = services.create_record(sam, {**payload, "id": str(uuid.uuid4())})
    result = bulk_upsert(sam, [(1, {**payload, "id": str(uuid.uuid4())})])
    assert result.created == 1, result.errors
    bulk = Record.objects.exclude(pk=single.pk).select_related("organisation", "reporting_unit").get()
    single.refresh_from_db()
    ignore = {"id", "created_at", "updated_at"} | ({"reported_at"} if "reported_at" not in overrides else set())
    assert {k: v for k, v in _columns(bulk).items() if k not in ignore} == {
        k: v for k, v in _columns(single).items() if k not in ignore}
    single_snapshot, bulk_snapshot = services.snapshot_of(single), services.snapshot_of(bulk)
    assert {k for k in single_snapshot if single_snapshot[k] != bulk_snapshot[k]} <= {"id", "reported_at"}
    assert bulk.revisions.get().snapshot == bulk_snapshot
    # Stored times compare and sort like the ORM's own: an exact-time lookup finds both records.
    assert set(Record.objects.filter(occurred_at=single.occurred_at).values_list("pk", flat=True)) == {
        single.pk, bulk.pk}


def test_importing_the_same_rows_again_creates_and_logs_nothing(world, actor):
    from sitaware.records.bulk import bulk_upsert

    bulk_upsert(actor("ana"), _rows(10))
    before = _counts()
    result = bulk_upsert(actor("ana"), _rows(10))
    assert (result.created, result.updated, result.unchanged, result.errors) == (0, 0, 10, [])
    assert _counts() == before


def test_a_changed_row_updates_its_record_with_a_new_revision_and_an_update_entry(world, actor):
    from sitaware.core import changelog
    from sitaware.core.models import ChangeEntry
    from sitaware.records import geo
    from sitaware.records.bulk import bulk_upsert
    from sitaware.records.models import Record

    bulk_upsert(actor("ana"), _rows(3))
    rows = _rows(3)
    rows[1][1].update(title="Corrected title", latitude=6.5423, longitude=21.9863)
    result = bulk_upsert(actor("ana"), rows + _rows(2, start=3), reason="second pass")
    assert (result.created, result.updated, result.unchanged, result.errors) == (2, 1, 2, [])
    record = Record.objects.get(external_id="ged-1")
    assert (record.version, record.title) == (2, "Corrected title")
    # The coarse cell the bbox filter narrows on follows the new place.
    assert (record.h3_cell, record.h3_coarse) == geo.cells_for(6.5423, 21.9863, 9)
    revision = record.revisions.get(version=2)
    assert revision.changed_fields == ["title", "latitude", "longitude", "h3_cell"]
    update = ChangeEntry.objects.get(action="record.update")
    assert revision.change_seq == update.seq
    assert update.payload["before"]["title"] == "Armed robbery at PK5 market"
    assert update.payload["after"] == {"title": "Corrected title", "latitude": 6.5423, "longitude": 21.9863,
                                       "h3_cell": geo.cell_hex(record.h3_cell), "version": 2}
    assert update.payload["extra"] == {"via": "second pass"}
    # The creates of a call are logged before its updates.
    assert [e.action for e in ChangeEntry.objects.order_by("seq")][-3:] == ["record.create", "record.create",
                                                                            "record.update"]
    assert changelog.verify().ok


BAD = [
    {"latitude": 91},
    {"category": "police.unicorn_theft"},
    {"kind": "activity"},
    {"occurred_at": "2026-01-05T10:00:00"},
    {"casualties": {"civilians": {"names": ["A. B."]}}},
    {"casualties": None},
    {"sensitivity": "strictly_confidential"},
    {"reporting_unit": "atlantis"},
    {"status": "published"},
    {"favourite_colour": "blue"},
]


def test_bad_rows_are_reported_one_by_one_with_the_messages_of_the_single_path_and_the_rest_written(world, actor):
    from django.core.exceptions import PermissionDenied

    from sitaware.records import services
    from sitaware.records.bulk import bulk_upsert
    from sitaware.records.errors import RecordValidationError

    rows = _rows(3)
    for number, bad in enumerate(BAD, start=100):
        rows.append((number, record_payload(external_source="ucdp", external_id=f"bad-{number}", **bad)))
    result = bulk_upsert(actor("ana"), rows)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    expected = []
    for number, bad in enumerate(BAD, start=100):
        try:
            services.create_record(actor("ana"), record_payload(**bad))
        except RecordValidationError as exc:
            expected.extend({"row": number, **p} for p in exc.problems)
        except PermissionDenied as exc:
            expected.append({"row": number, "field": "record", "message": str(exc)})
        else:
            pytest.fail(f"create_record accepted {bad}")
    assert result.errors == expected
    assert {e["row"] for e in result.errors} == set(range(100, 100 + len(BAD)))
    assert _counts() == (3, 3, 3)


def test_duplicate_external_ids_and_taken_ids_are_row_errors_not_aborts(world, actor, make_record):
    from sitaware.records.bulk import bulk_upsert

    existing = make_record()
    fresh = str(uuid.uuid4())
    rows = [
        (1, record_payload(external_source="acled", external_id="A1")),
        (2, record_payload(external_source="acled", external_id="A1", title="again")),
        (3, record_payload(id=str(existing.id), external_source="acled", external_id="A3")),
        (4, record_payload(id=fresh, external_source="acled", external_id="A4")),
        (5, record_payload(id=fresh, external_source="acled", external_id="A5")),
        (6, record_payload()),
    ]
    result = bulk_upsert(actor("ana"), rows)
    assert result.created == 3
    assert [(e["row"], e["field"]) for e in result.errors] == [(2, "external_id"), (3, "id"), (5, "id")]
    assert "appears twice" in result.errors[0]["message"]
    assert result.errors[1]["message"] == "this id is already taken"


def test_an_import_never_overwrites_a_record_its_importer_may_not_see_or_change(world, actor, make_record):
    from sitaware.records.bulk import bulk_upsert
    from sitaware.records.models import Record

    # Sam (clearance 3) holds a confidential record; Ana (clearance 2) imports a file carrying its external id.
    secret = make_record("sam", sensitivity=3, external_source="acled", external_id="S1", title="secret")
    # Rita, a reporter, may create but not change a published record of her organisation.
    published = make_record("ana", status="published", external_source="acled", external_id="P1", title="kept")
    result = bulk_upsert(actor("ana"), [(1, record_payload(external_source="acled", external_id="S1",
                                                           title="overwritten"))])
    assert (result.created, result.updated) == (0, 0)
    assert [(e["row"], e["field"]) for e in result.errors] == [(1, "external_id")]
    assert "may not change" in result.errors[0]["message"]
    result = bulk_upsert(actor("rita"), [(7, record_payload(external_source="acled", external_id="P1",
                                                            reporting_unit="bangui-hq", status="draft",
                                                            title="overwritten"))])
    assert (result.created, result.updated) == (0, 0)
    assert [(e["row"], e["field"]) for e in result.errors] == [(7, "external_id")]
    assert Record.objects.get(pk=secret.pk).title == "secret"
    assert Record.objects.get(pk=published.pk).title == "kept"


def test_a_reporter_files_only_for_their_own_unit_and_as_draft(world, actor):
    from sitaware.records.bulk import bulk_upsert
    from sitaware.records.models import Record

    result = bulk_upsert(actor("rex"), [
        (1, record_payload(reporting_unit="bria")),
        (2, record_payload(reporting_unit="bangui-hq")),
        (3, record_payload(status="verified")),
        (4, record_payload()),
    ])
    assert result.created == 2
    assert [(e["row"], e["field"]) for e in result.errors] == [(2, "record"), (3, "record")]
    assert set(Record.objects.values_list("reporting_unit__code", flat=True)) == {"bria"}


def test_a_role_that_may_not_create_is_refused_outright(world, actor):
    from django.core.exceptions import PermissionDenied

    from sitaware.records.bulk import bulk_upsert

    with pytest.raises(PermissionDenied):
        bulk_upsert(actor("otto"), _rows(2))
    assert _counts() == (0, 0, 0)


def test_a_failing_write_leaves_nothing_behind(world, actor, monkeypatch):
    from sitaware.core import changelog
    from sitaware.core.models import ChainHead
    from sitaware.records import bulk

    bulk.bulk_upsert(actor("ana"), _rows(2))
    head = ChainHead.objects.values_list("seq", "last_hash").get()
    before = _counts()
    real_insert = changelog.RawWriter.insert

    def failing(self, table, columns, rows):
        if table == "records_recordrevision":
            raise RuntimeError("disk full")
        return real_insert(self, table, columns, rows)

    monkeypatch.setattr(changelog.RawWriter, "insert", failing)
    monkeypatch.setattr(bulk, "PIPELINE_CHUNK", 2)
    with pytest.raises(RuntimeError, match="disk full"):
        bulk.bulk_upsert(actor("ana"), _rows(5, start=10))
    assert _counts() == before
    assert ChainHead.objects.values_list("seq", "last_hash").get() == head
    monkeypatch.undo()
    assert changelog.verify().ok


def test_bulk_and_single_writes_share_one_unbroken_chain(world, actor, monkeypatch):
    from sitaware.core import changelog
    from sitaware.core.models import ChangeEntry
    from sitaware.records import bulk, services

    # Small chunks, so one call links and writes several chunks in turn.
    monkeypatch.setattr(bulk, "PIPELINE_CHUNK", 4)
    services.create_record(actor("ana"), record_payload())
    bulk.bulk_upsert(actor("ana"), _rows(11))
    services.create_record(actor("ana"), record_payload())
    bulk.bulk_upsert(actor("sam"), _rows(5, start=20))
    assert list(ChangeEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 19))
    result = changelog.verify()
    assert result.ok and result.checked == 18


def test_the_bulk_column_list_is_the_record_model(db):
    from sitaware.records.bulk import RECORD_COLUMNS, REVISION_COLUMNS
    from sitaware.records.models import Record, RecordRevision

    assert sorted(RECORD_COLUMNS) == sorted(f.column for f in Record._meta.concrete_fields)
    revision_columns = [f.column for f in RecordRevision._meta.concrete_fields if f.column != "id"]
    assert sorted(REVISION_COLUMNS) == sorted(revision_columns)


def test_the_snapshot_text_is_canonical_json(world, actor):
    from sitaware.core.canonical import canonical_json
    from sitaware.records.bulk import bulk_upsert
    from sitaware.records.models import RecordRevision

    bulk_upsert(actor("sam"), [(1, record_payload(narrative="Déplacés « vers » l'église\n\"PK5\" \u2028 ok",
                                                  casualties={"armed_groups": {"killed": 4}}))])
    raw = RecordRevision.objects.values_list("snapshot", flat=True).get()
    stored = raw if isinstance(raw, dict) else json.loads(raw)
    from sitaware.core.models import ChangeEntry

    data = ChangeEntry.objects.get().data
    assert data == canonical_json({"before": None, "after": stored, "extra": {"via": "import"}})
