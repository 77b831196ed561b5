"""Records: R-SA-01 (kinds, versioned taxonomy), R-SA-02 (minimum fields), R-SA-03 (append-only history),
bad input (issue 2 point 8) and the sync-ready model (point 6)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from tests.conftest import record_payload

FIXTURES = Path(__file__).parent / "fixtures"


def _counts():
    from sitaware.core.models import ChangeEntry
    from sitaware.records.models import Record, RecordRevision

    return Record.objects.count(), RecordRevision.objects.count(), ChangeEntry.objects.count()


@pytest.mark.parametrize("missing", ["kind", "category", "taxonomy_version", "occurred_at", "latitude", "longitude"])
def test_it_rejects_a_record_without_a_required_field(missing, world, actor):
    from sitaware.records import services
    from sitaware.records.errors import RecordValidationError

    payload = record_payload()
    del payload[missing]
    before = _counts()
    with pytest.raises(RecordValidationError) as err:
        services.create_record(actor("ana"), payload)
    assert err.value.problems[0]["field"] == missing
    assert _counts() == before


BAD_INPUT = [
    ({"latitude": 91}, "latitude", "give 90 or less"),
    ({"longitude": -181}, "longitude", "give -180 or more"),
    ({"latitude": "north"}, "latitude", "give a number"),
    ({"latitude": 0, "longitude": 0}, "record", "missing location"),
    ({"category": "police.unicorn_theft"}, "category", "not a category of sitaware-default@1.0"),
    ({"kind": "activity"}, "kind", "is a incident, not a activity"),
    ({"taxonomy_version": "sitaware-default@9.9"}, "taxonomy_version", "unknown taxonomy version"),
    ({"occurred_at": "2026-01-05T10:00:00"}, "occurred_at", "needs a time zone"),
    ({"occurred_at": "yesterday"}, "occurred_at", "give a date and time"),
    ({"occurred_at": "2099-01-01T00:00:00Z"}, "record", "in the future"),
    ({"narrative": "x" * 20_001}, "narrative", "at most 20000 characters"),
    ({"title": "x" * 201}, "title", "at most 200 characters"),
    ({"source_reliability": "Z"}, "source_reliability", "'A', 'B', 'C', 'D', 'E' or 'F'"),
    ({"information_credibility": 7}, "information_credibility", "give 6 or less"),
    ({"sensitivity": "secret"}, "sensitivity", "public, restricted, confidential, strictly_confidential"),
    ({"casualties": {"civilians": {"killed": -1}}}, "casualties.civilians.killed", "give 0 or more"),
    ({"casualties": {"civilians": {"names": ["A. B."]}}}, "casualties.civilians.names", "not a field of this form"),
    ({"status": "approved"}, "status", "'draft', 'in_review'"),
    ({"favourite_colour": "blue"}, "favourite_colour", "not a field of this form"),
    ({"reporting_unit": "atlantis"}, "reporting_unit", "no unit 'atlantis'"),
    ({"external_id": "123"}, "record", "needs external_source"),
]


@pytest.mark.parametrize(("override", "field", "message"), BAD_INPUT)
def test_bad_input_is_refused_with_a_message_that_says_what_to_fix(override, field, message, world, actor):
    from sitaware.records import services
    from sitaware.records.errors import RecordValidationError

    before = _counts()
    with pytest.raises(RecordValidationError) as err:
        services.create_record(actor("ana"), record_payload(**override))
    problems = err.value.problems
    assert any(p["field"] == field and message in p["message"] for p in problems), problems
    assert _counts() == before


def test_a_record_keeps_every_minimum_field(world, actor):
    from sitaware.records import services

    record = services.create_record(
        actor("ana"),
        record_payload(casualties={"civilians": {"killed": 2, "injured": 1}, "security_forces": {"killed": 1}}),
    )
    data = services.read_record(actor("sam"), record.id)
    for name in ("id", "kind", "category", "taxonomy_version", "occurred_at", "time_precision", "reported_at",
                 "latitude", "longitude", "location_precision", "admin1", "narrative", "source_type",
                 "source_reliability", "information_credibility", "reporting_unit", "status", "sensitivity",
                 "h3_cell", "origin_site", "version"):
        assert data[name] not in (None, ""), name
    assert data["fatalities"] == 3
    assert data["casualties"] == {"civilians": {"killed": 2, "injured": 1}, "security_forces": {"killed": 1}}
    assert data["h3_cell"].startswith("89")  # resolution 9


def test_an_update_makes_a_new_revision_and_the_old_one_stays_readable(world, actor):
    from sitaware.records import services

    record = services.create_record(actor("ana"), record_payload(narrative="First account."))
    services.update_record(actor("ana"), record.id,
                           {"base_version": 1, "narrative": "Second account: three men.", "reason": "new witness"})
    revs = services.revisions(actor("ana"), record.id)
    assert [r["version"] for r in revs] == [1, 2]
    assert revs[0]["snapshot"]["narrative"] == "First account."
    assert revs[1]["snapshot"]["narrative"] == "Second account: three men."
    assert revs[1]["changed_fields"] == ["narrative"]
    assert revs[1]["reason"] == "new witness"
    assert revs[1]["actor"] == "ana"


def test_new_facts_can_be_injected_at_any_status(world, actor, make_record):
    from sitaware.records import services

    record = make_record(author="sam", status="published")
    updated = services.update_record(actor("sam"), record.id, {"base_version": record.version,
                                                              "casualties": {"civilians": {"killed": 4}}})
    assert updated.status == "published" and updated.fatalities == 4


def test_a_stale_edit_is_refused_as_a_conflict_not_merged(world, actor):
    from sitaware.records import services
    from sitaware.records.errors import VersionConflict

    record = services.create_record(actor("ana"), record_payload())
    services.update_record(actor("ana"), record.id, {"base_version": 1, "title": "A"})
    with pytest.raises(VersionConflict) as err:
        services.update_record(actor("sam"), record.id, {"base_version": 1, "title": "B"})
    assert err.value.current_version == 2
    assert services.get_record(actor("ana"), record.id).title == "A"


def test_an_edit_that_changes_nothing_makes_no_revision(world, actor):
    from sitaware.records import services

    record = services.create_record(actor("ana"), record_payload())
    before = _counts()
    services.update_record(actor("ana"), record.id, {"base_version": 1, "title": record.title})
    assert _counts() == before


def test_records_are_never_hard_deleted(world, actor):
    from django.db.models import ProtectedError

    from sitaware.records import services

    record = services.create_record(actor("ana"), record_payload())
    services.update_record(actor("ana"), record.id, {"base_version": 1, "title": "x"})
    with pytest.raises(ProtectedError):
        record.delete()


def test_status_moves_only_along_the_workflow(world, actor):
    from sitaware.records import services
    from sitaware.records.errors import TransitionRefused

    record = services.create_record(actor("ana"), record_payload())
    with pytest.raises(TransitionRefused, match="from draft to published"):
        services.transition(actor("sam"), record.id, "published")
    for step in ("in_review", "verified", "published", "archived"):
        record = services.transition(actor("sam"), record.id, step, reason=f"to {step}")
    assert record.status == "archived"
    assert [r["snapshot"]["status"] for r in services.revisions(actor("sam"), record.id)] == [
        "draft", "in_review", "verified", "published", "archived"]


def test_a_new_taxonomy_version_does_not_rewrite_old_records(world, actor, settings):
    from sitaware.records import services

    old = services.create_record(actor("ana"), record_payload(category="police.armed_robbery"))
    settings.SITAWARE_TAXONOMY_DIRS = [str(FIXTURES / "taxonomy_v2")]
    assert "sitaware-default@2.0" in services.taxonomies().keys()
    new = services.create_record(
        actor("ana"), record_payload(category="police.robbery.armed", taxonomy_version="sitaware-default@2.0"))
    from sitaware.records.errors import RecordValidationError

    with pytest.raises(RecordValidationError, match=r"not a category of sitaware-default@2\.0"):
        services.create_record(actor("ana"), record_payload(taxonomy_version="sitaware-default@2.0"))
    old.refresh_from_db()
    assert (old.category, old.taxonomy_version) == ("police.armed_robbery", "sitaware-default@1.0")
    assert (new.category, new.taxonomy_version) == ("police.robbery.armed", "sitaware-default@2.0")
    # An old record can still be edited under its own version.
    services.update_record(actor("ana"), old.id, {"base_version": 1, "title": "still v1"})


def test_the_default_taxonomy_covers_conflict_police_humanitarian_and_activities():
    from sitaware.records.taxonomy import TaxonomyRegistry

    taxonomy = TaxonomyRegistry().get("sitaware-default@1.0")
    codes = set(taxonomy.categories)
    for code in ("conflict.battles", "conflict.violence_against_civilians", "conflict.remote_violence",
                 "conflict.riots", "conflict.protests", "conflict.strategic", "police.homicide",
                 "police.armed_robbery", "police.sgbv", "police.abduction", "police.looting",
                 "police.cattle_raiding", "police.illegal_checkpoint_extortion", "police.threat_un_personnel",
                 "police.mob_justice", "humanitarian.displacement", "humanitarian.access_denial",
                 "activity.patrol", "activity.meeting", "activity.arrest", "activity.escort"):
        assert code in codes, code
    assert {c.kind for c in taxonomy.categories.values()} == {"incident", "event", "activity"}
    assert all(c.label.get("fr") for c in taxonomy.categories.values())
    assert taxonomy.by_acled_label("Armed clash").code == "conflict.battles.armed_clash"


def test_ids_are_made_where_the_record_is_first_written_and_a_retry_does_not_duplicate(world, actor):
    from sitaware.records import services
    from sitaware.records.models import Record

    client_id = uuid.uuid4()
    first = services.create_record(actor("rita"), record_payload(id=str(client_id)))
    again = services.create_record(actor("rita"), record_payload(id=str(client_id)))
    assert first.id == again.id == client_id
    assert Record.objects.filter(pk=client_id).count() == 1
    assert first.origin_site == "hq" and first.version == 1


def test_the_same_id_from_someone_else_is_refused(world, actor):
    from sitaware.records import services
    from sitaware.records.errors import RecordValidationError

    client_id = str(uuid.uuid4())
    services.create_record(actor("rita"), record_payload(id=client_id))
    with pytest.raises(RecordValidationError, match="already taken"):
        services.create_record(actor("ana"), record_payload(id=client_id))


def test_text_and_category_filters_narrow_the_list(world, actor):
    from sitaware.records import services

    services.create_record(actor("ana"), record_payload(narrative="Cattle stolen near Bambari",
                                                        category="police.cattle_raiding"))
    services.create_record(actor("ana"), record_payload(narrative="Clash between armed groups", kind="event",
                                                        category="conflict.battles.armed_clash"))
    me = actor("ana")
    assert services.count_records(me, services.RecordFilter(categories=["conflict.battles"])) == 1
    assert services.count_records(me, services.RecordFilter(text="cattle bambari")) == 1
    assert services.count_records(me, services.RecordFilter(kinds=["incident", "event"])) == 2
    assert services.count_records(me, services.RecordFilter(
        since=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))) == 0


def test_every_point_of_a_box_lies_in_one_of_its_covering_coarse_cells():
    import random

    from sitaware.records import geo

    rng = random.Random(5)
    checked = 0
    for _ in range(300):
        lat = rng.uniform(-70, 70)
        lon = rng.uniform(-170, 160)
        height = rng.choice((0.001, 0.05, 0.5, 3.0, 12.0))
        width = rng.choice((0.001, 0.05, 0.5, 3.0, 15.0))
        bbox = (lon, lat, min(180.0, lon + width), min(90.0, lat + height))
        covering = geo.coarse_cells_covering(bbox)
        if covering is None:
            continue
        cells = set(covering)
        corners = [(bbox[1], bbox[0]), (bbox[1], bbox[2]), (bbox[3], bbox[0]), (bbox[3], bbox[2])]
        inside = [(rng.uniform(bbox[1], bbox[3]), rng.uniform(bbox[0], bbox[2])) for _ in range(40)]
        # Points along the north and south edges, where a great-circle edge sags away from the parallel.
        edges = [(y, bbox[0] + (bbox[2] - bbox[0]) * k / 20) for y in (bbox[1], bbox[3]) for k in range(21)]
        for point_lat, point_lon in corners + inside + edges:
            assert geo.cells_for(point_lat, point_lon, 9)[1] in cells, (bbox, point_lat, point_lon)
            checked += 1
    assert checked > 20_000
    assert geo.coarse_cells_covering((-180, -80, 180, 80)) is None  # too large to narrow


def test_a_bbox_list_returns_exactly_the_records_inside_the_box(world, actor):
    import random

    from sitaware.records import services
    from sitaware.records.bulk import bulk_upsert

    rng = random.Random(9)
    rows = [(n, record_payload(latitude=round(rng.uniform(3.0, 6.0), 5), longitude=round(rng.uniform(17.0, 21.0), 5),
                               title=f"r{n}")) for n in range(300)]
    assert not bulk_upsert(actor("sam"), rows).errors
    everything = services.list_records(actor("sam"), services.RecordFilter(), limit=500).items
    for _ in range(25):
        lon, lat = rng.uniform(16.5, 21.0), rng.uniform(2.5, 6.0)
        bbox = (lon, lat, lon + rng.choice((0.05, 0.3, 1.0, 2.5)), lat + rng.choice((0.05, 0.3, 1.0, 2.5)))
        page = services.list_records(actor("sam"), services.RecordFilter(bbox=bbox), limit=500)
        expected = {r["id"] for r in everything
                    if bbox[1] <= r["latitude"] <= bbox[3] and bbox[0] <= r["longitude"] <= bbox[2]}
        assert {r["id"] for r in page.items} == expected


def test_a_dense_box_is_listed_by_the_time_index_with_the_same_pages(world, actor, monkeypatch):
    import random

    from sitaware.records import services
    from sitaware.records.bulk import bulk_upsert

    rng = random.Random(4)
    rows = [(n, record_payload(latitude=round(rng.uniform(4.30, 4.45), 5), longitude=round(rng.uniform(18.5, 18.65), 5),
                               occurred_at=f"2026-0{1 + n % 9}-1{n % 10}T0{n % 10}:00:00+00:00", title=f"r{n}"))
            for n in range(120)]
    assert not bulk_upsert(actor("sam"), rows).errors
    flt = services.RecordFilter(bbox=(18.52, 4.32, 18.62, 4.42))

    def all_pages() -> list[str]:
        ids, cursor = [], None
        while True:
            page = services.list_records(actor("ana"), flt, cursor=cursor, limit=7)
            ids += [r["id"] for r in page.items]
            if not page.next_cursor:
                return ids
            cursor = page.next_cursor

    assert not services._box_is_dense(flt)
    sparse_path = all_pages()
    monkeypatch.setattr(services, "DENSE_BOX_ROWS", 5)
    assert services._box_is_dense(flt)
    dense_path = all_pages()
    assert dense_path == sparse_path and len(set(dense_path)) == len(dense_path) > 20
