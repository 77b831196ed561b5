"""Bulk create-or-update of records for importers: one transaction per call, idempotent on external ids.

The per-record path (services.create_record) builds a model, saves it, snapshots it, and appends one
change-log entry: fine for one record, minutes for a million. Here new records never become model
instances: each validated row turns straight into its column values, its snapshot and the snapshot's
canonical JSON, made once and shared by the revision and the change-log entry; all three tables are
written with raw bulk inserts (COPY on PostgreSQL, one prepared INSERT on SQLite). Rows that match an
existing record (re-imports, corrections) take the ordinary model path, which is rare and needs the
current state anyway. Every record still gets its revision and its hash-chained entry, in the same
transaction as the record itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import queue
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from sitaware.core import changelog
from sitaware.core.canonical import canonical_json
from sitaware.core.changelog import PendingEntry
from sitaware.core.models import Unit
from sitaware.core.scope import Actor
from sitaware.records import geo, vocab
from sitaware.records.errors import RecordValidationError
from sitaware.records.models import Record, RecordRevision
from sitaware.records.schema import Casualties, CasualtyCounts, RecordCreate
from sitaware.records.services import (
    SNAPSHOT_FIELDS,
    _can_change,
    _check_category,
    _check_sensitivity,
    _Context,
    _entry,
    _initial_status_permission,
    _resolve_unit,
    build_record,
    scoped_records,
    snapshot_of,
    validate_create,
)

# What an unchanged row is compared on: everything but what the store itself moves on.
_COMPARED = tuple(k for k in SNAPSHOT_FIELDS if k not in ("version", "status", "origin_site"))
# Record columns in the order _new_row fills them; test_bulk checks this against the model.
RECORD_COLUMNS = (
    "id", "kind", "category", "taxonomy_version", "title", "narrative", "occurred_at", "occurred_until",
    "time_precision", "reported_at", "latitude", "longitude", "location_precision", "admin1", "admin2",
    "place_name", "h3_cell", "h3_coarse", "source_type", "source_reliability", "information_credibility",
    "source_identity", "source_reference", "casualties", "fatalities", "sensitivity", "status", "created_at",
    "updated_at", "origin_site", "version", "external_source", "external_id", "created_by_id",
    "organisation_id", "reporting_unit_id",
)
REVISION_COLUMNS = ("record_id", "version", "snapshot", "changed_fields", "reason", "actor_id", "actor_label", "at",
                    "change_seq")
# New records are built, hashed and written in chunks of this many; the writes of one chunk overlap the
# building of the next.
PIPELINE_CHUNK = 1000
# pydantic deep-copies a model-instance default for every row that leaves the field out (about 40 µs a
# row for the casualty groups, more than the rest of validation). Handing it these instances instead
# validates to the same values without the copies; nothing mutates a validated payload.
_NO_CASUALTIES = Casualties()
_NO_COUNTS = CasualtyCounts()
# canonical_json's settings, made once: a json.dumps call with options builds a new encoder every time.
# Snapshots hold only JSON values, so canonical_json's `default` is never needed (test_bulk compares).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _New:
    """A row that becomes a new record: its column values (backend form) and its snapshot's JSON."""

    id: uuid.UUID
    id_text: str
    id_db: Any
    values: tuple
    snapshot_json: str
    sensitivity: int


def _with_shared_defaults(payload: dict[str, Any] | RecordCreate) -> dict[str, Any] | RecordCreate:
    if not isinstance(payload, dict):
        return payload
    casualties = payload.get("casualties", _NO_CASUALTIES)
    if casualties is _NO_CASUALTIES:
        return {**payload, "casualties": _NO_CASUALTIES}
    if isinstance(casualties, dict) and any(group not in casualties for group in vocab.CASUALTY_GROUPS):
        return {**payload, "casualties": {**dict.fromkeys(vocab.CASUALTY_GROUPS, _NO_COUNTS), **casualties}}
    return payload


def _casualties(casualties: Casualties) -> tuple[dict[str, dict[str, int]], int]:
    """(Casualties.compact(), total killed) without a model_dump per group."""
    if casualties is _NO_CASUALTIES:
        return {}, 0
    compact: dict[str, dict[str, int]] = {}
    killed = 0
    for group in vocab.CASUALTY_GROUPS:
        counts = getattr(casualties, group)
        if counts is _NO_COUNTS:
            continue
        nonzero = {name: value for name in vocab.CASUALTY_COUNTS if (value := getattr(counts, name))}
        if nonzero:
            compact[group] = nonzero
            killed += counts.killed
    return compact, killed


