"""Appending to and verifying the hash-chained change log (one chain per database)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sitaware.core.canonical import GENESIS_HASH, canonical_json, entry_hash
from sitaware.core.context import current_request_id
from sitaware.core.models import ChainHead, ChangeEntry, Site


@dataclass
class PendingEntry:
    action: str
    object_type: str
    object_id: str
    before: Any = None
    after: Any = None
    organisation_id: Any = None
    sensitivity: int = 0
    record_id: Any = None
    extra: dict = field(default_factory=dict)


def hashed_fields(entry: ChangeEntry) -> list[Any]:
    """The fields covered by the hash, in a fixed order. Changing this list is a format change."""
    return [
        entry.seq,
        entry.origin_site,
        entry.origin_seq,
        entry.at.astimezone(dt.UTC).isoformat(),
        entry.actor_id,
        entry.actor_label,
        entry.request_id,
        entry.action,
        entry.object_type,
        entry.object_id,
        str(entry.record_id) if entry.record_id else None,
        str(entry.organisation_id) if entry.organisation_id else None,
        entry.sensitivity,
        entry.data,
    ]


def local_site() -> Site:
    site, _ = Site.objects.get_or_create(
        code=settings.SITAWARE_SITE_CODE, defaults={"name": settings.SITAWARE_SITE_NAME, "is_local": True}
    )
    return site


def _locked_head() -> tuple[ChainHead, Site]:
    site = local_site()
    ChainHead.objects.get_or_create(site=site)
    return ChainHead.objects.select_for_update().get(site=site), site


def append(
    pending: Sequence[PendingEntry],
    *,
    actor_id: int | None,
    actor_label: str,
    at: dt.datetime | None = None,
) -> list[ChangeEntry]:
    """Append entries in one transaction; the caller's writes and the log entries commit together."""
    if not pending:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("change-log entries must be appended inside the transaction of the write they log")
    when = (at or timezone.now()).astimezone(dt.UTC)
    request_id = current_request_id()
    head, site = _locked_head()
    site_code = site.code
    rows: list[ChangeEntry] = []
    seq, prev = head.seq, head.last_hash
    for item in pending:
        seq += 1
        data: dict[str, Any] = {"before": item.before, "after": item.after}
        if item.extra:
            data["extra"] = item.extra
        row = ChangeEntry(
            seq=seq,
            origin_site=site_code,
            origin_seq=seq,
            at=when,
            actor_id=actor_id,
            actor_label=actor_label[:150],
            request_id=request_id,
            action=item.action,
            object_type=item.object_type,
            object_id=str(item.object_id),
            record_id=item.record_id,
            organisation_id=item.organisation_id,
            sensitivity=int(item.sensitivity),
            data=canonical_json(data),
            prev_hash=prev,
        )
        row.hash = entry_hash(prev, hashed_fields(row))
        prev = row.hash
        rows.append(row)
    ChangeEntry.objects.bulk_create(rows, batch_size=2000)
    ChainHead.objects.filter(pk=head.pk).update(seq=seq, last_hash=prev)
    return rows


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str = ""


def verify(progress: Callable[[int], None] | None = None, chunk: int = 5000) -> VerifyResult:
    """Recompute every link; name the first entry whose stored hash or back-link does not hold."""
    prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    entries: Iterable[ChangeEntry] = ChangeEntry.objects.order_by("seq").iterator(chunk_size=chunk)
    for entry in entries:
        if entry.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return VerifyResult(False, checked, entry.seq, "its link to the previous entry does not match")
        recomputed = entry_hash(prev, hashed_fields(entry))
        if recomputed != entry.hash:
            return VerifyResult(False, checked, entry.seq, "its content does not match its hash")
        prev = entry.hash
        expected_seq += 1
        checked += 1
        if progress and checked % chunk == 0:
            progress(chunk)
    if progress:
        progress(checked % chunk)
    head = ChainHead.objects.filter(site__is_local=True).first()
    if head is not None and (head.seq != checked or head.last_hash != prev):
        return VerifyResult(False, checked, checked + 1 if head.seq > checked else head.seq,
                            "the chain head does not match the last entry (entries removed at the end?)")
    return VerifyResult(True, checked)
