"""Public services of the intake app: storing items, polling sources, health, and what people do with items.

Rules kept here, for every adapter alike:
- one item per (source, external id), one transaction per item: a duplicate is a no-op, a failure never
  leaves half an item;
- a source fails alone: the poll loop catches, logs and records the error on that source and goes on;
- transient errors are retried with exponential backoff, within a poll and across polls;
- a source with no new item for longer than its threshold raises a "source silent" alarm (logged, in the
  change log, on the source) until an item arrives again.

The change log never receives raw payloads or personal data (it cannot be erased): receipts log the
payload's SHA-256, decisions log status and record links.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Role
from sitaware.core.scope import SOURCE_IDENTITY_ROLES, Actor, actor_for, restrict, system_actor
from sitaware.ingest.adapters import ADAPTERS, AdapterError, BadInput, Batch, Incoming, Rejected, adapter_for
from sitaware.ingest.errors import ItemAlreadyHandled, ItemNotFound, SourceNotFound
from sitaware.ingest.models import IntakeItem, ItemStatus, Source
from sitaware.records import services as records
from sitaware.records.errors import RecordValidationError

log = logging.getLogger("sitaware.ingest")

# Retries inside one poll for transient errors; the wait doubles each time (base, 2*base, ...).
RETRIES = int(getattr(settings, "SITAWARE_INGEST_RETRIES", 2))
BACKOFF_SECONDS = float(getattr(settings, "SITAWARE_INGEST_BACKOFF_SECONDS", 2.0))
# Across polls a failing source is polled less often, up to this many seconds apart.
MAX_BACKOFF_SECONDS = int(getattr(settings, "SITAWARE_INGEST_MAX_BACKOFF_SECONDS", 6 * 3600))
# Roles that may configure sources (they decide what flows into the organisation).
SOURCE_MANAGER_ROLES = frozenset({Role.SUPERVISOR, Role.ADMINISTRATOR})
# Config keys never shown back (secrets for gateways and brokers).
SECRET_MARKERS = ("secret", "password", "token")
# Who a record made from an item says the information came from, by adapter kind.
SOURCE_TYPES = {"rss": "media", "openrosa": "field_report", "sms": "community", "telegram_export": "social_media",
                "mqtt": "sensor", "mastodon": "social_media"}


# ---------------------------------------------------------------- sources


def intake_actor(source: Source) -> Actor:
    """Who the change log names for what a polled source brought: the source itself, not a person."""
    return system_actor(f"intake:{source.name}"[:150])


def _require_manager(actor: Actor) -> None:
    if not actor.system and actor.role not in SOURCE_MANAGER_ROLES:
        raise PermissionDenied(f"your role ({actor.role}) may not configure intake sources")


def _source_state(source: Source) -> dict[str, Any]:
    return {"kind": source.kind, "name": source.name, "enabled": source.enabled, "config": public_config(source),
            "sensitivity": source.sensitivity, "poll_interval": source.poll_interval,
            "silence_threshold": source.silence_threshold}


def public_config(source: Source) -> dict[str, Any]:
    """The source's config with secrets masked: what the API shows and the change log keeps."""
    out: dict[str, Any] = {}
    for key, value in (source.config or {}).items():
        out[key] = "********" if any(m in key.lower() for m in SECRET_MARKERS) else value
    return out


def create_source(actor: Actor, *, kind: str, name: str, config: dict[str, Any] | None = None,
                  organisation_id: Any = None, sensitivity: int | None = None, poll_interval: int | None = None,
                  silence_threshold: int | None = None, enabled: bool = True) -> Source:
    """Register a source (logged). Supervisors and administrators configure their organisation's sources."""
    _require_manager(actor)
    if kind not in ADAPTERS:
        raise RecordValidationError([{"field": "kind", "message": f"unknown kind {kind!r}; use one of "
                                                                  f"{', '.join(ADAPTERS)}"}])
    org = organisation_id or actor.organisation_id
    if org is None or (not actor.system and org != actor.organisation_id):
        raise PermissionDenied("sources belong to your own organisation")
    if sensitivity is not None and not actor.system and sensitivity > actor.clearance:
        raise RecordValidationError([{"field": "sensitivity", "message": "above your clearance"}])
    try:
        prepared = ADAPTERS[kind].prepare_config(dict(config or {}))
    except ValueError as exc:
        raise RecordValidationError([{"field": "config", "message": str(exc)}]) from None
    fields: dict[str, Any] = {"kind": kind, "name": name, "organisation_id": org, "config": prepared,
                              "enabled": enabled}
    for key, value in (("sensitivity", sensitivity), ("poll_interval", poll_interval),
                       ("silence_threshold", silence_threshold)):
        if value is not None:
            fields[key] = value
    with transaction.atomic():
        if Source.objects.filter(organisation_id=org, name=name).exists():
            raise RecordValidationError([{"field": "name", "message": f"a source named {name!r} exists"}])
        source = Source.objects.create(**fields)
        _log(actor, "ingest.source.create", "intake_source", source.pk, source, after=_source_state(source))
    return source


