"""The organisations, units and personas a benchmark database holds (needs Django set up)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.generate import UNITS

# name: (organisation, unit code, role, clearance). The importers are supervisors so that records can
# be filed in every status and sensitivity; the others are whose scope the list benchmark measures.
PERSONAS: dict[str, tuple[str, str, str, int]] = {
    "unpol-importer": ("unpol", "unpol-bangui", "supervisor", 3),
    "hsp-importer": ("hsp", "cnp-bangui", "supervisor", 3),
    "unpol-analyst": ("unpol", "unpol-bangui", "analyst", 2),
    "unpol-reporter": ("unpol", "unpol-bria", "reporter", 1),
    "unpol-commander": ("unpol", "unpol-bangui", "commander", 3),
    "hsp-analyst": ("hsp", "cnp-bambari", "analyst", 3),
}


@dataclass
class World:
    organisations: dict[str, Any]
    users: dict[str, Any]

    def actor(self, name: str):
        from sitaware.core.scope import actor_for

        return actor_for(self.users[name])


def ensure_world() -> World:
    """Create (or find) the benchmark's organisations, units, users and the HSP→UNPOL agreement."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from sitaware.core.models import Membership, Organisation, SharingAgreement, Unit

    User = get_user_model()
    with transaction.atomic():
        orgs = {
            "unpol": Organisation.objects.get_or_create(
                code="unpol", defaults={"name": "UN Police", "kind": "un_police"})[0],
            "hsp": Organisation.objects.get_or_create(
                code="hsp", defaults={"name": "Police nationale", "kind": "host_state_police"})[0],
        }
        units = {}
        for spec in UNITS:
            units[spec.code] = Unit.objects.get_or_create(
                organisation=orgs[spec.organisation], code=spec.code, defaults={"name": spec.name})[0]
        users = {}
        for name, (org, unit, role, clearance) in PERSONAS.items():
            user = User.objects.filter(username=name).first()
            if user is None:
                user = User.objects.create_user(username=name, password=None)
                Membership.objects.create(user=user, organisation=orgs[org], unit=units[unit], role=role,
                                          clearance=clearance)
            users[name] = user
        SharingAgreement.objects.get_or_create(
            reference="SA-HSP-UNPOL-BENCH",
            defaults={"provider": orgs["hsp"], "recipient": orgs["unpol"], "max_sensitivity": 1,
                      "statuses": ["verified", "published"], "redacted_fields": ["narrative"]},
        )
    return World(orgs, users)