class _Checks:
    """What build_record checks beyond the schema (taxonomy, clearance, reporting unit), memoised per batch."""

    def __init__(self, ctx: _Context):
        self.ctx = ctx
        self.categories: dict[tuple[str, str, str], list[dict[str, str]]] = {}
        self.units: dict[str | None, Unit] = {}

    def unit_for(self, data: RecordCreate) -> Unit:
        key = (data.kind, data.category, data.taxonomy_version)
        problems = self.categories.get(key)
        if problems is None:
            problems = self.categories[key] = _check_category(self.ctx.registry, *key)
        if problems:
            raise RecordValidationError(problems)
        _check_sensitivity(self.ctx.actor, data.sensitivity)
        unit = self.units.get(data.reporting_unit)
        if unit is None:
            # Not cached on failure, so every bad row gets its own message.
            unit = self.units[data.reporting_unit] = _resolve_unit(self.ctx, data.reporting_unit)
        return unit


class _RowBuilder:
    """Turns validated payloads into new-record rows; what is the same for a whole batch is looked up once."""

    def __init__(self, ctx: _Context, now: dt.datetime, reason: str, writer: changelog.RawWriter):
        self.ctx = ctx
        self.now = now.astimezone(dt.UTC)
        self.resolution = settings.SITAWARE_H3_RESOLUTION
        self.adapt_uuid = writer.adapt_uuid
        self.sqlite = writer.vendor == "sqlite"
        self.now_db = writer.adapt_datetime(now)
        self.organisation_db = self.adapt_uuid(ctx.actor.organisation_id)
        self.organisation_text = str(ctx.actor.organisation_id)
        self.unit_values: dict[Any, Any] = {}
        self.reason, self.user_id, self.label = reason, ctx.actor.user_id, ctx.actor.label
        # The tail of every create entry's data: {"after": snapshot, "before": null, "extra": {"via": reason}}.
        self.entry_tail = ',"before":null,"extra":' + canonical_json({"via": reason}) + "}"

    def stored_time(self, utc: dt.datetime | None, iso: str | None) -> Any:
        """What the backend stores for a UTC datetime whose isoformat() is `iso`. On SQLite that is
        Django's str(naive UTC) form, which is the ISO text with a space for the T and no offset."""
        if not self.sqlite or utc is None:
            return utc
        return f"{iso[:10]} {iso[11:-6]}"

    def new_row(self, data: RecordCreate, unit: Unit) -> _New:
        """The same record build_record + snapshot_of would make (test_bulk holds them equal)."""
        ctx = self.ctx
        record_id = data.id or uuid.uuid4()
        id_text = str(record_id)
        fine, coarse = geo.cells_for(data.latitude, data.longitude, self.resolution)
        casualties, fatalities = _casualties(data.casualties)
        # Converted to UTC once: the snapshot's ISO text and the stored value both come from it.
        occurred_at = data.occurred_at.astimezone(dt.UTC)
        occurred_until = data.occurred_until.astimezone(dt.UTC) if data.occurred_until else None
        reported_at = data.reported_at.astimezone(dt.UTC) if data.reported_at else self.now
        occurred_iso = occurred_at.isoformat()
        until_iso = occurred_until.isoformat() if occurred_until else None
        reported_iso = reported_at.isoformat()
        # Keys in sorted order, as the canonical dump writes them.
        snapshot = {
            "admin1": data.admin1,
            "admin2": data.admin2,
            "casualties": casualties,
            "category": data.category,
            "external_id": data.external_id,
            "external_source": data.external_source,
            "fatalities": fatalities,
            "h3_cell": geo.cell_hex(fine),
            "id": id_text,
            "information_credibility": data.information_credibility,
            "kind": data.kind,
            "latitude": data.latitude,
            "location_precision": data.location_precision,
            "longitude": data.longitude,
            "narrative": data.narrative,
            "occurred_at": occurred_iso,
            "occurred_until": until_iso,
            "organisation": ctx.org_code,
            "origin_site": ctx.site_code,
            "place_name": data.place_name,
            "reported_at": reported_iso,
            "reporting_unit": unit.code,
            "sensitivity": data.sensitivity,
            "source_identity": data.source_identity,
            "source_reference": data.source_reference,
            "source_reliability": data.source_reliability,
            "source_type": data.source_type,
            "status": data.status,
            "taxonomy_version": data.taxonomy_version,
            "time_precision": data.time_precision,
            "title": data.title,
            "version": 1,
        }
        id_db = self.adapt_uuid(record_id)
        stored_time = self.stored_time
        values = (
            id_db, data.kind, data.category, data.taxonomy_version, data.title, data.narrative,
            stored_time(occurred_at, occurred_iso), stored_time(occurred_until, until_iso), data.time_precision,
            stored_time(reported_at, reported_iso), data.latitude, data.longitude, data.location_precision, data.admin1,
            data.admin2, data.place_name, fine, coarse, data.source_type, data.source_reliability,
            data.information_credibility, data.source_identity, data.source_reference,
            _CANONICAL.encode(casualties) if casualties else "{}", fatalities, data.sensitivity, data.status,
            self.now_db, self.now_db, ctx.site_code, 1, data.external_source, data.external_id, ctx.actor.user_id,
            self.organisation_db, self.unit_db(unit),
        )
        return _New(record_id, id_text, id_db, values, _CANONICAL.encode(snapshot), data.sensitivity)

    def unit_db(self, unit: Unit) -> Any:
        found = self.unit_values.get(unit.pk)
        if found is None:
            found = self.unit_values[unit.pk] = self.adapt_uuid(unit.pk)
        return found

    def create_entry(self, new: _New) -> PendingEntry:
        return PendingEntry(
            action="record.create",
            object_type="record",
            object_id=new.id_text,
            # As text: the hash takes them as text, and the adapters turn text into the stored form cheaply.
            record_id=new.id_text,
            organisation_id=self.organisation_text,
            sensitivity=new.sensitivity,
            data='{"after":' + new.snapshot_json + self.entry_tail,
        )

    def revision(self, record_db: Any, version: int, snapshot_json: str, changed_json: str, seq: int) -> tuple:
        return (record_db, version, snapshot_json, changed_json, self.reason, self.user_id, self.label, self.now_db,
                seq)


