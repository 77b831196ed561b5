from tests.conftest import record_payload


def test_a_record_round_trips_through_the_services(world, actor):
    from sitaware.core import changelog
    from sitaware.records import services

    record = services.create_record(actor("ana"), record_payload())
    record = services.update_record(actor("ana"), record.id, {"base_version": 1, "title": "Changed"})
    assert record.version == 2
    assert [r["version"] for r in services.revisions(actor("ana"), record.id)] == [1, 2]
    assert changelog.verify().ok
