"""Bulk create-or-update of records for importers: one transaction per batch, idempotent on external ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.scope import Actor
from sitaware.records.errors import RecordValidationError
from sitaware.records.models import Record, RecordRevision
from sitaware.records.schema import RecordCreate
from sitaware.records.services import (
    SNAPSHOT_FIELDS,
    _Context,
    _entry,
    _initial_status_permission,
    _revision,
    build_record,
    snapshot_of,
    validate_create,
)


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def bulk_upsert(actor: Actor, rows: Iterable[tuple[int, dict[str, Any] | RecordCreate]],
                *, reason: str = "import") -> BulkResult:
    """Create or update many records in one transaction, idempotent on (external_source, external_id).

    `rows` are (row number, payload). A bad row is reported and skipped; it never aborts the batch.
    """
    actor.require("create")
    result = BulkResult()
    ctx = _Context.for_actor(actor)
    now = timezone.now()
    built: list[tuple[int, Record]] = []
    for row_number, payload in rows:
        try:
            data = validate_create(payload)
            _initial_status_permission(actor, data.status)
            built.append((row_number, build_record(ctx, data, now=now)))
        except RecordValidationError as exc:
            result.errors.extend({"row": row_number, **p} for p in exc.problems)
        except PermissionDenied as exc:
            result.errors.append({"row": row_number, "field": "record", "message": str(exc)})
    if not built:
        return result
    with transaction.atomic():
        keyed = [(n, r) for n, r in built if r.external_id]
        existing: dict[tuple[str, str], Record] = {}
        if keyed:
            sources = {r.external_source for _, r in keyed}
            ids = [r.external_id for _, r in keyed]
            for rec in Record.objects.filter(
                organisation_id=actor.organisation_id, external_source__in=sources, external_id__in=ids
            ).select_related("reporting_unit", "organisation"):
                existing[(rec.external_source, rec.external_id)] = rec
        new_ids = {r.id for _, r in built if (r.external_source, r.external_id) not in existing or not r.external_id}
        taken = set(Record.objects.filter(pk__in=list(new_ids)).values_list("pk", flat=True)) if new_ids else set()
        to_create: list[Record] = []
        seen: set[tuple[str, str]] = set()
        updates: list[tuple[Record, dict, dict]] = []
        for row_number, record in built:
            key = (record.external_source, record.external_id)
            if record.external_id and key in seen:
                result.errors.append({"row": row_number, "field": "external_id",
                                      "message": "the same external id appears twice in this file"})
                continue
            if record.external_id:
                seen.add(key)
            current = existing.get(key) if record.external_id else None
            if current is None:
                if record.id in taken:
                    result.errors.append({"row": row_number, "field": "id", "message": "this id is already taken"})
                    continue
                to_create.append(record)
                continue
            before = snapshot_of(current)
            candidate = snapshot_of(record, unit_code=record.reporting_unit.code, org_code=before["organisation"])
            compare = [k for k in SNAPSHOT_FIELDS if k not in ("version", "status", "origin_site")]
            if all(before[k] == candidate[k] for k in compare):
                result.unchanged += 1
                continue
            if current.organisation_id != actor.organisation_id and not actor.system:
                result.errors.append({"row": row_number, "field": "external_id",
                                      "message": "belongs to another organisation"})
                continue
            changed = [k for k in compare if before[k] != candidate[k]]
            for name in changed:
                if name in ("organisation", "reporting_unit"):
                    continue
                setattr(current, name, getattr(record, name))
            current.reporting_unit = record.reporting_unit
            current.version += 1
            current.updated_at = now
            updates.append((current, before, {"changed": changed}))
        Record.objects.bulk_create(to_create, batch_size=1000)
        entries: list[PendingEntry] = []
        revisions: list[RecordRevision] = []
        for record in to_create:
            snap = snapshot_of(record, unit_code=record.reporting_unit.code, org_code=ctx.org_code or None)
            entries.append(_entry("record.create", record, None, snap, via=reason))
            revisions.append(_revision(record, snap, [], actor, reason, now))
        for record, before, meta in updates:
            record.save()
            after = snapshot_of(record)
            diff_before = {k: before[k] for k in after if before.get(k) != after.get(k)}
            entries.append(_entry("record.update", record, diff_before, {k: after[k] for k in diff_before},
                                  via=reason))
            revisions.append(_revision(record, after, meta["changed"], actor, reason, now))
        logged = changelog.append(entries, actor_id=actor.user_id, actor_label=actor.label, at=now)
        for revision, entry in zip(revisions, logged, strict=True):
            revision.change_seq = entry.seq
        RecordRevision.objects.bulk_create(revisions, batch_size=1000)
    result.created += len(to_create)
    result.updated += len(updates)
    return result