def bulk_upsert(actor: Actor, rows: Iterable[tuple[int, dict[str, Any] | RecordCreate]],
                *, reason: str = "import") -> BulkResult:
    """Create or update many records in one transaction, idempotent on (external_source, external_id).

    `rows` are (row number, payload). A bad row is reported and skipped; it never aborts the batch.
    Callers with very many rows pass them in batches (a few thousand), one call and transaction each.
    """
    actor.require("create")
    result = BulkResult()
    ctx = _Context.for_actor(actor)
    now = timezone.now()
    with _gc_paused():
        valid = _validated(actor, ctx, rows, result)
        if not valid:
            return result
        with transaction.atomic():
            writer = changelog.RawWriter.current()
            new, updates = _sorted_out(actor, ctx, valid, now, result)
            chain = changelog.ChainAppender(actor_id=actor.user_id, actor_label=actor.label, at=now,
                                            adapt_uuid=writer.adapt_uuid, adapt_datetime=writer.adapt_datetime)
            builder = _RowBuilder(ctx, now, reason, writer)
            with _Pipeline(writer) as pipeline:
                for start in range(0, len(new), PIPELINE_CHUNK):
                    made = [builder.new_row(data, unit) for data, unit in new[start:start + PIPELINE_CHUNK]]
                    pipeline.insert(Record._meta.db_table, RECORD_COLUMNS, [m.values for m in made])
                    logged = chain.link([builder.create_entry(m) for m in made])
                    pipeline.insert(changelog.ChangeEntry._meta.db_table, changelog.ENTRY_COLUMNS, logged)
                    pipeline.insert(RecordRevision._meta.db_table, REVISION_COLUMNS, [
                        builder.revision(m.id_db, 1, m.snapshot_json, "[]", entry[0])
                        for m, entry in zip(made, logged, strict=True)
                    ])
            # The pipeline has finished: the connection is this thread's again.
            _apply_updates(updates, builder, chain, writer, reason)
            chain.close()
    result.created += len(new)
    result.updated += len(updates)
    return result


