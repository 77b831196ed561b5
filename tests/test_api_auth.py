"""API authentication: tokens for machines, sessions with CSRF for browsers, the current user, token
management, and the docs page working without internet."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from tests.conftest import record_payload

API = "/api/v1"
CSRF = "A" * 32  # any 32 letters/digits are a well-formed CSRF secret


def _bearer(secret: str, **kwargs) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}", **kwargs)


def _session(user, *, csrf: bool = True) -> Client:
    """A browser: logged in, CSRF enforced; with `csrf`, it holds the cookie and will send the header."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    if csrf:
        client.cookies["csrftoken"] = CSRF
    return client


def _record_count() -> int:
    from sitaware.records.models import Record

    return Record.objects.count()


def _entry_count() -> int:
    from sitaware.core.models import ChangeEntry

    return ChangeEntry.objects.count()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/records"),
        ("post", "/records"),
        ("get", "/records/00000000-0000-0000-0000-000000000001"),
        ("patch", "/records/00000000-0000-0000-0000-000000000001"),
        ("post", "/records/00000000-0000-0000-0000-000000000001/transitions"),
        ("get", "/records/00000000-0000-0000-0000-000000000001/revisions"),
        ("get", "/changes"),
        ("get", "/taxonomies"),
        ("get", "/taxonomies/sitaware-default@1.0"),
        ("get", "/me"),
        ("get", "/tokens"),
        ("post", "/tokens"),
        ("delete", "/tokens/1"),
    ],
)
def test_every_endpoint_refuses_an_unauthenticated_caller_with_401(method, path, world):
    response = getattr(Client(enforce_csrf_checks=True), method)(f"{API}{path}", {}, content_type="application/json")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def test_a_token_authenticates_a_machine_without_csrf(world):
    from sitaware.core.services import create_token

    machine = _bearer(create_token(world.users["ana"], "sensor"), enforce_csrf_checks=True)
    assert machine.get(f"{API}/me").json()["username"] == "ana"
    assert machine.post(f"{API}/records", record_payload(), content_type="application/json").status_code == 201


