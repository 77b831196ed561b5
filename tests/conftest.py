"""Shared fixtures: a small world of two organisations and personas in every role.

Personas (after Healthchecks' alice/bob/charlie): in UNPOL, `rita` reports, `ana` analyses,
`sam` supervises, `cora` commands, `otto` oversees, `adam` administers, all in unit `bangui-hq` except
`rex`, a reporter of unit `bria`. In the host-state police (HSP), `hugo` analyses and `hana` reports.
HSP shares verified and published records up to restricted with UNPOL (agreement `SA-HSP-UNPOL-1`,
narrative withheld); UNPOL shares nothing with HSP.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def skip_or_fail(reason: str) -> None:
    """Skip a test whose prerequisite is missing here; under CI (CI set and not 0/false) fail it instead."""
    if os.environ.get("CI") not in (None, "", "0", "false"):
        pytest.fail(reason)
    pytest.skip(reason)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips with a reason when absent, fails when CI is set."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        skip_or_fail(f"shared data not found at {path} (expected ../shared beside the repository)")
    return path


@pytest.fixture(autouse=True)
def _no_language_left_behind():
    # A request through the test client in French leaves French active in this thread (LocaleMiddleware does not
    # deactivate): the next test's messages would be French. Every test starts and ends in the default language.
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs ~0.3 s a user; tests make dozens of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db):
    from django.contrib.auth import get_user_model

    from sitaware.core.models import Membership, Organisation, SharingAgreement, Unit

    User = get_user_model()
    unpol = Organisation.objects.create(code="unpol", name="UN Police", kind="un_police")
    hsp = Organisation.objects.create(code="hsp", name="Police nationale", kind="host_state_police")
    hq = Unit.objects.create(organisation=unpol, code="bangui-hq", name="Bangui HQ")
    bria = Unit.objects.create(organisation=unpol, code="bria", name="Bria team site")
    hsp_unit = Unit.objects.create(organisation=hsp, code="cnp-bangui", name="CNP Bangui")
    people = {
        "rita": (unpol, hq, "reporter", 1),
        "rex": (unpol, bria, "reporter", 1),
        "ana": (unpol, hq, "analyst", 2),
        "sam": (unpol, hq, "supervisor", 3),
        "cora": (unpol, hq, "commander", 3),
        "otto": (unpol, hq, "oversight_officer", 3),
        "adam": (unpol, hq, "administrator", 2),
        "hugo": (hsp, hsp_unit, "analyst", 3),
        "hana": (hsp, hsp_unit, "reporter", 1),
        "sara": (hsp, hsp_unit, "supervisor", 3),
    }
    users = {}
    for name, (org, unit, role, clearance) in people.items():
        user = User.objects.create_user(username=name, password="correct horse battery staple")
        Membership.objects.create(user=user, organisation=org, unit=unit, role=role, clearance=clearance)
        users[name] = user
    agreement = SharingAgreement.objects.create(
        reference="SA-HSP-UNPOL-1",
        provider=hsp,
        recipient=unpol,
        max_sensitivity=1,
        statuses=["verified", "published"],
        redacted_fields=["narrative"],
    )

    class World:
        pass

    w = World()
    w.unpol, w.hsp, w.hq, w.bria, w.hsp_unit = unpol, hsp, hq, bria, hsp_unit
    w.users = users
    w.agreement = agreement
    return w


@pytest.fixture
def actor(world):
    from sitaware.core.scope import actor_for

    def make(name: str):
        return actor_for(world.users[name])

    return make


@pytest.fixture
def tokens(world):
    """Authorization headers of a fresh API token per persona: `client.get(url, **tokens("ana"))`."""
    from sitaware.core.services import create_token

    made: dict[str, str] = {}

    def token(name: str) -> dict[str, str]:
        if name not in made:
            made[name] = create_token(world.users[name], "tests")
        return {"HTTP_AUTHORIZATION": f"Bearer {made[name]}"}

    return token


def record_payload(**overrides) -> dict:
    """A valid record payload (Bangui); override any field."""
    payload = {
        "kind": "incident",
        "category": "police.armed_robbery",
        "taxonomy_version": "sitaware-default@1.0",
        "occurred_at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat(),
        "time_precision": "hour",
        "latitude": 4.3612,
        "longitude": 18.5550,
        "location_precision": "exact",
        "admin1": "Bangui",
        "place_name": "PK5",
        "title": "Armed robbery at PK5 market",
        "narrative": "Two armed men robbed a trader at PK5 market.",
        "source_type": "field_report",
        "source_reliability": "B",
        "information_credibility": 2,
        "source_identity": "informant 7",
        "sensitivity": "restricted",
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def make_record(world, actor):
    from sitaware.records import services

    def make(author: str = "ana", status: str | None = None, **overrides):
        record = services.create_record(actor(author), record_payload(**overrides))
        path = ["in_review", "verified", "published", "archived"]
        if status and status != "draft":
            for step in path[: path.index(status) + 1]:
                record = services.transition(_system(), record.id, step)
        return record

    return make


def _system():
    from sitaware.core.scope import system_actor

    return system_actor("test")


@pytest.fixture(scope="session")
def release_server_connections(django_db_setup, django_db_blocker):
    """For tests that serve the app with uvicorn in a thread: its worker threads (and Playwright's event loop,
    where Django's connections are per context) open database connections nobody closes. At the end of the
    run, before the test database is dropped, they are ended, or PostgreSQL would refuse to drop it."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")