def _own(qs: QuerySet, actor: Actor) -> QuerySet:
    """Sharing agreements share records, not raw intake: sources and items stay with their organisation."""
    return qs if actor.system else qs.filter(organisation_id=actor.organisation_id)


def sources_for(actor: Actor) -> QuerySet:
    return _own(restrict(Source.objects.all(), actor), actor)


def get_source(actor: Actor, source_id: Any) -> Source:
    try:
        key = uuid.UUID(str(source_id))
    except ValueError:
        raise SourceNotFound(f"no source {source_id}") from None
    source = sources_for(actor).filter(pk=key).first()
    if source is None:
        raise SourceNotFound(f"no source {source_id}")
    return source


def health(source: Source, now: dt.datetime | None = None) -> dict[str, Any]:
    """The source's health as the API and the console show it."""
    now = now or timezone.now()
    if not source.enabled:
        state = "disabled"
    elif source.silent_since:
        state = "silent"
    elif source.consecutive_failures:
        state = "failing"
    else:
        state = "ok"
    return {
        "state": state,
        "last_poll_at": source.last_poll_at,
        "next_poll_at": source.next_poll_at,
        "last_success_at": source.last_success_at,
        "last_error_at": source.last_error_at,
        "last_error": source.last_error,
        "consecutive_failures": source.consecutive_failures,
        "last_item_at": source.last_item_at,
        "items_per_hour": source.items_per_hour,
        "rejected_count": source.rejected_count,
        "silent_since": source.silent_since,
        "silence_threshold": source.silence_threshold,
        "live": (source.state or {}).get("live"),  # listeners (TAK): clients connected, last position, counts
    }


# ---------------------------------------------------------------- storing items


