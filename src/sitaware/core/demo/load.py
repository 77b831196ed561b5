"""Writing the demo into the database: the world (organisations, units, accounts, agreements) and the records,
all through the same services and change log as real data."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import transaction

from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.demo.generate import DemoRecord, Generator
from sitaware.core.demo.scenario import (
    AGREEMENTS,
    DEMO_PASSWORD,
    DEMO_SOURCE,
    MARKER_ACTION,
    ORGANISATIONS,
    users,
)
from sitaware.core.models import ChangeEntry, Membership, Organisation, SharingAgreement, Unit
from sitaware.core.scope import Actor, actor_for
from sitaware.core.services import create_user
from sitaware.records import jobs
from sitaware.records.bulk import BulkResult, bulk_upsert
from sitaware.records.importers.ucdp_ged import EXTERNAL_SOURCE as UCDP_SOURCE
from sitaware.records.models import ImportJob, Record

User = get_user_model()
BATCH = 1000
# Sources of records the demo itself writes; anything else in the database is someone's real work.
DEMO_RECORD_SOURCES = frozenset({DEMO_SOURCE, UCDP_SOURCE})
# The real UCDP events are filed by UNPOL headquarters as published, public dataset records.
UCDP_AUTHOR = "unpol.supervisor"
UCDP_UNIT = "bangui-hq"


@dataclass
class WorldSummary:
    organisations: int = 0
    units: int = 0
    users: int = 0
    agreements: int = 0

    def created_anything(self) -> bool:
        return any((self.organisations, self.units, self.users, self.agreements))


@dataclass
class LoadSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, result: BulkResult) -> None:
        self.created += result.created
        self.updated += result.updated
        self.unchanged += result.unchanged
        self.errors.extend(result.errors)


def _log(actor: Actor, entries: list[PendingEntry]) -> None:
    changelog.append(entries, actor_id=actor.user_id, actor_label=actor.label)


def ensure_world(actor: Actor) -> WorldSummary:
    """Create what is missing of the demo's organisations, units, accounts and agreements; touch nothing else."""
    summary = WorldSummary()
    with transaction.atomic():
        orgs: dict[str, Organisation] = {}
        for spec in ORGANISATIONS:
            org, created = Organisation.objects.get_or_create(code=spec.code,
                                                              defaults={"name": spec.name, "kind": spec.kind})
            orgs[spec.code] = org
            entries = []
            if created:
                summary.organisations += 1
                entries.append(PendingEntry("organisation.create", "organisation", str(org.pk), organisation_id=org.pk,
                                            after={"code": org.code, "name": org.name, "kind": org.kind}))
            hq = None
            for unit_spec in spec.units:
                unit, created = Unit.objects.get_or_create(organisation=org, code=unit_spec.code,
                                                           defaults={"name": unit_spec.name, "parent": hq})
                hq = hq or unit
                if created:
                    summary.units += 1
                    entries.append(PendingEntry("unit.create", "unit", str(unit.pk), organisation_id=org.pk,
                                                after={"organisation": org.code, "code": unit.code,
                                                       "name": unit.name}))
            _log(actor, entries)
        for spec in AGREEMENTS:
            agreement, created = SharingAgreement.objects.get_or_create(
                reference=spec.reference,
                defaults={"provider": orgs[spec.provider], "recipient": orgs[spec.recipient],
                          "max_sensitivity": spec.max_sensitivity, "statuses": list(spec.statuses),
                          "redacted_fields": list(spec.redacted_fields)},
            )
            if created:
                summary.agreements += 1
                _log(actor, [PendingEntry("agreement.create", "sharing_agreement", str(agreement.pk),
                                          organisation_id=agreement.provider_id,
                                          after={"reference": spec.reference, "provider": spec.provider,
                                                 "recipient": spec.recipient,
                                                 "max_sensitivity": spec.max_sensitivity,
                                                 "statuses": list(spec.statuses),
                                                 "redacted_fields": list(spec.redacted_fields)})])
        existing = set(User.objects.filter(username__in=[u.username for u in users()])
                       .values_list("username", flat=True))
        # One hash for every demo account: hashing is slow on purpose, and the password is public anyway.
        password_hash = make_password(DEMO_PASSWORD)
        for spec in users():
            if spec.username in existing:
                continue
            unit = Unit.objects.get(organisation=orgs[spec.organisation], code=spec.unit)
            user = create_user(actor, username=spec.username, password=None, organisation=orgs[spec.organisation],
                               role=spec.role, clearance=spec.clearance, unit=unit)
            user.password = password_hash
            user.save(update_fields=["password"])
            summary.users += 1
    # Through the oversight app's services: core must not reach into its tables.
    from sitaware.oversight.services import ensure_builtin_components

    ensure_builtin_components(actor)
    return summary