def _validated(actor: Actor, ctx: _Context, rows: Iterable[tuple[int, dict[str, Any] | RecordCreate]],
               result: BulkResult) -> list[tuple[int, RecordCreate, Unit]]:
    checks = _Checks(ctx)
    valid: list[tuple[int, RecordCreate, Unit]] = []
    for row_number, payload in rows:
        try:
            data = validate_create(_with_shared_defaults(payload))
            _initial_status_permission(actor, data.status)
            valid.append((row_number, data, checks.unit_for(data)))
        except RecordValidationError as exc:
            result.errors.extend({"row": row_number, **p} for p in exc.problems)
        except PermissionDenied as exc:
            result.errors.append({"row": row_number, "field": "record", "message": str(exc)})
    return valid


def _sorted_out(actor: Actor, ctx: _Context, valid: list[tuple[int, RecordCreate, Unit]], now: dt.datetime,
                result: BulkResult) -> tuple[list[tuple[RecordCreate, Unit]], list[tuple[Record, dict, list[str]]]]:
    """Split rows into new records and changes to existing ones; duplicates and clashes become row errors."""
    existing, hidden = _existing_by_key(actor, valid)
    taken = _taken_ids([data.id for _, data, _ in valid if data.id is not None])
    new: list[tuple[RecordCreate, Unit]] = []
    updates: list[tuple[Record, dict, list[str]]] = []
    seen_keys: set[tuple[str, str]] = set()
    seen_ids: set[uuid.UUID] = set()
    for row_number, data, unit in valid:
        key = (data.external_source, data.external_id)
        if data.external_id:
            if key in seen_keys:
                result.errors.append({"row": row_number, "field": "external_id",
                                      "message": "the same external id appears twice in this file"})
                continue
            seen_keys.add(key)
            if key in hidden:
                result.errors.append({"row": row_number, "field": "external_id",
                                      "message": "this external id is held by a record you may not change"})
                continue
        current = existing.get(key) if data.external_id else None
        if current is None:
            if data.id is not None:
                if data.id in taken or data.id in seen_ids:
                    result.errors.append({"row": row_number, "field": "id", "message": "this id is already taken"})
                    continue
                seen_ids.add(data.id)
            new.append((data, unit))
            continue
        outcome = _changed(actor, ctx, current, data, now, row_number)
        if outcome is None:
            result.unchanged += 1
        elif isinstance(outcome, dict):
            result.errors.append(outcome)
        else:
            updates.append(outcome)
    return new, updates