@dataclass
class Outcome:
    """What one poll or push did to one source."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    not_modified: bool = False
    error: str = ""
    items: list[IntakeItem] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


def _log(actor: Actor, action: str, object_type: str, object_id: Any, subject: Any, *, before: Any = None,
         after: Any = None, record_id: Any = None) -> None:
    changelog.append([PendingEntry(action=action, object_type=object_type, object_id=str(object_id),
                                   before=before, after=after, organisation_id=subject.organisation_id,
                                   sensitivity=subject.sensitivity, record_id=record_id)],
                     actor_id=actor.user_id, actor_label=actor.label)


def _item_state(item: IntakeItem) -> dict[str, Any]:
    # No raw payload, no text, no personal data: the chain keeps these forever.
    return {"source": str(item.source_id), "external_id": item.external_id, "raw_sha256": item.raw_sha256,
            "status": item.status, "record": str(item.record_id) if item.record_id else None}


def store_item(source: Source, incoming: Incoming, *, actor: Actor | None = None) -> tuple[IntakeItem, bool]:
    """Store one item in its own transaction; (item, False) when the source already gave this message."""
    actor = actor or intake_actor(source)
    raw = bytes(incoming.raw)
    with transaction.atomic():
        existing = IntakeItem.objects.filter(source=source, external_id=incoming.external_id).first()
        if existing is not None:
            _merge_attachments(actor, existing, incoming)
            return existing, False
        item = IntakeItem(
            source=source, organisation_id=source.organisation_id, sensitivity=source.sensitivity,
            external_id=incoming.external_id, raw=raw, content_type=incoming.content_type[:120],
            raw_sha256=hashlib.sha256(raw).hexdigest(), provenance={**incoming.provenance, "adapter": source.kind},
            personal_data=incoming.personal_data, attachments=incoming.attachments, title=incoming.title[:200],
            text=incoming.text, occurred_at=incoming.occurred_at, latitude=incoming.latitude,
            longitude=incoming.longitude,
        )
        try:
            # A savepoint: losing a race with another worker on the same message leaves this transaction usable.
            with transaction.atomic():
                item.save(force_insert=True)
        except IntegrityError:
            existing = IntakeItem.objects.filter(source=source, external_id=incoming.external_id).first()
            if existing is None:
                raise
            return existing, False
        _log(actor, "ingest.item.receive", "intake_item", item.pk, item, after=_item_state(item))
    return item, True


def _merge_attachments(actor: Actor, item: IntakeItem, incoming: Incoming) -> None:
    """ODK Collect sends a large submission in several POSTs with one instanceID: keep the later files."""
    have = {a.get("name") for a in item.attachments}
    new = [a for a in incoming.attachments if a.get("name") not in have]
    if not new:
        return
    item.attachments = [*item.attachments, *new]
    item.save(update_fields=["attachments"])
    _log(actor, "ingest.item.attachments", "intake_item", item.pk, item,
         after={"added": [{"name": a.get("name"), "sha256": a.get("sha256")} for a in new]})


class ItemSink:
    """Stores items for one source and keeps the tally; streaming adapters call it per message."""

    def __init__(self, source: Source, adapter: Any, actor: Actor | None = None):
        self.source, self.adapter, self.actor = source, adapter, actor
        self.outcome = Outcome()

    def store(self, incoming: Incoming) -> IntakeItem:
        item, created = store_item(self.source, incoming, actor=self.actor)
        if not created:
            self.outcome.duplicates += 1
            return item
        self.outcome.stored += 1
        self.outcome.items.append(item)
        try:
            self.adapter.after_store(item, incoming)
        except Exception:
            # A rule that fails must not lose the item, which is stored and stays "new" for a person to see.
            log.exception("intake source %s: the rule after item %s failed", self.source, item.pk)
        return item

    def reject(self, rejected: Rejected) -> None:
        self.outcome.rejected += 1
        self.outcome.reasons.append(rejected.reason)
        log.warning("intake source %s (%s): rejected %s: %s", self.source.name, self.source.kind,
                    rejected.external_id or "input", rejected.reason)


def _store_batch(sink: ItemSink, batch: Batch) -> None:
    for rejected in batch.rejected:
        sink.reject(rejected)
    for incoming in batch.items:
        sink.store(incoming)


def receive(source: Source, body: bytes, content_type: str, *, meta: dict[str, Any] | None = None,
            actor: Actor | None = None) -> Outcome:
    """A push (webhook, form submission, upload): parse, store item by item, update health."""
    adapter = adapter_for(source)
    sink = ItemSink(source, adapter, actor)
    try:
        batch = adapter.parse(body, content_type, meta)
    except BadInput as exc:
        sink.reject(Rejected(str(exc)))
    else:
        _store_batch(sink, batch)
    outcome = sink.outcome
    # A push that brought nothing usable is worth seeing on the source's health (a misconfigured gateway).
    refused = outcome.rejected and not (outcome.stored or outcome.duplicates)
    _record_result(source, outcome, None, error=f"rejected input: {outcome.reasons[0]}" if refused else "")
    return outcome


# ---------------------------------------------------------------- polling


def _backoff(failures: int, interval: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(interval * (2 ** min(failures, 16)), MAX_BACKOFF_SECONDS))


def poll_source(source: Source, *, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Poll one pull source now, with retries on transient errors. Errors are recorded, never raised."""
    adapter = adapter_for(source)
    sink = ItemSink(source, adapter)
    adapter.sink = sink
    retries = int(source.config.get("retries", RETRIES))
    base = float(source.config.get("backoff_seconds", BACKOFF_SECONDS))
    error = ""
    for attempt in range(retries + 1):
        try:
            batch = adapter.fetch()
        except BadInput as exc:
            # The document itself is bad: retrying now would fetch the same bytes.
            sink.reject(Rejected(str(exc)))
            error = f"rejected input: {exc}"
            break
        except AdapterError as exc:
            error = str(exc)
            if exc.permanent or attempt == retries:
                break
            wait = base * (2 ** attempt)
            log.info("intake source %s: %s; retry %d of %d in %.1f s", source.name, exc, attempt + 1, retries, wait)
            sleep(wait)
            continue
        error = ""
        sink.outcome.not_modified = batch.not_modified
        _store_batch(sink, batch)
        break
    if error:
        sink.outcome.error = error
        log.warning("intake source %s (%s) failed: %s", source.name, source.kind, error)
    _record_result(source, sink.outcome, adapter.state if not error else None, error=error)
    return sink.outcome


