"""Appending to and verifying the hash-chained change log (one chain per database)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
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
    # canonical_json of {"before", "after"[, "extra"]} when the caller already made it (bulk writers share
    # one dump between a revision and its entry); None to have it made here.
    data: str | None = None


def changed_objects(after_seq: int, up_to_seq: int, object_types: Iterable[str]) -> dict[str, set[str]]:
    """The ids of the objects of `object_types` that entries (after_seq, up_to_seq] name, by type: what a
    consumer keeping a watermark on the log (an indicator's refresh) must look at again."""
    out: dict[str, set[str]] = {kind: set() for kind in object_types}
    entries = ChangeEntry.objects.filter(seq__gt=after_seq, seq__lte=up_to_seq, object_type__in=list(out))
    for object_type, object_id in entries.values_list("object_type", "object_id").order_by():
        out[object_type].add(object_id)
    return out


def uuids(object_ids: Iterable[str]) -> list[uuid.UUID]:
    """The ids among `object_ids` that are UUIDs (an entry's object id is text, whatever the object's key)."""
    out = []
    for text in object_ids:
        try:
            out.append(uuid.UUID(text))
        except ValueError:
            continue
    return out


def hashed_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


def hashed_values(seq: int, origin_site: str, origin_seq: int, at_text: str, actor_id: int | None,
                  actor_label: str, request_id: str, action: str, object_type: str, object_id: str,
                  record_id: Any, organisation_id: Any, sensitivity: int, data: str) -> list[Any]:
    """The values covered by the hash, in a fixed order. Changing this list is a format change.

    `at_text` is hashed_time(at): callers hashing many entries of one moment format it once.
    """
    return [
        seq,
        origin_site,
        origin_seq,
        at_text,
        actor_id,
        actor_label,
        request_id,
        action,
        object_type,
        object_id,
        str(record_id) if record_id else None,
        str(organisation_id) if organisation_id else None,
        sensitivity,
        data,
    ]


def hashed_fields(entry: ChangeEntry) -> list[Any]:
    """The fields of a stored entry covered by the hash (see hashed_values)."""
    return hashed_values(
        entry.seq, entry.origin_site, entry.origin_seq, hashed_time(entry.at), entry.actor_id, entry.actor_label,
        entry.request_id, entry.action, entry.object_type, entry.object_id, entry.record_id,
        entry.organisation_id, entry.sensitivity, entry.data,
    )


def entry_data(before: Any, after: Any, extra: dict | None = None) -> str:
    """The canonical text an entry keeps in `data` (and hashes)."""
    data: dict[str, Any] = {"before": before, "after": after}
    if extra:
        data["extra"] = extra
    return canonical_json(data)


def local_site() -> Site:
    site, _ = Site.objects.get_or_create(
        code=settings.SITAWARE_SITE_CODE, defaults={"name": settings.SITAWARE_SITE_NAME, "is_local": True}
    )
    return site


def _locked_head() -> tuple[ChainHead, Site]:
    site = local_site()
    head = ChainHead.objects.select_for_update().filter(site=site).first()
    if head is None:  # only the very first write of a site: create, then lock like everyone else
        ChainHead.objects.get_or_create(site=site)
        head = ChainHead.objects.select_for_update().get(site=site)
    return head, site


# The columns of ChangeEntry in the order ChainAppender.link makes rows.
ENTRY_COLUMNS = (
    "seq", "origin_site", "origin_seq", "at", "actor_id", "actor_label", "request_id", "action", "object_type",
    "object_id", "record_id", "organisation_id", "sensitivity", "data", "prev_hash", "hash",
)


class ChainAppender:
    """Appends to the chain in steps: lock the head, link entries (numbered and hashed, no database
    work), then close (move the head). Bulk writers link a chunk while the previous one is written.

    With adapters, uuid and time values come out in the form insert_rows takes.
    """

    def __init__(self, *, actor_id: int | None, actor_label: str, at: dt.datetime | None = None,
                 adapt_uuid: Callable[[Any], Any] | None = None,
                 adapt_datetime: Callable[[dt.datetime | None], Any] | None = None):
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("change-log entries must be appended inside the transaction of the write they log")
        when = (at or timezone.now()).astimezone(dt.UTC)
        # Shared by every entry of the append: formatted once instead of once per entry.
        self.when_text = hashed_time(when)
        self.stored_when = adapt_datetime(when) if adapt_datetime else when
        self.adapt = adapt_uuid or _same
        self.actor_id = actor_id
        self.label = actor_label[:150]
        self.request_id = current_request_id()
        head, site = _locked_head()
        self.head_pk, self.site_code = head.pk, site.code
        self.seq, self.prev = head.seq, head.last_hash

    def link(self, pending: Iterable[PendingEntry]) -> list[tuple]:
        """Number and hash entries after those already linked; rows in ENTRY_COLUMNS order."""
        site_code, when_text, stored_when, adapt = self.site_code, self.when_text, self.stored_when, self.adapt
        actor_id, label, request_id = self.actor_id, self.label, self.request_id
        seq, prev = self.seq, self.prev
        rows: list[tuple] = []
        for item in pending:
            seq += 1
            data = item.data if item.data is not None else entry_data(item.before, item.after, item.extra)
            object_id = str(item.object_id)
            sensitivity = int(item.sensitivity)
            record_id, organisation_id = item.record_id, item.organisation_id
            digest = entry_hash(prev, hashed_values(seq, site_code, seq, when_text, actor_id, label, request_id,
                                                    item.action, item.object_type, object_id, record_id,
                                                    organisation_id, sensitivity, data))
            rows.append((seq, site_code, seq, stored_when, actor_id, label, request_id, item.action,
                         item.object_type, object_id, adapt(record_id), adapt(organisation_id), sensitivity, data,
                         prev, digest))
            prev = digest
        self.seq, self.prev = seq, prev
        return rows

    def close(self) -> None:
        ChainHead.objects.filter(pk=self.head_pk).update(seq=self.seq, last_hash=self.prev)


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
    chain = ChainAppender(actor_id=actor_id, actor_label=actor_label, at=at)
    rows = [ChangeEntry(**dict(zip(ENTRY_COLUMNS, row, strict=True))) for row in chain.link(pending)]
    ChangeEntry.objects.bulk_create(rows, batch_size=2000)
    chain.close()
    return rows


def append_many(
    pending: Sequence[PendingEntry],
    *,
    actor_id: int | None,
    actor_label: str,
    at: dt.datetime | None = None,
) -> list[int]:
    """Like append, for bulk writers: rows go straight to the database and only their seqs come back.

    Building a ChangeEntry model per entry costs more than hashing it; at a million entries that is
    the difference between seconds and minutes.
    """
    if not pending:
        return []
    writer = RawWriter.current()
    chain = ChainAppender(actor_id=actor_id, actor_label=actor_label, at=at, adapt_uuid=writer.adapt_uuid,
                          adapt_datetime=writer.adapt_datetime)
    rows = chain.link(pending)
    writer.insert(ChangeEntry._meta.db_table, ENTRY_COLUMNS, rows)
    chain.close()
    return [row[0] for row in rows]


# ---------------------------------------------------------------- raw bulk inserts


def _sqlite_datetime(value: dt.datetime | None) -> str | None:
    # Byte-for-byte what Django's SQLite backend stores: naive UTC, str() form. Lookups and keyset
    # cursors compare these strings, so any other spelling would sort or match wrongly.
    if value is None:
        return None
    return str(value.astimezone(dt.UTC).replace(tzinfo=None))


def _sqlite_uuid(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return value.hex
    text = str(value)
    # The canonical 36-character form, as str(UUID) writes it: dropping the dashes is the stored form.
    if len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-":
        return text.replace("-", "")
    return uuid.UUID(text).hex


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class RawWriter:
    """Plain-row inserts on one transaction's connection, without building model instances.

    Taken from the calling thread's Django connection; `insert` may then run on a helper thread while
    the caller prepares more rows, as long as the caller does not use the connection meanwhile.
    """

    raw: Any
    vendor: str

    @classmethod
    def current(cls) -> RawWriter:
        connection.ensure_connection()
        return cls(connection.connection, connection.vendor)

    @property
    def adapt_uuid(self) -> Callable[[Any], Any]:
        return _sqlite_uuid if self.vendor == "sqlite" else _same

    @property
    def adapt_datetime(self) -> Callable[[dt.datetime | None], Any]:
        """Aware datetime to the stored form (SQLite: Django's naive-UTC text; PostgreSQL: as is)."""
        return _sqlite_datetime if self.vendor == "sqlite" else _same

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Values in the backend's form (see the adapters; JSON columns take their JSON text).

        PostgreSQL gets COPY, SQLite one prepared INSERT run by executemany: both several times faster
        than the ORM's bulk_create, which renders and binds every value of every row in Python.
        """
        names = ", ".join(f'"{c}"' for c in columns)
        if self.vendor == "postgresql":
            with self.raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
            return
        cursor = self.raw.cursor()
        try:
            marks = ", ".join("?" * len(columns))
            # Table and column names come from model metadata, never from input.
            cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)  # noqa: S608
        finally:
            cursor.close()


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