def demo_actors() -> dict[str, Actor]:
    names = [u.username for u in users()]
    members = Membership.objects.filter(user__username__in=names).select_related("user")
    return {m.user.username: actor_for(m.user) for m in members}


def load_records(generator: Generator, count: int, *, progress: Callable[[int], None] | None = None,
                 start: int = 0) -> LoadSummary:
    """Upsert records start..count-1, each by its author, in batches; idempotent on the demo's external ids."""
    actors = demo_actors()
    summary = LoadSummary()
    for begin in range(start, count, BATCH):
        batch = [generator.record(i) for i in range(begin, min(count, begin + BATCH))]
        for author, rows in _by_author(batch).items():
            summary.add(bulk_upsert(actors[author], [(r.index, r.payload) for r in rows], reason="demo"))
        if progress:
            progress(len(batch))
    return summary


def _by_author(batch: Iterable[DemoRecord]) -> dict[str, list[DemoRecord]]:
    groups: dict[str, list[DemoRecord]] = defaultdict(list)
    for record in batch:
        groups[record.author].append(record)
    return groups


def import_ucdp(path: Path, progress: jobs.Progress | None = None) -> ImportJob:
    """Import the real UCDP GED events as an ordinary import job of UNPOL, so the demo shows one too."""
    actor = demo_actors()[UCDP_AUTHOR]
    options = jobs.import_options(actor, "ucdp", sensitivity="public", status="published", reporting_unit=UCDP_UNIT)
    stored, sha256 = jobs.store_file(path)
    job = jobs.create_import_job(actor, format="ucdp", filename=path.name, path=stored, sha256=sha256,
                                 options=options)
    return jobs.run_import(job.pk, progress=progress)


@dataclass(frozen=True)
class Marker:
    seed: int
    records: int
    anchor: dt.datetime
    ucdp: int


def last_marker(seed: int) -> Marker | None:
    """The last demo load for this seed: its anchor keeps a second run's dates identical to the first's."""
    entry = ChangeEntry.objects.filter(action=MARKER_ACTION, object_id=f"seed-{seed}").order_by("-seq").first()
    if entry is None:
        return None
    after = entry.payload["after"]
    return Marker(after["seed"], after["records"], dt.datetime.fromisoformat(after["anchor"]), after.get("ucdp", 0))


def write_marker(actor: Actor, marker: Marker, places: str) -> None:
    with transaction.atomic():
        _log(actor, [PendingEntry(MARKER_ACTION, "demo", f"seed-{marker.seed}",
                                  after={"seed": marker.seed, "records": marker.records,
                                         "anchor": marker.anchor.isoformat(), "ucdp": marker.ucdp,
                                         "places": places})])


def foreign_data() -> list[str]:
    """What in the database is not the demo's: a reset must not destroy anyone's real work."""
    problems = []
    demo_orgs = {org.code for org in ORGANISATIONS}
    demo_users = {u.username for u in users()}
    orgs = sorted(set(Organisation.objects.values_list("code", flat=True)) - demo_orgs)
    if orgs:
        problems.append(f"organisations not from the demo: {', '.join(orgs[:5])}")
    accounts = sorted(set(User.objects.values_list("username", flat=True)) - demo_users)
    if accounts:
        problems.append(f"accounts not from the demo: {', '.join(accounts[:5])}")
    records = Record.objects.exclude(external_source__in=DEMO_RECORD_SOURCES).count()
    if records:
        problems.append(f"{records} records not written by the demo")
    return problems


def demo_loaded() -> bool:
    return ChangeEntry.objects.filter(action=MARKER_ACTION).exists()


def is_demo_database() -> bool:
    """A database the demo was loaded into before (whatever was added since) or one that holds nothing else."""
    return demo_loaded() or not foreign_data()


def reset() -> None:
    """Empty every table (the change log included: a demo's history is not worth keeping)."""
    call_command("flush", interactive=False, verbosity=0)