def _record_result(source: Source, outcome: Outcome, state: dict[str, Any] | None, *, error: str) -> None:
    """Health after a poll or a push: success or failure, items per hour, next poll, end of a silence."""
    now = timezone.now()
    adapter = ADAPTERS.get(source.kind)
    fields: dict[str, Any] = {"last_poll_at": now} if adapter is None or adapter.pull else {}
    if error:
        failures = source.consecutive_failures + 1
        fields.update(last_error_at=now, last_error=error[:2000], consecutive_failures=failures,
                      next_poll_at=now + _backoff(failures, source.poll_interval))
    else:
        fields.update(last_success_at=now, consecutive_failures=0,
                      next_poll_at=now + dt.timedelta(seconds=source.poll_interval))
        if state is not None:
            fields["state"] = state
    if outcome.stored:
        fields["last_item_at"] = now
    fields["items_per_hour"] = float(IntakeItem.objects.filter(
        source=source, received_at__gte=now - dt.timedelta(hours=1)).count())
    if outcome.rejected:
        fields["rejected_count"] = source.rejected_count + outcome.rejected
    with transaction.atomic():
        if outcome.stored and source.silent_since is not None:
            fields["silent_since"] = None
            _log(intake_actor(source), "ingest.source.resumed", "intake_source", source.pk, source,
                 before={"silent_since": source.silent_since.isoformat()}, after={"silent_since": None})
            log.info("intake source %s is no longer silent", source.name)
        Source.objects.filter(pk=source.pk).update(**fields)
    for name, value in fields.items():
        setattr(source, name, value)


def due_sources(now: dt.datetime | None = None) -> QuerySet:
    now = now or timezone.now()
    pull = [kind for kind, cls in ADAPTERS.items() if cls.pull]
    return (Source.objects.filter(enabled=True, kind__in=pull)
            .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)).order_by("next_poll_at", "pk"))


def _claim(source: Source, now: dt.datetime) -> bool:
    """Take the source for this worker: another worker polling at the same moment finds it taken."""
    lease = now + dt.timedelta(seconds=max(source.poll_interval, 60))
    claimed = Source.objects.filter(pk=source.pk, next_poll_at=source.next_poll_at).update(next_poll_at=lease)
    return claimed == 1


def poll_due(*, now: dt.datetime | None = None, only: list[str] | None = None, force: bool = False,
             sleep: Callable[[float], None] = time.sleep) -> list[tuple[Source, Outcome]]:
    """Poll every enabled pull source that is due (or all of them with `force`), each alone, then check silences."""
    now = now or timezone.now()
    if force:
        pull = [kind for kind, cls in ADAPTERS.items() if cls.pull]
        candidates = Source.objects.filter(enabled=True, kind__in=pull).order_by("pk")
    else:
        candidates = due_sources(now)
    if only:
        candidates = candidates.filter(name__in=only)
    results: list[tuple[Source, Outcome]] = []
    for source in list(candidates):
        if not force and not _claim(source, now):
            continue
        try:
            outcome = poll_source(source, sleep=sleep)
        except Exception as exc:  # one broken source must never stop the others
            log.exception("intake source %s (%s) crashed the poll", source.name, source.kind)
            outcome = Outcome(error=f"unexpected error: {type(exc).__name__}: {exc}")
            try:
                _record_result(source, outcome, None, error=outcome.error)
            except Exception:  # even recording may fail (database away); the loop goes on
                log.exception("intake source %s: could not record the failure", source.name)
        results.append((source, outcome))
    check_silence(now=now)
    return results


