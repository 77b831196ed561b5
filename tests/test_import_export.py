"""Import and export of our own CSV and GeoJSON (R-SA-07, issue 2 point 5): round trips, idempotent
re-imports, bad rows one by one, exports that obey scope and agreements and are logged, the jobs' progress,
and the API and console commands that start them."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

FIXTURES = Path(__file__).parent / "fixtures"
API = "/api/v1"
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _private_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


def _import(actor, path: Path, format: str, **options):
    from sitaware.records import jobs

    stored, sha256 = jobs.store_file(path)
    job = jobs.create_import_job(actor, format=format, filename=path.name, path=stored, sha256=sha256,
                                 options=jobs.import_options(actor, format, **options))
    return jobs.run_import(job.pk)


def _export(actor, path: Path, format: str = "csv", *, recipient: str = "unpol", purpose: str = "tests",
            filters: dict | None = None, agreement: str | None = None):
    from sitaware.records import jobs

    job = jobs.create_export_job(actor, format=format, filters=filters or {}, recipient=recipient,
                                 purpose=purpose, agreement=agreement)
    return jobs.run_export(job.pk, output=path)


def _read_csv(path: Path) -> tuple[list[str], list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, hxl = rows[0], rows[1]
    return header, hxl, [dict(zip(header, r, strict=True)) for r in rows[2:]]


def _exported_ids(path: Path) -> set[str]:
    return {row["id"] for row in _read_csv(path)[2]}


def _snapshot(record_id) -> dict:
    from sitaware.records import services
    from sitaware.records.models import Record

    return services.snapshot_of(Record.objects.select_related("organisation", "reporting_unit").get(pk=record_id))


def _wipe_records() -> None:
    """An empty world: same organisations and people, no records."""
    from sitaware.records.models import Record, RecordRevision

    RecordRevision.objects.all().delete()
    Record.objects.all().delete()


@pytest.fixture
def varied_records(make_record, actor):
    """Unpol records that use every kind of field, all visible to sam (a supervisor of bangui-hq)."""
    from sitaware.records import services

    now = dt.datetime.now(dt.UTC)
    made = [
        make_record(status="published"),
        make_record(
            kind="event", category="conflict.battles.armed_clash", status="verified", sensitivity="confidential",
            occurred_at=(now - dt.timedelta(days=40)).isoformat(),
            occurred_until=(now - dt.timedelta(days=38)).isoformat(), time_precision="week",
            reported_at=(now - dt.timedelta(days=30)).isoformat(), location_precision="admin2",
            title='Affrontements à "Bria", 2 morts', narrative="Ligne 1,\nligne 2 ; « guillemets »",
            latitude=6.5423, longitude=21.9863, admin1="Haute-Kotto", admin2="Bria", place_name="Gobolo",
            source_type="ngo", source_reliability="C", information_credibility=3, source_reference="ref; 42",
            casualties={"civilians": {"killed": 2, "injured": 5}, "security_forces": {"missing": 1}},
            external_source="partner-feed", external_id="PF-0042",
        ),
        make_record(kind="activity", category="activity.patrol.foot", sensitivity="public", title="Foot patrol",
                    source_identity="", narrative=""),
    ]
    # A record of another unit: sam does not need to know its source, so it leaves without it.
    other = services.create_record(actor("rex"), {
        **_payload(), "title": "Cattle raid near Bria", "category": "police.cattle_raiding",
        "source_identity": "herder's cousin"})
    made.append(services.transition(actor("rex"), other.id, "in_review"))
    return made


def _payload(**overrides) -> dict:
    from tests.conftest import record_payload

    return record_payload(**overrides)


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("format", ["csv", "geojson"])
def test_an_export_imported_into_an_empty_world_gives_back_every_field_it_carried(
        format, world, actor, varied_records, tmp_path):
    from sitaware.records.models import JobStatus, Record

    before = {str(r.id): _snapshot(r.id) for r in varied_records}
    path = tmp_path / f"export.{format}"
    export = _export(actor("sam"), path, format)
    assert export.status == JobStatus.DONE and export.row_count == export.total_rows == len(before)
    redacted = _redacted_by_id(path, format)
    assert redacted[str(varied_records[-1].id)] == ["source_identity"]
    assert all(not fields for key, fields in redacted.items() if key != str(varied_records[-1].id))

    _wipe_records()
    job = _import(actor("sam"), path, format)

    assert job.status == JobStatus.DONE, job.message
    assert (job.created_count, job.error_count) == (len(before), 0), job.errors
    assert set(map(str, Record.objects.values_list("id", flat=True))) == set(before)
    for record_id, original in before.items():
        restored = _snapshot(record_id)
        compared = [k for k in original if k != "version" and k not in redacted[record_id]]
        assert {k: restored[k] for k in compared} == {k: original[k] for k in compared}, record_id


def _redacted_by_id(path: Path, format: str) -> dict[str, list[str]]:
    if format == "csv":
        return {row["id"]: [f for f in row["redacted_fields"].split(";") if f] for row in _read_csv(path)[2]}
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {f["id"]: f["properties"]["redacted_fields"] for f in doc["features"]}


def test_our_csv_has_one_column_per_field_and_an_hxl_hashtag_row(world, actor, varied_records, tmp_path):
    path = tmp_path / "export.csv"
    _export(actor("sam"), path)
    header, hxl, rows = _read_csv(path)

    tags = dict(zip(header, hxl, strict=True))
    assert tags["occurred_at"] == "#date+occurred"
    assert (tags["latitude"], tags["longitude"]) == ("#geo+lat", "#geo+lon")
    assert (tags["category"], tags["admin1"], tags["source_reference"]) == ("#event+type", "#adm1+name",
                                                                            "#meta+source")
    assert tags["civilians_killed"] == "#affected+killed+civilians"
    clash = next(r for r in rows if r["external_id"] == "PF-0042")
    assert (clash["civilians_killed"], clash["civilians_injured"], clash["fatalities"]) == ("2", "5", "2")
    assert clash["sensitivity"] == "confidential"


@pytest.mark.parametrize("format", ["csv", "geojson"])
def test_importing_our_own_export_again_changes_nothing(format, world, actor, varied_records, tmp_path):
    from sitaware.core.models import ChangeEntry
    from sitaware.records.models import Record

    path = tmp_path / f"export.{format}"
    _export(actor("sam"), path, format)
    entries = ChangeEntry.objects.count()

    job = _import(actor("sam"), path, format)

    assert (job.created_count, job.updated_count, job.error_count) == (0, 0, 0), job.errors
    assert job.unchanged_count == len(varied_records)
    assert Record.objects.count() == len(varied_records)
    assert ChangeEntry.objects.count() == entries
    # The source identity the file withheld was not wiped by the re-import.
    assert Record.objects.get(pk=varied_records[-1].id).source_identity == "herder's cousin"


def test_a_changed_row_of_our_csv_becomes_a_new_revision(world, actor, varied_records, tmp_path):
    from sitaware.records.models import Record

    path = tmp_path / "export.csv"
    _export(actor("sam"), path)
    header, hxl, rows = _read_csv(path)
    target = next(r for r in rows if r["title"] == "Foot patrol")
    target["title"] = "Foot patrol, Miskine"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerows([header, hxl, *[[r[h] for h in header] for r in rows]])

    job = _import(actor("sam"), path, "csv")

    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 1, len(rows) - 1)
    record = Record.objects.get(pk=target["id"])
    assert (record.title, record.version) == ("Foot patrol, Miskine", 2)
    assert record.revisions.get(version=2).reason.startswith("import ")


# ---------------------------------------------------------------- our CSV: bad rows and other layouts

BAD_CSV = (
    "category,occurred_at,latitude,longitude,title,civilians_killed,sensitivity\n"
    "police.armed_robbery,2024-01-05T10:00:00Z,4.36,18.55,Good one,1,public\n"
    "police.armed_robbery,2024-01-05T10:00:00,4.36,18.55,Naive time,0,public\n"
    "police.unicorn_theft,2024-01-05T10:00:00Z,4.36,18.55,Unknown category,0,public\n"
    "police.armed_robbery,2024-01-05T10:00:00Z,91,18.55,Bad latitude,0,public\n"
    "police.armed_robbery,2024-01-05T10:00:00Z,4.36,18.55,Bad count,two,public\n"
    "police.armed_robbery,2024-01-05T10:00:00Z,4.36,18.55,Too,many,cells,public\n"
    "police.homicide,2024-01-06T10:00:00+01:00,4.37,18.56,Good two,,restricted\n"
    'police.armed_robbery,2024-01-05T10:00:00Z,4.36,18.55,"Unterminated,0,public\n'
)


def test_bad_rows_of_a_csv_are_reported_one_by_one_and_the_good_ones_imported(world, actor, tmp_path):
    from sitaware.records.models import JobStatus, Record

    path = tmp_path / "incidents.csv"
    path.write_text(BAD_CSV, encoding="utf-8")
    job = _import(actor("ana"), path, "csv")

    assert job.status == JobStatus.DONE
    assert job.total_rows == job.processed_rows == 8
    assert (job.created_count, job.error_count) == (2, 6)
    problems = {e["row"]: e for e in job.errors}
    assert problems.keys() == {3, 4, 5, 6, 7, 9}
    assert (problems[3]["field"], problems[3]["message"]) == ("occurred_at", "needs a time zone, e.g. "
                                                              "2026-01-31T14:00:00+00:00 or ...Z")
    assert problems[4]["field"] == "category" and "not a category of sitaware-default@1.0" in problems[4]["message"]
    assert problems[5]["field"] == "latitude"
    assert (problems[6]["field"], problems[6]["message"]) == ("civilians_killed", "'two' is not a whole number")
    assert problems[7]["field"] == "row" and "8 cells" in problems[7]["message"]
    assert problems[9]["field"] == "row" and "malformed CSV" in problems[9]["message"]
    good = Record.objects.get(title="Good one")
    assert (good.kind, good.casualties, good.sensitivity) == ("incident", {"civilians": {"killed": 1}}, 0)
    assert Record.objects.get(title="Good two").occurred_at == dt.datetime(2024, 1, 6, 9, tzinfo=dt.UTC)


def test_a_partners_hxl_tagged_sheet_imports_by_its_hashtags(world, actor, tmp_path):
    from sitaware.records.models import Record

    path = tmp_path / "partner.csv"
    path.write_text(
        "Date,Lat,Lon,Type,Lieu,Remarks\n"
        "#date +occurred,#geo+lat,#geo+lon,#event+type,#loc+name,#description+remarks\n"
        "2024-02-01T08:00:00Z,5.76,20.67,police.looting,Bambari,seen by a patrol\n",
        encoding="utf-8",
    )
    job = _import(actor("ana"), path, "csv", sensitivity="public")

    assert (job.created_count, job.error_count) == (1, 0), job.errors
    assert "columns not recognised and ignored: Remarks" in job.message
    record = Record.objects.get()
    assert (record.category, record.place_name, record.latitude, record.sensitivity) == (
        "police.looting", "Bambari", 5.76, 0)


def test_a_csv_missing_required_columns_fails_once_naming_them(world, actor, tmp_path):
    from sitaware.records.models import JobStatus

    path = tmp_path / "incomplete.csv"
    path.write_text("title,latitude\nA,4.3\nB,4.4\n", encoding="utf-8")
    job = _import(actor("ana"), path, "csv")

    assert job.status == JobStatus.FAILED
    assert "category, occurred_at, longitude" in job.message
    assert len(job.errors) == 1 and job.errors[0]["field"] == "header"


def test_a_geojson_import_reports_bad_features_by_position(world, actor, tmp_path):
    from sitaware.records.models import Record

    def feature(geometry, **properties):
        return {"type": "Feature", "geometry": geometry,
                "properties": {"category": "police.homicide", "occurred_at": "2024-03-01T00:00:00Z", **properties}}

    path = tmp_path / "features.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        feature({"type": "Point", "coordinates": [18.55, 4.36]}, title="ok", colour="red"),
        feature({"type": "LineString", "coordinates": [[18.55, 4.36], [18.6, 4.4]]}),
        feature({"type": "Point", "coordinates": [4.36, 118.55]}),
        feature(None),
        feature({"type": "Point", "coordinates": [18.55, 4.36]}, occurred_at="2024-03-01"),
    ]}), encoding="utf-8")
    job = _import(actor("ana"), path, "geojson")

    assert (job.created_count, job.error_count) == (1, 4)
    assert {(e["row"], e["field"]) for e in job.errors} == {
        (2, "geometry"), (3, "geometry"), (4, "geometry"), (5, "occurred_at")}
    assert "properties not recognised and ignored: colour" in job.message
    assert Record.objects.get().title == "ok"


@pytest.mark.parametrize(("content", "expected"), [
    ("not json at all", "invalid JSON"),
    ('{"type": "Feature"}', "expected \"FeatureCollection\""),
    ("[1, 2]", "the top-level type is 'list'"),
])
def test_a_file_that_is_not_geojson_fails_the_job_with_a_clear_message(world, actor, tmp_path, content, expected):
    from sitaware.records.models import JobStatus

    path = tmp_path / "upload.geojson"
    path.write_text(content, encoding="utf-8")
    job = _import(actor("ana"), path, "geojson")

    assert job.status == JobStatus.FAILED
    assert expected in job.message


def test_import_options_are_checked_before_any_work(world, actor):
    from django.core.exceptions import PermissionDenied

    from sitaware.records import jobs
    from sitaware.records.errors import RecordValidationError

    with pytest.raises(PermissionDenied):
        jobs.import_options(actor("rita"), "csv")  # reporters do not import
    with pytest.raises(PermissionDenied):
        jobs.import_options(actor("ana"), "csv", status="published")  # analysts do not publish
    with pytest.raises(RecordValidationError, match="above your clearance"):
        jobs.import_options(actor("ana"), "csv", sensitivity="strictly_confidential")
    with pytest.raises(RecordValidationError, match="use one of csv, geojson, ucdp, acled"):
        jobs.import_options(actor("ana"), "xlsx")
    assert jobs.import_options(actor("sam"), "ucdp", sensitivity="restricted", status="published") == {
        "sensitivity": 1, "status": "published", "reporting_unit": None}


# ---------------------------------------------------------------- progress


def test_progress_counters_climb_batch_by_batch_and_reach_the_total(world, actor, monkeypatch):
    from sitaware.records import jobs
    from sitaware.records.models import ImportJob

    monkeypatch.setattr(jobs, "BATCH_SIZE", 4)
    seen: list[tuple[int, int | None, int]] = []
    ana = actor("ana")
    stored, sha256 = jobs.store_file(FIXTURES / "acled_sample.csv")
    job = jobs.create_import_job(ana, format="acled", filename="acled_sample.csv", path=stored, sha256=sha256,
                                 options=jobs.import_options(ana, "acled"))

    def progress(done, total):
        seen.append((done, total, ImportJob.objects.get(pk=job.pk).processed_rows))

    job = jobs.run_import(job.pk, progress=progress)

    assert [s[0] for s in seen] == [0, 4, 8, 12, 16, 16]
    assert {s[1] for s in seen} == {16}
    assert all(done == stored_progress for done, _, stored_progress in seen)  # the job row keeps pace
    assert job.processed_rows == job.total_rows == 16


# ---------------------------------------------------------------- exports: scope, agreements, the log


def test_every_export_is_logged_with_who_what_filter_for_whom_and_agreement(world, actor, make_record, tmp_path):
    from sitaware.core import changelog
    from sitaware.core.models import ChangeEntry

    make_record(author="hugo", status="published")
    path = tmp_path / "for-unpol.csv"
    job = _export(actor("hugo"), path, recipient="unpol", purpose="weekly joint brief",
                  filters={"since": "2020-01-01", "categories": ["police"], "bbox": "18,4,19,5"})

    assert (job.recipient, job.purpose, job.agreement.reference) == ("unpol", "weekly joint brief", "SA-HSP-UNPOL-1")
    created = ChangeEntry.objects.get(action="export.create", object_id=str(job.pk))
    assert created.actor_label == "hugo" and created.organisation_id == world.hsp.pk
    logged = created.payload["after"]
    assert logged["recipient"] == "unpol" and logged["recipient_organisation"] == "unpol"
    assert logged["purpose"] == "weekly joint brief"
    assert logged["agreement"] == "SA-HSP-UNPOL-1"
    assert logged["filters"] == {"bbox": [18.0, 4.0, 19.0, 5.0], "since": "2020-01-01T00:00:00+00:00",
                                 "categories": ["police"]}
    assert logged["format"] == "csv"
    finished = ChangeEntry.objects.get(action="export.finish", object_id=str(job.pk)).payload["after"]
    assert finished == {"row_count": 1, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "format": "csv"}
    assert job.sha256 == finished["sha256"]
    assert changelog.verify().ok


def test_an_hsp_analyst_never_exports_unpol_records(world, actor, make_record, tmp_path):
    unpol = [make_record(status="published", sensitivity="public"), make_record(author="sam", status="verified")]
    hsp = [make_record(author="hugo"), make_record(author="hugo", status="published")]
    path = tmp_path / "hsp.csv"

    _export(actor("hugo"), path, recipient="hsp")

    assert _exported_ids(path) == {str(r.id) for r in hsp}
    assert not _exported_ids(path) & {str(r.id) for r in unpol}


def test_a_partner_export_sends_only_what_the_agreement_covers_with_its_redactions(
        world, actor, make_record, tmp_path):
    shared = make_record(author="hugo", status="published", narrative="Witness account", source_identity="W-3")
    make_record(author="hugo")  # a draft: not shared
    make_record(author="hugo", status="published", sensitivity="confidential")  # above the agreement
    path = tmp_path / "for-unpol.csv"

    job = _export(actor("hugo"), path, recipient="unpol", purpose="joint analysis")

    rows = _read_csv(path)[2]
    assert [r["id"] for r in rows] == [str(shared.id)]
    assert (rows[0]["narrative"], rows[0]["source_identity"]) == ("", "")
    assert set(rows[0]["redacted_fields"].split(";")) == {"narrative", "source_identity"}
    assert rows[0]["title"] == shared.title
    assert job.agreement == world.agreement


def test_an_export_to_another_organisation_needs_an_agreement(world, actor, make_record, tmp_path):
    from sitaware.core.models import ChangeEntry
    from sitaware.records.errors import RecordValidationError
    from sitaware.records.models import ExportJob

    make_record(status="published")
    with pytest.raises(RecordValidationError) as refused:
        _export(actor("ana"), tmp_path / "x.csv", recipient="hsp")  # unpol shares nothing with hsp
    assert refused.value.problems[0]["field"] == "agreement"
    with pytest.raises(RecordValidationError, match="no active sharing agreement 'SA-HSP-UNPOL-1'"):
        _export(actor("ana"), tmp_path / "x.csv", recipient="ngo desk", agreement="SA-HSP-UNPOL-1")
    assert not ExportJob.objects.exists()
    assert not ChangeEntry.objects.filter(action__startswith="export.").exists()


def test_an_internal_export_keeps_the_redactions_of_records_shared_with_us(world, actor, make_record, tmp_path):
    shared = make_record(author="hugo", status="published", narrative="Witness account")
    path = tmp_path / "internal.geojson"

    _export(actor("ana"), path, "geojson", recipient="JOC desk")

    doc = json.loads(path.read_text(encoding="utf-8"))
    feature = next(f for f in doc["features"] if f["id"] == str(shared.id))
    assert feature["properties"]["narrative"] is None
    assert "narrative" in feature["properties"]["redacted_fields"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [shared.longitude, shared.latitude]}
    assert doc["export"]["recipient"] == "JOC desk" and doc["export"]["exported_by"] == "ana"


def test_an_export_filter_narrows_what_leaves(world, actor, make_record, tmp_path):
    old = make_record(occurred_at="2021-06-01T00:00:00Z", status="published")
    new = make_record(status="published", category="police.homicide")
    path = tmp_path / "filtered.csv"

    _export(actor("ana"), path, filters={"since": "2022-01-01", "categories": ["police.homicide"]})

    assert _exported_ids(path) == {str(new.id)}
    assert str(old.id) not in _exported_ids(path)


@pytest.mark.parametrize(("filters", "field"), [
    ({"since": "2024-01-01T00:00:00"}, "filters.since"),
    ({"bbox": "1,2,3"}, "filters.bbox"),
    ({"colour": "red"}, "filters"),
    ({"statuses": ["approved"]}, "filters.statuses"),
])
def test_a_bad_export_filter_is_refused_saying_what_to_fix(world, actor, tmp_path, filters, field):
    from sitaware.records.errors import RecordValidationError

    with pytest.raises(RecordValidationError) as refused:
        _export(actor("ana"), tmp_path / "x.csv", filters=filters)
    assert refused.value.problems[0]["field"] == field


def test_reporters_may_neither_import_nor_export(world, actor, tmp_path):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        _export(actor("rita"), tmp_path / "x.csv")
    with pytest.raises(PermissionDenied):
        _import(actor("rex"), FIXTURES / "acled_sample.csv", "acled")


# ---------------------------------------------------------------- API


@pytest.fixture
def client_for(world):
    from sitaware.core.services import create_token

    def make(name: str) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {create_token(world.users[name], 'test')}")

    return make


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/imports"),
    ("get", "/imports/00000000-0000-0000-0000-000000000001"),
    ("post", "/exports"),
    ("get", "/exports/00000000-0000-0000-0000-000000000001"),
    ("get", "/exports/00000000-0000-0000-0000-000000000001/download"),
])
def test_job_endpoints_refuse_an_unauthenticated_caller_with_401(world, method, path):
    response = getattr(Client(), method)(f"{API}{path}")
    assert response.status_code == 401


def test_an_uploaded_file_is_stored_by_its_hash_and_imported_in_the_background(world, client_for, settings):
    settings.TASKS = IMMEDIATE
    content = (FIXTURES / "acled_sample.csv").read_bytes()
    upload = io.BytesIO(content)
    upload.name = "acled_sample.csv"

    response = client_for("ana").post(f"{API}/imports", {"file": upload, "format": "acled"})

    assert response.status_code == 202, response.content
    body = response.json()
    sha256 = hashlib.sha256(content).hexdigest()
    assert body["sha256"] == sha256 and body["filename"] == "acled_sample.csv"
    assert (Path(settings.DATA_DIR) / "uploads" / f"{sha256}.csv").read_bytes() == content
    job = client_for("ana").get(f"{API}/imports/{body['id']}").json()
    assert job["status"] == "done"
    assert (job["total_rows"], job["processed_rows"], job["created"], job["error_count"]) == (16, 16, 11, 5)
    assert [e["row"] for e in job["errors"]] == [12, 13, 14, 15, 16]


def test_an_import_job_is_visible_to_its_organisation_only(world, client_for, settings):
    settings.TASKS = IMMEDIATE
    upload = io.BytesIO((FIXTURES / "acled_sample.csv").read_bytes())
    upload.name = "acled.csv"
    job_id = client_for("ana").post(f"{API}/imports", {"file": upload, "format": "acled"}).json()["id"]

    assert client_for("sam").get(f"{API}/imports/{job_id}").status_code == 200
    assert client_for("hugo").get(f"{API}/imports/{job_id}").status_code == 404


def test_an_upload_over_the_size_limit_is_refused_with_413(world, client_for, settings):
    from sitaware.records.models import ImportJob

    settings.SITAWARE_UPLOAD_MAX_BYTES = 100
    upload = io.BytesIO((FIXTURES / "acled_sample.csv").read_bytes())
    upload.name = "acled.csv"

    response = client_for("ana").post(f"{API}/imports", {"file": upload, "format": "acled"})

    assert response.status_code == 413
    assert "SITAWARE_UPLOAD_MAX_BYTES" in response.json()["detail"]
    assert not ImportJob.objects.exists()


def test_an_upload_in_an_unknown_format_is_refused_with_400(world, client_for):
    upload = io.BytesIO(b"a,b\n1,2\n")
    upload.name = "x.xlsx"
    response = client_for("ana").post(f"{API}/imports", {"file": upload, "format": "xlsx"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "format"


def test_a_queued_import_waits_for_the_task_worker(transactional_db, world, client_for):
    # transactional: the worker closes and reopens its connection, as a real worker between tasks.
    from sitaware.records.models import ImportJob

    upload = io.BytesIO((FIXTURES / "acled_sample.csv").read_bytes())
    upload.name = "acled.csv"
    job_id = client_for("ana").post(f"{API}/imports", {"file": upload, "format": "acled"}).json()["id"]
    assert ImportJob.objects.get(pk=job_id).status == "queued"

    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    job = ImportJob.objects.get(pk=job_id)
    assert (job.status, job.created_count) == ("done", 11)


def test_an_export_through_the_api_is_logged_and_downloaded_by_its_maker_only(
        world, client_for, make_record, settings):
    from sitaware.core.models import ChangeEntry

    settings.TASKS = IMMEDIATE
    record = make_record(status="published")
    response = client_for("ana").post(
        f"{API}/exports",
        {"format": "geojson", "filters": {"statuses": ["published"]}, "recipient": "unpol", "purpose": "map"},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert ChangeEntry.objects.filter(action="export.create", object_id=job_id).exists()

    job = client_for("ana").get(f"{API}/exports/{job_id}").json()
    assert (job["status"], job["row_count"], job["total_rows"], job["recipient"]) == ("done", 1, 1, "unpol")
    download = client_for("ana").get(job["download"])
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == job["sha256"]
    assert json.loads(content)["features"][0]["id"] == str(record.id)
    assert client_for("sam").get(job["download"]).status_code == 403
    assert client_for("hugo").get(f"{API}/exports/{job_id}").status_code == 404
    assert client_for("hugo").get(job["download"]).status_code == 404


def test_an_api_export_without_purpose_is_refused_saying_what_to_fix(world, client_for):
    response = client_for("ana").post(f"{API}/exports", {"format": "csv", "recipient": "unpol", "purpose": " "},
                                      content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "purpose", "message": "say what the export is for"}]


# ---------------------------------------------------------------- console


def test_the_import_command_reports_bad_rows_and_ends_with_a_summary(world):
    out, err = io.StringIO(), io.StringIO()
    call_command("import", str(FIXTURES / "acled_sample.csv"), "--format", "acled", "--as", "ana",
                 "--no-progress", stdout=out, stderr=err)

    assert "11 created, 0 updated, 0 unchanged, 5 with errors" in out.getvalue()
    assert "row 12, latitude: 95.2 is outside -90..90" in err.getvalue()


def test_the_import_command_exits_non_zero_when_the_job_fails(world, tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("just,some\nwords,here\n", encoding="utf-8")
    with pytest.raises(CommandError, match="needs the column"):
        call_command("import", str(path), "--format", "ucdp", "--as", "ana", "--no-progress",
                     stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="may not import"):
        call_command("import", str(path), "--format", "csv", "--as", "rita", "--no-progress")


def test_the_import_command_can_leave_the_work_to_the_worker(world):
    from sitaware.records.models import ImportJob

    out = io.StringIO()
    call_command("import", str(FIXTURES / "acled_sample.csv"), "--format", "acled", "--as", "ana",
                 "--background", stdout=out)

    job = ImportJob.objects.get()
    assert job.status == "queued" and str(job.pk) in out.getvalue()


def test_the_export_command_writes_the_file_and_logs_it(world, make_record, tmp_path):
    from sitaware.core.models import ChangeEntry

    record = make_record(status="published")
    path = tmp_path / "out.csv"
    out = io.StringIO()
    call_command("export", "--format", "csv", "--as", "ana", "--recipient", "unpol", "--purpose", "brief",
                 "--since", "2020-01-01", "--category", "police", "-o", str(path), "--no-progress", stdout=out)

    assert _exported_ids(path) == {str(record.id)}
    assert "Exported 1 records" in out.getvalue()
    logged = ChangeEntry.objects.get(action="export.create").payload["after"]
    assert logged["filters"]["categories"] == ["police"] and logged["purpose"] == "brief"
