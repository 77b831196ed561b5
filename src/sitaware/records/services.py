"""Public services of the records app: the only way other apps, the API and the CLI touch records."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from pydantic import ValidationError

from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Role
from sitaware.core.models import AccessEvent, SharingAgreement, Unit
from sitaware.core.scope import (
    SOURCE_IDENTITY_ROLES,
    Actor,
    active_agreements,
    authored_q,
    restrict,
    visibility_q,
)
from sitaware.records import geo, vocab
from sitaware.records.errors import (
    RecordNotFound,
    RecordValidationError,
    TransitionRefused,
    VersionConflict,
    problems_from_pydantic,
)
from sitaware.records.models import Record, RecordRevision
from sitaware.records.schema import Casualties, RecordCreate, RecordUpdate
from sitaware.records.taxonomy import TaxonomyError, TaxonomyRegistry

REDACTED = None
SNAPSHOT_FIELDS = (
    "kind", "category", "taxonomy_version", "title", "narrative", "occurred_at", "occurred_until",
    "time_precision", "reported_at", "latitude", "longitude", "location_precision", "admin1", "admin2",
    "place_name", "h3_cell", "source_type", "source_reliability", "information_credibility", "source_identity",
    "source_reference", "casualties", "fatalities", "sensitivity", "status", "organisation", "reporting_unit",
    "origin_site", "version", "external_source", "external_id",
)
EDITABLE_FIELDS = frozenset(RecordUpdate.model_fields) - {"base_version", "reason"}
# Columns an update may change: the editable fields and what is derived from them.
UPDATABLE_COLUMNS = tuple(sorted(EDITABLE_FIELDS | {"h3_cell", "h3_coarse", "fatalities"}))


def taxonomies() -> TaxonomyRegistry:
    return TaxonomyRegistry(settings.SITAWARE_TAXONOMY_DIRS)


# ---------------------------------------------------------------- reading


def scoped_records(actor: Actor) -> QuerySet:
    """Every record `actor` may see. All reads of records start here."""
    return restrict(Record.objects.all(), actor)


def group_scoped_records(actor: Actor, agreements: list[SharingAgreement]) -> tuple[QuerySet, QuerySet]:
    """For a read shared by everyone of the actor's `scope_group` (the live feed's fan-out): the records every
    member sees, and the records a member sees only as their author (keep those whose `created_by_id` is the
    member's). Together, per member, exactly `scoped_records`."""
    common = Record.objects.filter(visibility_q(Record, actor, agreements, authored=False))
    authored = Record.objects.filter(authored_q(Record, actor, any_author=True))
    return common, authored


def get_record(actor: Actor, record_id: uuid.UUID | str, *, for_update: bool = False) -> Record:
    try:
        key = uuid.UUID(str(record_id))
    except ValueError:
        raise RecordNotFound(f"no record {record_id}") from None
    qs = scoped_records(actor).select_related("organisation", "reporting_unit")
    if for_update:
        # Lock the record row only: locking the joined organisation row too would deadlock concurrent writers.
        qs = qs.select_for_update(of=("self",))
    record = qs.filter(pk=key).first()
    if record is None:
        raise RecordNotFound(f"no record {record_id}")
    return record


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def snapshot_of(record: Record, *, unit_code: str | None = None, org_code: str | None = None) -> dict[str, Any]:
    """The record's state as plain JSON values: what revisions store and the change log hashes."""
    return {
        "id": str(record.id),
        "kind": record.kind,
        "category": record.category,
        "taxonomy_version": record.taxonomy_version,
        "title": record.title,
        "narrative": record.narrative,
        "occurred_at": _iso(record.occurred_at),
        "occurred_until": _iso(record.occurred_until),
        "time_precision": record.time_precision,
        "reported_at": _iso(record.reported_at),
        "latitude": record.latitude,
        "longitude": record.longitude,
        "location_precision": record.location_precision,
        "admin1": record.admin1,
        "admin2": record.admin2,
        "place_name": record.place_name,
        "h3_cell": geo.cell_hex(record.h3_cell),
        "source_type": record.source_type,
        "source_reliability": record.source_reliability,
        "information_credibility": record.information_credibility,
        "source_identity": record.source_identity,
        "source_reference": record.source_reference,
        "casualties": record.casualties,
        "fatalities": record.fatalities,
        "sensitivity": record.sensitivity,
        "status": record.status,
        "organisation": org_code or record.organisation.code,
        "reporting_unit": unit_code or record.reporting_unit.code,
        "origin_site": record.origin_site,
        "version": record.version,
        "external_source": record.external_source,
        "external_id": record.external_id,
    }


@dataclass
class Redactor:
    """Decides, for one actor, which fields of which record they may not see. Agreements are read once."""

    actor: Actor
    agreements: dict[Any, SharingAgreement] = field(default_factory=dict)

    @classmethod
    def for_actor(cls, actor: Actor) -> Redactor:
        return cls(actor, {a.provider_id: a for a in active_agreements(actor)} if not actor.system else {})

    def hidden_fields(self, record: Record) -> list[str]:
        actor = self.actor
        if actor.system:
            return []
        hidden: list[str] = []
        own_org = record.organisation_id == actor.organisation_id
        need_to_know = own_org and (
            (record.created_by_id is not None and record.created_by_id == actor.user_id)
            or (actor.role in SOURCE_IDENTITY_ROLES and record.reporting_unit_id == actor.unit_id)
        )
        if not need_to_know:
            hidden.extend(vocab.SOURCE_IDENTITY_FIELDS)
        if not own_org:
            agreement = self.agreements.get(record.organisation_id)
            for name in (agreement.redacted_fields if agreement else []):
                if name not in hidden and name in SNAPSHOT_FIELDS:
                    hidden.append(name)
        return hidden

    def agreement_for(self, record: Record) -> SharingAgreement | None:
        if record.organisation_id == self.actor.organisation_id:
            return None
        return self.agreements.get(record.organisation_id)


def serialize(record: Record, redactor: Redactor) -> dict[str, Any]:
    data = snapshot_of(record)
    hidden = redactor.hidden_fields(record)
    for name in hidden:
        data[name] = REDACTED
    data["redacted_fields"] = hidden
    data["created_at"] = _iso(record.created_at)
    data["updated_at"] = _iso(record.updated_at)
    return data


def read_record(actor: Actor, record_id: uuid.UUID | str) -> dict[str, Any]:
    """One record for display. Reads of other organisations' records, or with fields withheld, are logged."""
    record = get_record(actor, record_id)
    redactor = Redactor.for_actor(actor)
    data = serialize(record, redactor)
    agreement = redactor.agreement_for(record)
    if data["redacted_fields"] or agreement is not None:
        from sitaware.core.context import current_request_id

        AccessEvent.objects.create(
            user_id=actor.user_id,
            object_type="record",
            object_id=str(record.id),
            redacted_fields=data["redacted_fields"],
            agreement=agreement,
            request_id=current_request_id(),
        )
    return data


@dataclass
class RecordFilter:
    bbox: tuple[float, float, float, float] | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    kinds: Sequence[str] = ()
    categories: Sequence[str] = ()
    statuses: Sequence[str] = ()
    sensitivities: Sequence[int] = ()
    source_types: Sequence[str] = ()
    units: Sequence[str] = ()
    text: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if value in (None, "", ()):
                continue
            out[name] = value.isoformat() if isinstance(value, dt.datetime) else list(value) if isinstance(
                value, (tuple, list)) else value
        return out


def filter_records(qs: QuerySet, flt: RecordFilter, *, narrow_by_cells: bool = True) -> QuerySet:
    """`narrow_by_cells=False` leaves out the coarse-cell condition (same rows), for dense boxes in a list."""
    if flt.bbox:
        min_lon, min_lat, max_lon, max_lat = flt.bbox
        qs = qs.filter(
            latitude__gte=min_lat, latitude__lte=max_lat, longitude__gte=min_lon, longitude__lte=max_lon
        )
        covering = geo.coarse_cells_covering(flt.bbox) if narrow_by_cells else None
        if covering is not None:
            # Lets the (h3_coarse, occurred_at) index find the box's records; latitude/longitude alone has none.
            qs = qs.filter(h3_coarse__in=covering)
    if flt.since:
        qs = qs.filter(occurred_at__gte=flt.since)
    if flt.until:
        qs = qs.filter(occurred_at__lt=flt.until)
    if flt.kinds:
        qs = qs.filter(kind__in=list(flt.kinds))
    if flt.categories:
        # A parent category selects its children too.
        rule = Q()
        for code in flt.categories:
            rule |= Q(category=code) | Q(category__startswith=f"{code}.")
        qs = qs.filter(rule)
    if flt.statuses:
        qs = qs.filter(status__in=list(flt.statuses))
    if flt.sensitivities:
        qs = qs.filter(sensitivity__in=list(flt.sensitivities))
    if flt.source_types:
        qs = qs.filter(source_type__in=list(flt.source_types))
    if flt.units:
        qs = qs.filter(reporting_unit__code__in=list(flt.units))
    if flt.text:
        words = flt.text.split()[:8]
        for word in words:
            qs = qs.filter(Q(title__icontains=word) | Q(narrative__icontains=word) | Q(place_name__icontains=word))
    return qs


def encode_cursor(record: Record) -> str:
    raw = f"{record.occurred_at.astimezone(dt.UTC).isoformat()}|{record.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, key = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
        return dt.datetime.fromisoformat(when), uuid.UUID(key)
    except (ValueError, UnicodeDecodeError):
        raise RecordValidationError([{"field": "cursor", "message": "not a cursor this server gave out"}]) from None


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


# Through the coarse-cell index a box's matches are all read, then sorted. When a box holds more than this many
# in the window (a capital over a quarter, say), walking the time index newest-first and testing the box finds
# a page sooner; measured on 1,000,000 records, the crossover is in the low thousands.
DENSE_BOX_ROWS = 2000


def list_records(actor: Actor, flt: RecordFilter, *, cursor: str | None = None, limit: int = 50) -> Page:
    """Newest first, keyset-paginated so page 1,000 costs what page 1 costs."""
    limit = max(1, min(limit, 500))
    scoped = scoped_records(actor)
    qs = filter_records(scoped, flt)
    if flt.bbox and _box_is_dense(flt):
        qs = filter_records(scoped, flt, narrow_by_cells=False)
    # Fetched apart, not joined: a join lets the planner start from the organisation table and sort every
    # matching record, where walking the time index newest-first stops after one page.
    qs = qs.prefetch_related("organisation", "reporting_unit")
    if cursor:
        when, key = decode_cursor(cursor)
        # The plain `<=` lets the time index serve the range; the OR alone would hide it from the planner.
        qs = qs.filter(occurred_at__lte=when).filter(Q(occurred_at__lt=when) | Q(occurred_at=when, id__lt=key))
    rows = list(qs.order_by("-occurred_at", "-id")[: limit + 1])
    redactor = Redactor.for_actor(actor)
    items = [serialize(r, redactor) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return Page(items, next_cursor)


def _box_is_dense(flt: RecordFilter) -> bool:
    """Whether the box's coarse cells hold more than DENSE_BOX_ROWS records in the time window, whoever's they
    are. Read from the (h3_coarse, occurred_at) index alone, so it costs a few milliseconds at most; scope and
    the exact box are left out because this only chooses a plan, never which records are returned."""
    covering = geo.coarse_cells_covering(flt.bbox) if flt.bbox else None
    if covering is None:
        return False
    probe = Record.objects.filter(h3_coarse__in=covering)
    if flt.since:
        probe = probe.filter(occurred_at__gte=flt.since)
    if flt.until:
        probe = probe.filter(occurred_at__lt=flt.until)
    return probe.order_by().values_list("h3_coarse")[: DENSE_BOX_ROWS + 1].count() > DENSE_BOX_ROWS


def count_records(actor: Actor, flt: RecordFilter) -> int:
    return filter_records(scoped_records(actor), flt).count()


def revisions(actor: Actor, record_id: uuid.UUID | str) -> list[dict[str, Any]]:
    record = get_record(actor, record_id)
    redactor = Redactor.for_actor(actor)
    hidden = set(redactor.hidden_fields(record))
    agreement = redactor.agreement_for(record)
    limit = actor.clearance if agreement is None else min(actor.clearance, agreement.max_sensitivity)
    shared_statuses = set(agreement.statuses or ["published"]) if agreement is not None else None
    out = []
    for rev in record.revisions.order_by("version"):
        # An earlier version may have been more sensitive, or (for a partner) not yet in a shared status:
        # its content is withheld, its existence is not.
        withheld = (not actor.system and rev.snapshot.get("sensitivity", 0) > limit) or (
            shared_statuses is not None and rev.snapshot.get("status") not in shared_statuses
        )
        if withheld:
            snapshot = {"version": rev.version, "withheld": True}
        else:
            snapshot = {k: (REDACTED if k in hidden else v) for k, v in rev.snapshot.items()}
        out.append(
            {
                "version": rev.version,
                "at": _iso(rev.at),
                "actor": rev.actor_label,
                "reason": rev.reason,
                "changed_fields": rev.changed_fields,
                "snapshot": snapshot,
                "change_seq": rev.change_seq,
            }
        )
    return out


# ---------------------------------------------------------------- writing


@dataclass
class _Context:
    """Things looked up once per batch instead of once per record."""

    actor: Actor
    units_by_code: dict[str, Unit]
    registry: TaxonomyRegistry
    site_code: str
    org_code: str

    @classmethod
    def for_actor(cls, actor: Actor, organisation_id: Any = None) -> _Context:
        org_id = organisation_id or actor.organisation_id
        if org_id is None:
            raise PermissionDenied("records belong to an organisation; this account has none")
        units = {u.code: u for u in Unit.objects.filter(organisation_id=org_id).select_related("organisation")}
        org_code = next(iter(units.values())).organisation.code if units else ""
        return cls(actor, units, taxonomies(), changelog.local_site().code, org_code)


def _check_category(registry: TaxonomyRegistry, kind: str, category: str, version: str) -> list[dict[str, str]]:
    try:
        taxonomy = registry.get(version)
    except TaxonomyError as exc:
        return [{"field": "taxonomy_version", "message": str(exc)}]
    found = taxonomy.get(category)
    if found is None:
        return [{"field": "category", "message": f"{category!r} is not a category of {version}"}]
    if found.kind != kind:
        return [{"field": "kind", "message": f"category {category!r} is a {found.kind}, not a {kind}"}]
    return []


def _resolve_unit(ctx: _Context, code: str | None) -> Unit:
    actor = ctx.actor
    if code is None:
        unit = next((u for u in ctx.units_by_code.values() if u.pk == actor.unit_id), None)
        if unit is None:
            raise RecordValidationError([{"field": "reporting_unit", "message": "give the reporting unit's code"}])
        return unit
    unit = ctx.units_by_code.get(code)
    if unit is None:
        raise RecordValidationError(
            [{"field": "reporting_unit", "message": f"no unit {code!r} in your organisation"}]
        )
    if actor.role == Role.REPORTER and unit.pk != actor.unit_id:
        raise PermissionDenied("reporters record for their own unit only")
    return unit


def _check_sensitivity(actor: Actor, sensitivity: int) -> None:
    if not actor.system and sensitivity > actor.clearance:
        raise RecordValidationError(
            [{"field": "sensitivity", "message": "above your clearance: you could not read the record back"}]
        )


def _initial_status_permission(actor: Actor, status: str) -> None:
    """Creating a record directly in a later status needs the rights to have moved it there."""
    path = {"draft": [], "in_review": ["submit"], "verified": ["submit", "review"],
            "published": ["submit", "review", "publish"], "archived": ["submit", "review", "publish", "archive"]}
    for action in path[status]:
        if not actor.can(action):
            raise PermissionDenied(f"your role ({actor.role}) may not create records as {status}")


def build_record(ctx: _Context, data: RecordCreate, *, now: dt.datetime) -> Record:
    """Validate against the taxonomy and scope, and make an unsaved Record."""
    problems = _check_category(ctx.registry, data.kind, data.category, data.taxonomy_version)
    if problems:
        raise RecordValidationError(problems)
    _check_sensitivity(ctx.actor, data.sensitivity)
    unit = _resolve_unit(ctx, data.reporting_unit)
    fine, coarse = geo.cells_for(data.latitude, data.longitude, settings.SITAWARE_H3_RESOLUTION)
    casualties: Casualties = data.casualties
    return Record(
        id=data.id or uuid.uuid4(),
        kind=data.kind,
        category=data.category,
        taxonomy_version=data.taxonomy_version,
        title=data.title,
        narrative=data.narrative,
        occurred_at=data.occurred_at,
        occurred_until=data.occurred_until,
        time_precision=data.time_precision,
        reported_at=data.reported_at or now,
        latitude=data.latitude,
        longitude=data.longitude,
        location_precision=data.location_precision,
        admin1=data.admin1,
        admin2=data.admin2,
        place_name=data.place_name,
        h3_cell=fine,
        h3_coarse=coarse,
        source_type=data.source_type,
        source_reliability=data.source_reliability,
        information_credibility=data.information_credibility,
        source_identity=data.source_identity,
        source_reference=data.source_reference,
        casualties=casualties.compact(),
        fatalities=casualties.total("killed"),
        sensitivity=data.sensitivity,
        status=data.status,
        organisation_id=unit.organisation_id,
        reporting_unit=unit,
        created_by_id=ctx.actor.user_id,
        created_at=now,
        updated_at=now,
        origin_site=ctx.site_code,
        version=1,
        external_source=data.external_source,
        external_id=data.external_id,
    )


def validate_create(payload: dict[str, Any] | RecordCreate) -> RecordCreate:
    if isinstance(payload, RecordCreate):
        return payload
    try:
        return RecordCreate.model_validate(payload)
    except ValidationError as exc:
        raise RecordValidationError(problems_from_pydantic(exc)) from None


def _entry(action: str, record: Record, before: Any, after: Any, **extra: Any) -> PendingEntry:
    return PendingEntry(
        action=action,
        object_type="record",
        object_id=str(record.id),
        record_id=record.id,
        organisation_id=record.organisation_id,
        sensitivity=max(record.sensitivity, (before or {}).get("sensitivity", 0) if isinstance(before, dict) else 0),
        before=before,
        after=after,
        extra=extra,
    )


def _revision(record: Record, snapshot: dict, changed: list[str], actor: Actor, reason: str,
              at: dt.datetime) -> RecordRevision:
    return RecordRevision(
        record_id=record.id,
        version=record.version,
        snapshot=snapshot,
        changed_fields=changed,
        reason=reason,
        actor_id=actor.user_id,
        actor_label=actor.label,
        at=at,
    )


def create_record(actor: Actor, payload: dict[str, Any] | RecordCreate) -> Record:
    """Create one record: validation, H3 cell, revision 1 and a change-log entry, in one transaction.

    Creating again with the same client-made id and the same content returns the existing record, so
    a field client retrying after a dropped link does not make a duplicate.
    """
    return create_or_replay(actor, payload)[0]


def create_or_replay(actor: Actor, payload: dict[str, Any] | RecordCreate) -> tuple[Record, bool]:
    """create_record, also saying whether the record was made now (True) or is the author's earlier one
    returned for a retried id (False): the API answers 201 or 200 from it without a second lookup."""
    actor.require("create")
    data = validate_create(payload)
    _initial_status_permission(actor, data.status)
    ctx = _Context.for_actor(actor)
    now = timezone.now()
    record = build_record(ctx, data, now=now)
    with transaction.atomic():
        existing = Record.objects.filter(pk=record.id).first()
        if existing is not None:
            if existing.organisation_id == actor.organisation_id and existing.created_by_id == actor.user_id:
                return existing, False
            raise RecordValidationError([{"field": "id", "message": "this id is already taken"}])
        if record.external_id and Record.objects.filter(
            organisation_id=record.organisation_id,
            external_source=record.external_source,
            external_id=record.external_id,
        ).exclude(external_id="").exists():  # the exclude lets the partial unique index serve the lookup
            raise RecordValidationError(
                [{"field": "external_id", "message": "a record with this external id already exists"}]
            )
        try:
            # A savepoint, so that losing a race on the same client-made id leaves the transaction usable.
            with transaction.atomic():
                record.save(force_insert=True)
        except IntegrityError:
            existing = Record.objects.filter(pk=record.id).first()
            if existing is not None and existing.created_by_id == actor.user_id:
                return existing, False
            raise RecordValidationError([{"field": "id", "message": "this id is already taken"}]) from None
        snapshot = snapshot_of(record, unit_code=record.reporting_unit.code, org_code=ctx.org_code or None)
        entry = changelog.append([_entry("record.create", record, None, snapshot)],
                                 actor_id=actor.user_id, actor_label=actor.label, at=now)[0]
        revision = _revision(record, snapshot, sorted(snapshot), actor, "created", now)
        revision.change_seq = entry.seq
        revision.save()
    return record, True


def _can_change(actor: Actor, record: Record) -> None:
    if actor.system:
        return
    if record.organisation_id != actor.organisation_id:
        raise PermissionDenied("records of another organisation are read-only for you")
    if actor.can("change"):
        return
    if actor.can("change_own") and record.created_by_id == actor.user_id and record.status in ("draft", "in_review"):
        return
    raise PermissionDenied(f"your role ({actor.role}) may not change this record")


def update_record(actor: Actor, record_id: Any, payload: dict[str, Any] | RecordUpdate) -> Record:
    """Apply a partial change as a new revision. A stale base_version is refused, never merged silently."""
    try:
        update = payload if isinstance(payload, RecordUpdate) else RecordUpdate.model_validate(payload)
    except ValidationError as exc:
        raise RecordValidationError(problems_from_pydantic(exc)) from None
    changes = update.changes()
    with transaction.atomic():
        record = get_record(actor, record_id, for_update=True)
        _can_change(actor, record)
        if update.base_version != record.version:
            raise VersionConflict(record.version, update.base_version)
        before = snapshot_of(record)
        current = {k: v for k, v in before.items() if k in EDITABLE_FIELDS}
        current["casualties"] = Casualties.model_validate(_expand_casualties(record.casualties))
        merged = {**current, **{k: v for k, v in changes.items()}}
        merged.update(id=record.id, status=record.status, reporting_unit=record.reporting_unit.code,
                      external_source=record.external_source, external_id=record.external_id)
        if isinstance(merged["casualties"], dict):
            merged["casualties"] = Casualties.model_validate(merged["casualties"])
        data = validate_create(merged)
        ctx = _Context.for_actor(actor, record.organisation_id)
        rebuilt = build_record(ctx, data, now=record.created_at)
        changed = [name for name in UPDATABLE_COLUMNS if getattr(rebuilt, name) != getattr(record, name)]
        if not changed:
            return record
        now = timezone.now()
        for name in changed:
            setattr(record, name, getattr(rebuilt, name))
        changed = [name for name in changed if name != "h3_coarse"]
        record.version += 1
        record.updated_at = now
        record.save()
        after = snapshot_of(record)
        diff_before = {k: before[k] for k in after if before.get(k) != after.get(k)}
        diff_after = {k: after[k] for k in diff_before}
        entry = changelog.append([_entry("record.update", record, diff_before, diff_after, reason=update.reason)],
                                 actor_id=actor.user_id, actor_label=actor.label, at=now)[0]
        revision = _revision(record, after, changed, actor, update.reason, now)
        revision.change_seq = entry.seq
        revision.save()
    return record


def _expand_casualties(compact: dict) -> dict:
    return {group: dict(counts) for group, counts in (compact or {}).items()}


def transition(actor: Actor, record_id: Any, to_status: str, *, reason: str = "",
               base_version: int | None = None) -> Record:
    """Move a record along draft → in_review → verified → published → archived (and back where allowed)."""
    if to_status not in vocab.STATUSES:
        raise RecordValidationError([{"field": "status", "message": f"unknown status {to_status!r}"}])
    with transaction.atomic():
        record = get_record(actor, record_id, for_update=True)
        if base_version is not None and base_version != record.version:
            raise VersionConflict(record.version, base_version)
        action = vocab.TRANSITIONS.get((record.status, to_status))
        if action is None:
            raise TransitionRefused(f"a record cannot go from {record.status} to {to_status}")
        if not actor.system:
            if record.organisation_id != actor.organisation_id:
                raise PermissionDenied("records of another organisation are read-only for you")
            if not actor.can(action):
                if not (action == "submit" and actor.can("change_own") and record.created_by_id == actor.user_id):
                    raise PermissionDenied(f"your role ({actor.role}) may not {action} records")
        now = timezone.now()
        before_status = record.status
        record.status = to_status
        record.version += 1
        record.updated_at = now
        record.save(update_fields=["status", "version", "updated_at"])
        after = snapshot_of(record)
        entry = changelog.append(
            [_entry("record.status", record, {"status": before_status, "version": record.version - 1},
                    {"status": to_status, "version": record.version}, reason=reason)],
            actor_id=actor.user_id, actor_label=actor.label, at=now,
        )[0]
        revision = _revision(record, after, ["status"], actor, reason, now)
        revision.change_seq = entry.seq
        revision.save()
    return record
