"""OpenRosa, by replaying the requests ODK Collect sends: formList, form download, HEAD and POST submission."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import uuid

import pytest
from django.test import Client

from sitaware.core.services import create_token
from sitaware.ingest import services
from sitaware.ingest.forms import shipped_form
from sitaware.ingest.models import IntakeItem
from tests.test_ingest_support import make_source

COLLECT_HEADERS = {
    "HTTP_USER_AGENT": "Dalvik/2.1.0 (Linux; U; Android 13; SM-A145R Build/TP1A.220624.014) "
                       "org.odk.collect.android/v2024.3.4",
    "HTTP_X_OPENROSA_VERSION": "1.0",
    "HTTP_DATE": "Sat, 28 Nov 2026 09:30:00 GMT+00:00",
    "HTTP_ACCEPT_ENCODING": "gzip",
}
PASSWORD = "correct horse battery staple"
BOUNDARY = "c2a5e0a1-5f3b-4f7e-8c1e-2d3f4a5b6c7d"  # OkHttp uses a UUID as the boundary


def basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def submission_xml(instance_id: str, *, form_id: str = "incident_report", title: str = "Roadblock at PK12") -> bytes:
    return (
        "<?xml version='1.0' ?><data id=\"" + form_id + "\" version=\"2026112901\" "
        'xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa" '
        'xmlns:odk="http://www.opendatakit.org/xforms" xmlns:orx="http://openrosa.org/xforms">'
        f"<title>{title}</title><description>Armed men stop vehicles and demand money.</description>"
        "<incident_time>2026-11-28T09:45:00.000+01:00</incident_time>"
        "<location>4.3891 18.5273 371.0 4.8</location><photo>1764322181000.jpg</photo>"
        "<start>2026-11-28T10:21:03.412+01:00</start><end>2026-11-28T10:29:41.118+01:00</end>"
        f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


def multipart(xml: bytes, *, photo: bytes | None = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9") -> bytes:
    """The body OkHttp builds for Collect: the XML part first, then each media file."""
    parts = [(b"xml_submission_file", b"submission.xml", b"text/xml", xml)]
    if photo is not None:
        parts.append((b"1764322181000.jpg", b"1764322181000.jpg", b"image/jpeg", photo))
    body = b""
    for name, filename, content_type, content in parts:
        body += (b"--" + BOUNDARY.encode() + b"\r\n"
                 b'Content-Disposition: form-data; name="' + name + b'"; filename="' + filename + b'"\r\n'
                 b"Content-Type: " + content_type + b"\r\n"
                 b"Content-Length: " + str(len(content)).encode() + b"\r\n\r\n" + content + b"\r\n")
    return body + b"--" + BOUNDARY.encode() + b"--\r\n"


def post(client: Client, path: str, body: bytes, **headers):
    return client.generic("POST", path, body, content_type=f"multipart/form-data; boundary={BOUNDARY}",
                          **COLLECT_HEADERS, **headers)


def content(response) -> bytes:
    """The body as Collect reads it: Collect asks for gzip and the server's GZip middleware obliges."""
    if response.get("Content-Encoding") == "gzip":
        return gzip.decompress(response.content)
    return response.content


def assert_openrosa_headers(response) -> None:
    assert response["X-OpenRosa-Version"] == "1.0"
    assert response["Date"].endswith("GMT")
    assert int(response["X-OpenRosa-Accept-Content-Length"]) > 0


@pytest.fixture
def form_source(world, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    form = shipped_form()
    return make_source(world, "openrosa", "incident-form", config={
        "form_id": form.form_id, "version": form.version, "title": form.title, "xform": form.xml,
        "record_defaults": {"kind": "incident", "category": "police.illegal_checkpoint_extortion",
                            "taxonomy_version": "sitaware-default@1.0"}})


def test_form_list_challenges_then_lists_the_form_with_its_md5(form_source):
    client = Client()
    anonymous = client.get("/intake/openrosa/formList", **COLLECT_HEADERS)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Basic realm=")
    assert_openrosa_headers(anonymous)
    listed = client.get("/intake/openrosa/formList", **COLLECT_HEADERS, **basic("rita"))
    assert listed.status_code == 200 and listed["Content-Type"].startswith("text/xml")
    assert_openrosa_headers(listed)
    text = content(listed).decode()
    assert '<xforms xmlns="http://openrosa.org/xforms/xformsList">' in text
    assert "<formID>incident_report</formID>" in text and "<version>2026112901</version>" in text
    md5 = hashlib.md5(form_source.config["xform"].encode(), usedforsecurity=False).hexdigest()
    assert f"<hash>md5:{md5}</hash>" in text
    assert "<downloadUrl>http://testserver/intake/openrosa/forms/incident_report.xml</downloadUrl>" in text
    download = client.get("/intake/openrosa/forms/incident_report.xml", **COLLECT_HEADERS, **basic("rita"))
    assert download.status_code == 200 and hashlib.md5(content(download), usedforsecurity=False).hexdigest() == md5
    assert_openrosa_headers(download)


def test_form_list_shows_only_your_organisations_forms(world, form_source):
    listed = Client().get("/intake/openrosa/formList", **COLLECT_HEADERS, **basic("hana"))
    assert listed.status_code == 200 and b"<xform>" not in content(listed)
    assert Client().get("/intake/openrosa/formList", **COLLECT_HEADERS,
                        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"rita:wrong").decode()).status_code == 401


def test_head_submission_answers_204_with_the_accepted_length(form_source):
    client = Client()
    assert client.head("/intake/openrosa/submission", **COLLECT_HEADERS).status_code == 401
    answer = client.head("/intake/openrosa/submission", **COLLECT_HEADERS, **basic("rita"))
    assert answer.status_code == 204
    assert_openrosa_headers(answer)