def check_silence(*, now: dt.datetime | None = None) -> list[Source]:
    """Raise the "source silent" alarm once per silence: logged, on the source and in the change log."""
    now = now or timezone.now()
    raised: list[Source] = []
    for source in Source.objects.filter(enabled=True, silent_since__isnull=True, silence_threshold__gt=0):
        last = source.last_item_at or source.created_at
        if now - last <= dt.timedelta(seconds=source.silence_threshold):
            continue
        with transaction.atomic():
            if Source.objects.filter(pk=source.pk, silent_since__isnull=True).update(silent_since=now) != 1:
                continue
            source.silent_since = now
            _log(intake_actor(source), "ingest.source.silent", "intake_source", source.pk, source,
                 after={"silent_since": now.isoformat(), "last_item_at": last.isoformat(),
                        "threshold_seconds": source.silence_threshold})
        log.warning("ALARM intake source %s (%s) is silent: no item since %s (threshold %d s)",
                    source.name, source.kind, last.isoformat(), source.silence_threshold)
        raised.append(source)
    return raised


# ---------------------------------------------------------------- items, as people see and handle them


def items_for(actor: Actor) -> QuerySet:
    """Items `actor` may see: their organisation up to their clearance, for roles that triage (import)."""
    if not actor.system and not actor.can("import"):
        return IntakeItem.objects.none()
    return _own(restrict(IntakeItem.objects.all(), actor), actor)


def get_item(actor: Actor, item_id: Any, *, for_update: bool = False) -> IntakeItem:
    try:
        key = uuid.UUID(str(item_id))
    except ValueError:
        raise ItemNotFound(f"no intake item {item_id}") from None
    qs = items_for(actor).select_related("source")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    item = qs.filter(pk=key).first()
    if item is None:
        raise ItemNotFound(f"no intake item {item_id}")
    return item


def may_see_personal_data(actor: Actor, item: IntakeItem) -> bool:
    """Need to know, as for a record's source identity: supervisors of the owning organisation."""
    return actor.system or (actor.organisation_id == item.organisation_id and actor.role in SOURCE_IDENTITY_ROLES)


def serialize_item(actor: Actor, item: IntakeItem, *, raw: bool = False) -> dict[str, Any]:
    personal = may_see_personal_data(actor, item)
    data: dict[str, Any] = {
        "id": item.id, "source": item.source_id, "source_name": item.source.name, "kind": item.source.kind,
        "external_id": item.external_id, "content_type": item.content_type, "raw_sha256": item.raw_sha256,
        "received_at": item.received_at, "provenance": item.provenance, "attachments": item.attachments,
        "title": item.title, "text": item.text, "occurred_at": item.occurred_at, "latitude": item.latitude,
        "longitude": item.longitude, "status": item.status, "record": item.record_id,
        "sensitivity": item.sensitivity, "note": item.note,
        "personal_data": item.personal_data if personal else None,
        "withheld": [] if personal or not item.personal_data else ["personal_data", "raw"],
    }
    if raw:
        # The raw payload repeats the personal data (an SMS body carries its sender): same need to know.
        data["raw"] = bytes(item.raw).decode("utf-8", "replace") if personal or not item.personal_data else None
    return data


def _handle(actor: Actor, item_id: Any) -> IntakeItem:
    actor.require("import")
    item = get_item(actor, item_id, for_update=True)
    if item.status != ItemStatus.NEW:
        raise ItemAlreadyHandled(f"this item was already handled ({item.status.replace('_', ' ')})")
    return item


def _record_payload(item: IntakeItem, fields: dict[str, Any]) -> dict[str, Any]:
    """A draft record from an item: what the item says, the source's defaults, then what the analyst gave."""
    defaults = dict(item.source.config.get("record_defaults") or {})
    occurred = item.occurred_at or item.received_at
    payload: dict[str, Any] = {
        "title": item.title[:200],
        "narrative": item.text,
        "occurred_at": occurred.isoformat(),
        "time_precision": "exact" if item.occurred_at else "day",
        "source_type": SOURCE_TYPES.get(item.source.kind, "other"),
        "source_reference": f"intake {item.source.kind}:{item.source.name} item {item.id} "
                            f"({item.provenance.get('link') or item.external_id})"[:1000],
        "sensitivity": item.sensitivity,
        **defaults,
    }
    if item.latitude is not None and item.longitude is not None:
        payload.update(latitude=item.latitude, longitude=item.longitude)
    payload.update(fields)
    payload.update(status="draft", external_source="ingest", external_id=str(item.id))
    payload.pop("id", None)
    return payload