def _in_chunks(values: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _existing_by_key(actor: Actor, valid: list[tuple[int, RecordCreate, Unit]]
                     ) -> tuple[dict[tuple[str, str], Record], set[tuple[str, str]]]:
    """Records already holding the rows' external ids, as (those in the actor's scope, keys held by records
    outside it). A raw key query first: on a fresh import it finds nothing, and the ORM's IN-list handling
    would cost more than the lookup itself."""
    keyed = [data for _, data, _ in valid if data.external_id]
    if not keyed:
        return {}, set()
    adapt_uuid = changelog.RawWriter.current().adapt_uuid
    table = Record._meta.db_table
    found: list[tuple[str, str]] = []
    sources = sorted({data.external_source for data in keyed})
    with connection.cursor() as cursor:
        for chunk in _in_chunks(sorted({data.external_id for data in keyed})):
            cursor.execute(
                f'SELECT "external_source", "external_id" FROM "{table}" WHERE "organisation_id" = %s '  # noqa: S608
                f'AND "external_source" IN ({", ".join(["%s"] * len(sources))}) '
                f'AND "external_id" IN ({", ".join(["%s"] * len(chunk))}) '
                # Repeat the partial unique index's own condition so the planner may use that index; without it
                # SQLite scans every record of the organisation per batch and a large import turns quadratic.
                'AND NOT ("external_id" = \'\')',
                [adapt_uuid(actor.organisation_id), *sources, *chunk],
            )
            found.extend(cursor.fetchall())
    if not found:
        return {}, set()
    by_key: dict[tuple[str, str], Record] = {}
    for source in {s for s, _ in found}:
        for chunk in _in_chunks([i for s, i in found if s == source]):
            # Through the actor's scope: an import must not overwrite a record its importer may not read.
            for rec in scoped_records(actor).filter(
                organisation_id=actor.organisation_id, external_source=source, external_id__in=chunk
            ).exclude(external_id="").select_related("reporting_unit", "organisation"):
                by_key[(rec.external_source, rec.external_id)] = rec
    return by_key, {tuple(key) for key in found} - by_key.keys()


def _taken_ids(ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    adapt_uuid = changelog.RawWriter.current().adapt_uuid
    table = Record._meta.db_table
    taken: set[uuid.UUID] = set()
    with connection.cursor() as cursor:
        for chunk in _in_chunks(ids):
            cursor.execute(f'SELECT "id" FROM "{table}" WHERE "id" IN ({", ".join(["%s"] * len(chunk))})',  # noqa: S608
                           [adapt_uuid(i) for i in chunk])
            taken.update(v if isinstance(v, uuid.UUID) else uuid.UUID(v) for (v,) in cursor.fetchall())
    return taken


def _changed(actor: Actor, ctx: _Context, current: Record, data: RecordCreate, now: dt.datetime,
             row_number: int) -> tuple[Record, dict, list[str]] | dict[str, Any] | None:
    """Apply a row to the record it matches: None if nothing changed, an error dict, or (record, before, changed)."""
    record = build_record(ctx, data, now=now)
    if data.reported_at is None:
        # A row without a report time was reported when first imported; a re-import is not a new report
        # (defaulting to now here would make every re-import an "update").
        record.reported_at = current.reported_at
    before = snapshot_of(current)
    candidate = snapshot_of(record, unit_code=record.reporting_unit.code, org_code=before["organisation"])
    changed = [k for k in _COMPARED if before[k] != candidate[k]]
    if not changed:
        return None
    try:
        _can_change(actor, current)
    except PermissionDenied as exc:
        return {"row": row_number, "field": "external_id", "message": str(exc)}
    for name in changed:
        if name in ("organisation", "reporting_unit"):
            continue
        setattr(current, name, getattr(record, name))
    # h3_cell is compared in its hex form; the coarse cell the bbox filter uses must follow it.
    current.h3_coarse = record.h3_coarse
    current.reporting_unit = record.reporting_unit
    current.version += 1
    current.updated_at = now
    return current, before, changed


def _apply_updates(updates: list[tuple[Record, dict, list[str]]], builder: _RowBuilder,
                   chain: changelog.ChainAppender, writer: changelog.RawWriter, reason: str) -> None:
    """Save changed records the ordinary way; their entries follow the creates' in the chain."""
    if not updates:
        return
    entries: list[PendingEntry] = []
    revisions: list[tuple[Any, int, str, str]] = []
    for record, before, changed in updates:
        record.save()
        after = snapshot_of(record)
        diff_before = {k: before[k] for k in after if before.get(k) != after.get(k)}
        entries.append(_entry("record.update", record, diff_before, {k: after[k] for k in diff_before},
                              via=reason))
        revisions.append((record.id, record.version, canonical_json(after), json.dumps(changed)))
    logged = chain.link(entries)
    writer.insert(changelog.ChangeEntry._meta.db_table, changelog.ENTRY_COLUMNS, logged)
    writer.insert(RecordRevision._meta.db_table, REVISION_COLUMNS, [
        builder.revision(writer.adapt_uuid(record_id), version, snapshot, changed, entry[0])
        for (record_id, version, snapshot, changed), entry in zip(revisions, logged, strict=True)
    ])


class _Pipeline:
    """Runs inserts on a helper thread, in order, while the caller builds and hashes the next chunk.

    sqlite3 and psycopg release the GIL while the database works, so on two or more cores building rows
    in Python and writing them overlap. Same connection, same transaction: the caller must not use the
    connection until the pipeline is closed (leaving the `with` block waits for every insert).
    """

    def __init__(self, writer: changelog.RawWriter):
        self.writer = writer
        self.jobs: queue.Queue = queue.Queue(maxsize=6)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="bulk-upsert-writer", daemon=True)

    def __enter__(self) -> _Pipeline:
        self.thread.start()
        return self

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if self.error is not None:
            raise self.error
        self.jobs.put((table, columns, rows))

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                try:
                    self.writer.insert(*job)
                except BaseException as exc:  # handed to the caller's thread
                    self.error = exc

    def __exit__(self, *exc_info: object) -> None:
        self.jobs.put(None)
        self.thread.join()
        if self.error is not None and exc_info[0] is None:
            raise self.error


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """A batch allocates hundreds of thousands of short-lived, acyclic objects; the cyclic collector
    would scan the growing heap again and again for nothing (a quarter of the time, measured)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