def test_a_submission_is_201_with_an_openrosa_response_and_one_item(world, form_source):
    instance = f"uuid:{uuid.uuid4()}"
    answer = post(Client(), "/intake/openrosa/submission", multipart(submission_xml(instance)), **basic("rita"))
    assert answer.status_code == 201, answer.content
    assert_openrosa_headers(answer)
    assert b'<OpenRosaResponse xmlns="http://openrosa.org/http/response">' in content(answer)
    assert b'nature="submit_success"' in content(answer)
    item = IntakeItem.objects.get()
    assert item.external_id == instance and bytes(item.raw) == submission_xml(instance)
    assert item.title == "Roadblock at PK12" and (item.latitude, item.longitude) == (4.3891, 18.5273)
    assert item.occurred_at == dt.datetime(2026, 11, 28, 8, 45, tzinfo=dt.UTC)
    assert item.provenance["submitted_by"] == "rita" and "odk.collect" in item.provenance["device"]
    assert item.provenance["fields"]["description"].startswith("Armed men")
    [photo] = item.attachments
    assert photo["name"] == "1764322181000.jpg" and photo["content_type"] == "image/jpeg"
    assert photo["sha256"] == hashlib.sha256(b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9").hexdigest()


def test_a_resubmission_of_the_same_instance_is_accepted_but_stored_once(form_source):
    instance = f"uuid:{uuid.uuid4()}"
    client = Client()
    assert post(client, "/intake/openrosa/submission", multipart(submission_xml(instance), photo=None),
                **basic("rita")).status_code == 201
    again = post(client, "/intake/openrosa/submission", multipart(submission_xml(instance)), **basic("rita"))
    assert again.status_code == 202 and b"already received" in content(again)
    assert_openrosa_headers(again)
    item = IntakeItem.objects.get()
    # The second POST of a split submission brought the photo: it joins the same item.
    assert [a["name"] for a in item.attachments] == ["1764322181000.jpg"]


def test_a_token_in_the_path_authenticates_like_odk_central_app_users(world, form_source):
    token = create_token(world.users["rex"], "collect on tablet 3")
    base = f"/intake/openrosa/key/{token}"
    listed = Client().get(f"{base}/formList", **COLLECT_HEADERS)
    assert listed.status_code == 200
    assert f"http://testserver{base}/forms/incident_report.xml".encode() in content(listed)
    assert Client().get(f"{base}/forms/incident_report.xml", **COLLECT_HEADERS).status_code == 200
    assert Client().head(f"{base}/submission", **COLLECT_HEADERS).status_code == 204
    answer = post(Client(), f"{base}/submission", multipart(submission_xml(f"uuid:{uuid.uuid4()}")))
    assert answer.status_code == 201
    assert Client().get("/intake/openrosa/key/sat_not-a-token/formList", **COLLECT_HEADERS).status_code == 401


@pytest.mark.parametrize(("body", "status", "words"), [
    (multipart(b"<data id='incident_report'><title>unclosed</data>"), 400, b"not well-formed"),
    (multipart(b"<data id='incident_report'><title>x</title></data>"), 400, b"instanceID"),
    (multipart(b'<!DOCTYPE d [<!ENTITY a "aaaaaaaa">]><data id="incident_report">&a;</data>'), 400, b"forbidden"),
    (multipart(submission_xml("uuid:1", form_id="other_form")), 404, b"No form"),
    (b"--" + BOUNDARY.encode() + b"--\r\n", 400, b"xml_submission_file"),
])
def test_bad_submissions_are_refused_with_a_reason(form_source, body, status, words):
    answer = post(Client(), "/intake/openrosa/submission", body, **basic("rita"))
    assert answer.status_code == status and words in content(answer)
    assert_openrosa_headers(answer)
    assert not IntakeItem.objects.exists()


def test_a_submission_over_the_announced_length_is_413(form_source):
    from sitaware.ingest.openrosa import ACCEPT_CONTENT_LENGTH

    answer = post(Client(), "/intake/openrosa/submission", multipart(submission_xml("uuid:big")), **basic("rita"),
                  CONTENT_LENGTH=str(ACCEPT_CONTENT_LENGTH + 1))
    assert answer.status_code == 413
    assert_openrosa_headers(answer)


def test_roles_that_cannot_create_cannot_submit(form_source):
    answer = post(Client(), "/intake/openrosa/submission", multipart(submission_xml("uuid:c")), **basic("cora"))
    assert answer.status_code == 403
    assert_openrosa_headers(answer)


def test_a_browser_session_is_not_an_openrosa_credential(world, form_source):
    client = Client()
    client.force_login(world.users["rita"])
    # No CSRF token, no Authorization header: a cookie alone must not submit on someone's behalf.
    assert post(client, "/intake/openrosa/submission", multipart(submission_xml("uuid:s"))).status_code == 401


def test_a_submission_becomes_a_draft_record_with_the_forms_defaults(world, actor, form_source):
    post(Client(), "/intake/openrosa/submission", multipart(submission_xml("uuid:rec")), **basic("rita"))
    item = services.turn_into_record(actor("ana"), IntakeItem.objects.get().pk, {})
    record = item.record
    assert record.category == "police.illegal_checkpoint_extortion" and record.source_type == "field_report"
    assert (record.latitude, record.longitude) == (4.3891, 18.5273)
    assert record.created_by_id == world.users["ana"].pk


def test_collect_shows_the_answer_in_the_field_users_language(form_source):
    answer = post(Client(), "/intake/openrosa/submission", multipart(submission_xml("uuid:fr")), **basic("rita"),
                  HTTP_ACCEPT_LANGUAGE="fr-CF,fr;q=0.9")
    assert answer.status_code == 201
    assert "Merci : votre rapport a bien été reçu." in content(answer).decode()