def test_a_wrong_revoked_or_expired_token_is_refused_with_401(world):
    from sitaware.core.models import ApiToken
    from sitaware.core.services import create_token

    user = world.users["ana"]
    revoked = create_token(user, "old laptop")
    ApiToken.objects.filter(prefix=revoked[:12]).update(revoked=True)
    expired = create_token(user, "trial", expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    before = _record_count()
    for secret in (revoked, expired, "sat_not-a-real-token", "not-even-prefixed"):
        assert _bearer(secret).get(f"{API}/me").status_code == 401, secret
        posted = _bearer(secret).post(f"{API}/records", record_payload(), content_type="application/json")
        assert posted.status_code == 401, secret
    assert _record_count() == before


def test_a_session_authenticates_a_browser_and_me_hands_it_a_csrf_cookie(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["sam"])
    response = browser.get(f"{API}/me")
    assert response.status_code == 200
    assert response.json() == {
        "username": "sam",
        "organisation": {"code": "unpol", "name": "UN Police"},
        "unit": {"code": "bangui-hq", "name": "Bangui HQ"},
        "role": "supervisor",
        "clearance": {"level": 3, "name": "strictly_confidential"},
        "actions": ["archive", "change", "create", "decide", "export", "import", "publish", "review", "submit",
                    "view"],
    }
    token = browser.cookies["csrftoken"].value
    created = browser.post(f"{API}/records", record_payload(), content_type="application/json",
                           HTTP_X_CSRFTOKEN=token)
    assert created.status_code == 201


def test_a_session_write_without_the_csrf_token_is_refused_and_writes_nothing(world, make_record):
    record = make_record("sam")
    browser = _session(world.users["sam"])
    before = (_record_count(), _entry_count())
    attempts = [
        browser.post(f"{API}/records", record_payload(), content_type="application/json"),
        browser.patch(f"{API}/records/{record.id}", {"base_version": 1, "title": "x"},
                      content_type="application/json"),
        browser.post(f"{API}/records/{record.id}/transitions", {"to": "in_review"}, content_type="application/json"),
        browser.post(f"{API}/records", record_payload(), content_type="application/json",
                     HTTP_X_CSRFTOKEN="B" * 32),
    ]
    for response in attempts:
        assert response.status_code == 403
        assert "X-CSRFToken" in response.json()["detail"]
    assert (_record_count(), _entry_count()) == before
    # Reads need no CSRF token; the same write with it goes through.
    assert browser.get(f"{API}/records/{record.id}").status_code == 200
    ok = browser.post(f"{API}/records", record_payload(), content_type="application/json", HTTP_X_CSRFTOKEN=CSRF)
    assert ok.status_code == 201


def test_an_account_in_no_organisation_is_refused(db):
    from django.contrib.auth import get_user_model

    from sitaware.core.services import create_token

    loner = get_user_model().objects.create_user(username="loner", password="correct horse battery staple")
    response = _bearer(create_token(loner, "x")).get(f"{API}/records")
    assert response.status_code == 403
    assert "no organisation" in response.json()["detail"]


# ---------------------------------------------------------------- tokens


def test_a_user_makes_a_token_for_themself_and_sees_its_secret_only_once(world):
    browser = _session(world.users["rita"])
    response = browser.post(f"{API}/tokens", {"name": "tablet"}, content_type="application/json",
                            HTTP_X_CSRFTOKEN=CSRF)
    assert response.status_code == 201, response.content
    made = response.json()
    assert made["name"] == "tablet" and made["active"] is True and made["secret"].startswith(made["prefix"])
    assert _bearer(made["secret"]).get(f"{API}/me").json()["username"] == "rita"
    listing = browser.get(f"{API}/tokens")
    assert [t["id"] for t in listing.json()["items"]] == [made["id"]]
    assert made["secret"] not in listing.content.decode()
    assert "secret" not in listing.json()["items"][0]


def test_making_a_token_needs_a_session_a_name_and_a_future_expiry(world):
    from sitaware.core.models import ApiToken
    from sitaware.core.services import create_token

    machine = _bearer(create_token(world.users["rita"], "sensor"))
    assert machine.post(f"{API}/tokens", {"name": "more"}, content_type="application/json").status_code == 401
    browser = _session(world.users["rita"])
    count = ApiToken.objects.count()
    for body, field, words in [
        ({"name": ""}, "name", "at least 1 character"),
        ({"name": "x", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at", "in the past"),
        ({"name": "x", "expires_at": "2099-01-01T00:00:00"}, "expires_at", "needs a time zone"),
        ({"name": "x", "scopes": ["all"]}, "scopes", "not a field of this form"),
    ]:
        response = browser.post(f"{API}/tokens", body, content_type="application/json", HTTP_X_CSRFTOKEN=CSRF)
        assert response.status_code == 400, body
        assert any(p["field"] == field and words in p["message"] for p in response.json()["errors"]), response.json()
    without_csrf = browser.post(f"{API}/tokens", {"name": "x"}, content_type="application/json")
    assert without_csrf.status_code == 403
    assert ApiToken.objects.count() == count


def test_revoking_a_token_stops_it_at_once_and_is_logged(world):
    from sitaware.core.models import ApiToken, ChangeEntry
    from sitaware.core.services import create_token

    secret = create_token(world.users["ana"], "sensor")
    token = ApiToken.objects.get(prefix=secret[:12])
    machine = _bearer(secret)
    assert machine.get(f"{API}/me").status_code == 200
    browser = _session(world.users["ana"])
    assert browser.delete(f"{API}/tokens/{token.pk}", HTTP_X_CSRFTOKEN=CSRF).status_code == 204
    assert machine.get(f"{API}/me").status_code == 401
    entry = ChangeEntry.objects.get(action="token.revoke", object_id=str(token.pk))
    assert entry.actor_label == "ana" and entry.payload["after"]["revoked"] is True
    assert browser.get(f"{API}/tokens").json()["items"][0]["active"] is False
    # Revoking again changes nothing and logs nothing more.
    assert browser.delete(f"{API}/tokens/{token.pk}", HTTP_X_CSRFTOKEN=CSRF).status_code == 204
    assert ChangeEntry.objects.filter(action="token.revoke").count() == 1


def test_nobody_can_see_or_revoke_another_users_token(world):
    from sitaware.core.models import ApiToken
    from sitaware.core.services import create_token

    secret = create_token(world.users["ana"], "sensor")
    token = ApiToken.objects.get(prefix=secret[:12])
    adam = _session(world.users["adam"])
    assert adam.get(f"{API}/tokens").json()["items"] == []
    response = adam.delete(f"{API}/tokens/{token.pk}", HTTP_X_CSRFTOKEN=CSRF)
    assert response.status_code == 404
    assert _bearer(secret).get(f"{API}/me").status_code == 200


# ---------------------------------------------------------------- docs


def test_the_openapi_document_describes_every_endpoint(world):
    document = Client().get(f"{API}/openapi.json").json()
    for path in ("/records", "/records/{record_id}", "/records/{record_id}/transitions",
                 "/records/{record_id}/revisions", "/changes", "/taxonomies", "/taxonomies/{key}", "/me",
                 "/tokens", "/tokens/{token_id}"):
        assert f"{API}{path}" in document["paths"], path
    schemes = document["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}


def test_the_docs_page_loads_nothing_from_the_internet(world):
    from django.contrib.staticfiles import finders

    page = Client().get(f"{API}/docs").content.decode()
    assert "swagger-ui-bundle.js" in page
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", page)
    assert external == [], "the docs page must use the bundled swagger assets, not a CDN"
    for asset in re.findall(r"""(?:src|href)=["']/static/([^"']+)["']""", page):
        assert finders.find(asset), f"static asset {asset} is not shipped"