def turn_into_record(actor: Actor, item_id: Any, fields: dict[str, Any] | None = None) -> IntakeItem:
    """Make a draft record from an item, authored by `actor`, and link them; both commit or neither does."""
    actor.require("create")
    with transaction.atomic():
        item = _handle(actor, item_id)
        before = _item_state(item)
        record = records.create_record(actor, _record_payload(item, dict(fields or {})))
        item.status, item.record = ItemStatus.TURNED_INTO_RECORD, record
        item.handled_by_id, item.handled_at = actor.user_id, timezone.now()
        item.save(update_fields=["status", "record", "handled_by", "handled_at"])
        _log(actor, "ingest.item.record", "intake_item", item.pk, item, before=before, after=_item_state(item),
             record_id=record.pk)
    return item


def attach(actor: Actor, item_id: Any, record_id: Any, note: str = "") -> IntakeItem:
    """Attach an item to a record the actor can see and change (their own organisation's)."""
    with transaction.atomic():
        item = _handle(actor, item_id)
        record = records.get_record(actor, record_id)
        if record.organisation_id != actor.organisation_id or record.organisation_id != item.organisation_id:
            raise PermissionDenied("items attach to records of their own organisation")
        before = _item_state(item)
        item.status, item.record, item.note = ItemStatus.ATTACHED, record, note[:2000]
        item.handled_by_id, item.handled_at = actor.user_id, timezone.now()
        item.save(update_fields=["status", "record", "note", "handled_by", "handled_at"])
        _log(actor, "ingest.item.attach", "intake_item", item.pk, item, before=before,
             after={**_item_state(item), "note": item.note}, record_id=record.pk)
    return item


def dismiss(actor: Actor, item_id: Any, reason: str) -> IntakeItem:
    if not reason or not reason.strip():
        raise RecordValidationError([{"field": "reason", "message": "say why the item is dismissed"}])
    with transaction.atomic():
        item = _handle(actor, item_id)
        before = _item_state(item)
        item.status, item.note = ItemStatus.DISMISSED, reason.strip()[:2000]
        item.handled_by_id, item.handled_at = actor.user_id, timezone.now()
        item.save(update_fields=["status", "note", "handled_by", "handled_at"])
        _log(actor, "ingest.item.dismiss", "intake_item", item.pk, item, before=before,
             after={**_item_state(item), "reason": item.note})
    return item


def rule_turn_into_record(author: str, item: IntakeItem, fields: dict[str, Any]) -> IntakeItem | None:
    """A source's rule (the MQTT threshold) makes a draft in the name of the account it was configured with.

    The draft is only a draft: a person still reviews it before anything is verified or published.
    """
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=author, is_active=True).select_related("membership").first()
    if user is None:
        log.warning("intake rule of source %s: no active user %r", item.source_id, author)
        return None
    actor = actor_for(user)
    if actor.organisation_id != item.organisation_id:
        log.warning("intake rule of source %s: %s is not in the source's organisation", item.source_id, author)
        return None
    return turn_into_record(actor, item.pk, fields)


# ---------------------------------------------------------------- attachments (OpenRosa media)


def keep_attachment(chunks: Any, name: str, content_type: str, *, max_bytes: int) -> dict[str, Any]:
    """Store a file under DATA_DIR/intake, named by its SHA-256; returns its description for the item."""
    folder = Path(settings.DATA_DIR) / "intake"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    temp = folder / f".part-{uuid.uuid4().hex}"
    try:
        with temp.open("wb") as handle:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise BadInput(f"the attachment {name!r} is larger than the {max_bytes:,} bytes allowed")
                digest.update(chunk)
                handle.write(chunk)
        sha256 = digest.hexdigest()
        temp.replace(folder / sha256)
    finally:
        temp.unlink(missing_ok=True)
    return {"name": Path(name).name[:255], "content_type": content_type[:120], "size": size, "sha256": sha256}
