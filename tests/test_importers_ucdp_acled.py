"""Importers for outside datasets (R-SA-07, issue 2 point 5): UCDP GED on the real CAR extract, ACLED on a
small made-up fixture with bad rows (tests/fixtures/acled_sample.md says which)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from tests.conftest import shared_data

FIXTURES = Path(__file__).parent / "fixtures"
UCDP_EVENTS = ("events", "ucdp_ged_caf", "ged231_caf_events.csv")
UCDP_DETECTION = ("events", "ucdp_ged_caf", "ged231_caf_detection.csv")
UCDP_EVENT_COUNT = 1848  # events, not lines: 2,095 lines after the header, some cells span several lines


@pytest.fixture(autouse=True)
def _private_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


def _import(actor, path: Path, format: str, **options):
    from sitaware.records import jobs

    stored, sha256 = jobs.store_file(path)
    job = jobs.create_import_job(actor, format=format, filename=path.name, path=stored, sha256=sha256,
                                 options=jobs.import_options(actor, format, **options))
    return jobs.run_import(job.pk)


def _records():
    from sitaware.records.models import Record

    return Record.objects.all()


# ---------------------------------------------------------------- UCDP GED


def test_every_ucdp_event_is_imported_with_its_codes_mapped(world, actor):
    from sitaware.records.models import JobStatus

    job = _import(actor("ana"), shared_data(*UCDP_EVENTS), "ucdp")

    assert job.status == JobStatus.DONE, job.message
    assert job.total_rows == job.processed_rows == UCDP_EVENT_COUNT
    assert job.created_count + job.error_count == UCDP_EVENT_COUNT
    assert job.error_count == 0, job.errors[:5]
    assert _records().filter(external_source="ucdp-ged").count() == UCDP_EVENT_COUNT

    lra = _records().get(external_id="36210")  # Government of Uganda - LRA, 20 February 2009
    assert (lra.latitude, lra.longitude) == (5.399784, 26.486881)
    assert lra.occurred_at == dt.datetime(2009, 2, 20, tzinfo=dt.UTC)
    assert lra.occurred_until is None
    assert (lra.kind, lra.category) == ("event", "conflict.battles.armed_clash")
    assert lra.time_precision == "day"
    assert lra.location_precision == "region"  # where_prec 5
    assert lra.fatalities == 3
    assert lra.casualties == {"unknown": {"killed": 3}}
    assert (lra.source_type, lra.sensitivity, lra.status) == ("dataset", 0, "draft")
    assert lra.title == "State-based conflict: Government of Uganda - LRA"
    assert lra.narrative == "Central African Republic remote southeast"
    assert lra.source_reference == "Reuters  25/2-09"

    spread = _records().get(external_id="36211")  # 7 August to 10 September 2009: date_prec 5
    assert spread.occurred_until == dt.datetime(2009, 9, 10, tzinfo=dt.UTC)
    assert spread.time_precision == "year"
    one_sided = _records().filter(external_source="ucdp-ged",
                                  category="conflict.violence_against_civilians.attack").count()
    assert one_sided == 1076  # every type_of_violence 3 row


def test_importing_the_ucdp_file_again_creates_nothing_and_reports_every_event_unchanged(world, actor):
    from sitaware.core.models import ChangeEntry

    path = shared_data(*UCDP_EVENTS)
    _import(actor("ana"), path, "ucdp")
    entries = ChangeEntry.objects.count()

    # Someone else of the same organisation imports it again: still nothing new.
    again = _import(actor("sam"), path, "ucdp")

    assert (again.created_count, again.updated_count, again.error_count) == (0, 0, 0)
    assert again.unchanged_count == UCDP_EVENT_COUNT
    assert _records().count() == UCDP_EVENT_COUNT
    assert ChangeEntry.objects.count() == entries


def test_a_ucdp_row_changed_at_the_source_becomes_a_new_revision(world, actor, tmp_path):
    from sitaware.records import services

    with shared_data(*UCDP_EVENTS).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [next(reader) for _ in range(3)]
        fields = reader.fieldnames

    def write(rows):
        path = tmp_path / "ged.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        return path

    _import(actor("ana"), write(rows), "ucdp")
    rows[1] = {**rows[1], "best": str(int(rows[1]["best"]) + 2)}  # UCDP revised its death estimate
    job = _import(actor("ana"), write(rows), "ucdp")

    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 1, 2)
    record = _records().get(external_id=rows[1]["id"])
    assert record.version == 2
    history = services.revisions(actor("ana"), record.id)
    assert [h["version"] for h in history] == [1, 2]
    assert history[1]["snapshot"]["fatalities"] == int(rows[1]["best"])


def test_date_precision_derived_from_the_span_matches_ucdps_own_codes_for_every_event():
    from sitaware.records.importers.ucdp_ged import date_precision

    with shared_data(*UCDP_DETECTION).open(encoding="utf-8") as handle:
        coded = {r["id"]: int(r["date_prec"]) for r in csv.DictReader(handle)}
    with shared_data(*UCDP_EVENTS).open(encoding="utf-8") as handle:
        events = list(csv.DictReader(handle))
    derived = {e["id"]: date_precision(dt.date.fromisoformat(e["date_start"][:10]),
                                       dt.date.fromisoformat(e["date_end"][:10])) for e in events}
    assert len(derived) == UCDP_EVENT_COUNT
    assert derived == {key: coded[key] for key in derived}


def test_bad_ucdp_rows_are_reported_and_the_rest_imported(world, actor, tmp_path):
    path = tmp_path / "ged.csv"
    path.write_text(
        "id,date_start,date_end,type_of_violence,where_prec,latitude,longitude,best,deaths_civilians\n"
        "1,2020-01-01,2020-01-01,1,1,4.36,18.55,2,0\n"
        "2,2020-01-05,2020-01-01,1,1,4.36,18.55,2,0\n"
        "3,2020-01-01,2020-01-01,4,1,4.36,18.55,2,0\n"
        "4,2020-01-01,2020-01-01,3,1,4.36,18.55,1,5\n"
        "5,2020-01-01,2020-01-01,3,9,4.36,18.55,1,0\n",
        encoding="utf-8",
    )
    job = _import(actor("ana"), path, "ucdp")

    assert job.created_count == 1
    assert {(e["row"], e["field"]) for e in job.errors} == {
        (3, "date_end"), (4, "type_of_violence"), (5, "deaths_civilians"), (6, "where_prec")}


# ---------------------------------------------------------------- ACLED


def test_the_acled_fixture_imports_its_good_rows_and_reports_each_bad_row_by_number(world, actor):
    from sitaware.records.models import JobStatus

    job = _import(actor("ana"), FIXTURES / "acled_sample.csv", "acled")

    assert job.status == JobStatus.DONE
    assert job.total_rows == job.processed_rows == 16
    assert (job.created_count, job.error_count) == (11, 5)
    problems = {e["row"]: e for e in job.errors}
    assert problems.keys() == {12, 13, 14, 15, 16}
    assert problems[12]["field"] == "latitude" and "outside -90..90" in problems[12]["message"]
    assert problems[13]["field"] == "sub_event_type" and "'Cattle rustling'" in problems[13]["message"]
    assert problems[14]["field"] == "fatalities" and "'several' is not a whole number" in problems[14]["message"]
    assert problems[15]["field"] == "row" and "24 cells" in problems[15]["message"]
    assert problems[16]["field"] == "event_date" and "2023-02-30" in problems[16]["message"]
    assert "11 created" in job.message and "5 rows with errors" in job.message


def test_acled_rows_map_to_the_taxonomy_precisions_and_casualty_groups(world, actor):
    _import(actor("ana"), FIXTURES / "acled_sample.csv", "acled")

    clash = _records().get(external_source="acled", external_id="CEN10001")
    assert (clash.category, clash.time_precision, clash.location_precision) == (
        "conflict.battles.armed_clash", "day", "exact")
    assert clash.casualties == {"unknown": {"killed": 4}}
    assert clash.reported_at == dt.datetime.fromtimestamp(1673395200, dt.UTC)
    assert (clash.admin1, clash.admin2, clash.place_name) == ("Ouham-Pende", "Bocaranga", "Bocaranga")
    attack = _records().get(external_id="CEN10002")
    assert attack.category == "conflict.violence_against_civilians.attack"
    assert attack.casualties == {"civilians": {"killed": 2}}
    assert _records().get(external_id="CEN10004").occurred_at == dt.datetime(2023, 3, 12, tzinfo=dt.UTC)
    # "Arrests" has no category of its own: it goes to its event type, strategic developments.
    assert _records().get(external_id="CEN10007").category == "conflict.strategic"
    sexual = _records().get(external_id="CEN10010")
    assert (sexual.time_precision, sexual.location_precision) == ("month", "admin1")
    assert sexual.reported_at == sexual.occurred_at  # no timestamp in the file


def test_importing_the_acled_file_twice_creates_no_duplicates(world, actor):
    _import(actor("ana"), FIXTURES / "acled_sample.csv", "acled")
    again = _import(actor("ana"), FIXTURES / "acled_sample.csv", "acled")

    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 11)
    assert again.error_count == 5
    assert _records().filter(external_source="acled").count() == 11


def test_an_import_never_overwrites_a_record_the_importer_may_not_see(world, actor):
    from sitaware.records import services
    from tests.conftest import record_payload

    secret = services.create_record(actor("sam"), record_payload(
        kind="event", category="conflict.battles.armed_clash", sensitivity="strictly_confidential",
        external_source="acled", external_id="CEN10001", title="Source-protected account"))

    job = _import(actor("ana"), FIXTURES / "acled_sample.csv", "acled")  # ana's clearance: confidential

    assert {"row": 2, "field": "external_id",
            "message": "a record with this external id exists that you may not change"} in job.errors
    assert job.created_count == 10
    secret.refresh_from_db()
    assert (secret.title, secret.version, secret.sensitivity) == ("Source-protected account", 1, 3)


def test_an_acled_file_missing_columns_fails_once_naming_them(world, actor, tmp_path):
    from sitaware.records.models import JobStatus

    lines = (FIXTURES / "acled_sample.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name not in ("latitude", "longitude")]
    path = tmp_path / "acled.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for row in csv.reader(lines[:11]):
            writer.writerow([row[i] for i in keep])

    job = _import(actor("ana"), path, "acled")

    assert job.status == JobStatus.FAILED
    assert "latitude, longitude" in job.message
    assert job.errors == [{"row": 1, "field": "header", "message": job.message}]
    assert _records().count() == 0


@pytest.mark.parametrize(("content", "expected"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "binary data"),
    ("Évènement".encode("latin-1") + b",x\n1,2\n", "not an ACLED CSV file in UTF-8"),
    (b"", "the file is empty"),
])
def test_a_file_that_is_not_csv_fails_the_job_with_a_clear_message(world, actor, tmp_path, content, expected):
    from sitaware.records.models import JobStatus

    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    job = _import(actor("ana"), path, "acled")

    assert job.status == JobStatus.FAILED
    assert expected in job.message
