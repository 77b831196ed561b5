"""What the operations picture reads: map aggregates and points, and the live feed's events.

Every query starts from `records.services.scoped_records(actor)`, so the map, its counts and the feed see
exactly what the record list sees: out of scope is absent, not hidden.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import h3
from django.conf import settings
from django.db.models import BigIntegerField, Count, F, Max, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils.crypto import salted_hmac

from sitaware.core.models import ChangeEntry, SharingAgreement
from sitaware.core.scope import Actor, active_agreements, scope_group
from sitaware.core.services import changes_for
from sitaware.records import services as records
from sitaware.records import vocab

# Points are shipped only below this many; above it the map gets hexagon counts (or, zoomed far in, the
# newest POINT_CAP points flagged as truncated). Never all points.
POINT_CAP = 2000
# Zoomed this far in, a dense view still shows points (the newest POINT_CAP) rather than hexagons.
POINTS_ZOOM = 14
# More non-empty cells than this at the zoom's resolution: step to a coarser one. Keeps the answer small.
MAX_CELLS = 5000
# Fields an agreement may withhold that would give away where a record is: such records stay off the map.
PLACE_FIELDS = frozenset({"latitude", "longitude", "h3_cell"})
POINT_FIELDS = ("id", "lon", "lat", "kind", "category", "status", "sensitivity", "occurred_at")

# H3 index layout: resolution in bits 52-55, then one 3-bit digit per resolution 1..15 (15 at the bottom);
# digits below a cell's resolution are all ones.
_RES_SHIFT = 52
_RES_MASK = 0xF << _RES_SHIFT
_INT64_MAX = (1 << 63) - 1


def _digit_mask(finer_than: int) -> int:
    return sum(7 << ((15 - k) * 3) for k in range(finer_than + 1, 16))


def stored_resolution() -> int:
    """The resolution of the cell records keep (SITAWARE_H3_RESOLUTION, 9 by default)."""
    return int(getattr(settings, "SITAWARE_H3_RESOLUTION", 9))


def parent_cell_expression(resolution: int) -> Any:
    """SQL for the res-`resolution` parent of each record's stored cell, computed in the database so the
    grouping never pulls rows into Python: set the finer digits to 7 and write the new resolution. Right for
    any stored resolution at or finer than `resolution` (digits finer than a cell's own are already 7)."""
    if not 0 <= resolution <= stored_resolution():
        raise ValueError(f"resolution must be 0..{stored_resolution()}")
    as_int = BigIntegerField()
    return (
        F("h3_cell")
        .bitor(Value(_digit_mask(resolution), output_field=as_int))
        .bitand(Value(_INT64_MAX & ~_RES_MASK, output_field=as_int))
        .bitor(Value(resolution << _RES_SHIFT, output_field=as_int))
    )


def resolution_for_zoom(zoom: float) -> int:
    """An H3 resolution whose hexagons are some 20-60 screen pixels across at this web-mercator zoom."""
    table = ((3, 1), (5, 2), (7, 3), (8, 4), (10, 5), (11, 6), (13, 7), (14, 8))
    wanted = next((resolution for below, resolution in table if zoom < below), 9)
    return min(wanted, stored_resolution())


def mappable(actor: Actor, flt: records.RecordFilter) -> QuerySet:
    """The records in scope that match the filter and whose place the viewer may see."""
    qs = records.filter_records(records.scoped_records(actor), flt)
    redactor = records.Redactor.for_actor(actor)
    hidden_place = [org for org, agreement in redactor.agreements.items()
                    if PLACE_FIELDS & set(agreement.redacted_fields or [])]
    if hidden_place:
        qs = qs.exclude(organisation_id__in=hidden_place)
    return qs


@dataclass
class MapQuery:
    flt: records.RecordFilter
    zoom: float = 5.0
    mode: str = "auto"  # auto | points | cells


def map_data(actor: Actor, query: MapQuery) -> dict[str, Any]:
    qs = mappable(actor, query.flt)
    resolution = resolution_for_zoom(query.zoom)
    if query.mode == "cells":
        return cells_payload(qs, resolution)
    # Counting stops at the cap: a dense view costs one grouping query, not a count and a grouping.
    capped = qs.order_by()[: POINT_CAP + 1].count()
    if query.mode == "points" or capped <= POINT_CAP or query.zoom >= POINTS_ZOOM:
        return points_payload(actor, qs, capped if capped <= POINT_CAP else qs.count())
    return cells_payload(qs, resolution)


# Up to this many matching records, the newest POINT_CAP are sorted after the area index found them rather than
# found by walking the time index (see points_payload).
SORT_AFTER_FILTER = 20000
_POINT_COLUMNS = ("id", "longitude", "latitude", "kind", "category", "status", "sensitivity", "occurred_at",
                  "organisation_id")


def points_payload(actor: Actor, qs: QuerySet, total: int) -> dict[str, Any]:
    """The newest POINT_CAP matching records as compact rows.

    `ORDER BY occurred_at DESC LIMIT n` lets SQLite walk the whole time index (every record, in scope or not)
    instead of using the area index on `h3_coarse` that the bounding box narrows to: 1,640 points out of 100,000
    records took 400 ms. So when every match is wanted (total <= POINT_CAP) the rows are read unordered and
    sorted here, and when a few thousand match the sort key is an expression no index provides, which makes
    the planner filter first and sort the matches. Only for a very large match (a huge box with mode=points)
    is the time index, which can stop after POINT_CAP rows, left to the planner."""
    if total <= POINT_CAP:
        rows = list(qs.order_by().values_list(*_POINT_COLUMNS))
        rows.sort(key=lambda r: (r[7], r[0]), reverse=True)
    else:
        ordered = qs.order_by("-occurred_at", "-id")
        if total <= SORT_AFTER_FILTER:
            ordered = qs.annotate(_newest=Coalesce("occurred_at", "occurred_at")).order_by("-_newest", "-id")
        rows = list(ordered.values_list(*_POINT_COLUMNS)[:POINT_CAP])
    redactor = records.Redactor.for_actor(actor)
    # What a point shows (kind, category, status, sensitivity, time) is withheld by organisation only (a sharing
    # agreement), never per record: source identity is not on the map. So ask the Redactor once per organisation.
    hidden_by_org: dict[Any, frozenset[str]] = {}
    kinds = {k: i for i, k in enumerate(vocab.KINDS)}
    statuses = {k: i for i, k in enumerate(vocab.STATUSES)}
    categories: list[str] = []
    index: dict[str, int] = {}
    out = []
    for rid, lon, lat, kind, category, status, sensitivity, occurred_at, org in rows:
        hidden = hidden_by_org.get(org)
        if hidden is None:
            probe = SimpleNamespace(organisation_id=org, created_by_id=None, reporting_unit_id=None)
            hidden = hidden_by_org[org] = frozenset(redactor.hidden_fields(probe))
        if "category" in hidden:
            category = None
        if category is not None and category not in index:
            index[category] = len(categories)
            categories.append(category)
        out.append([
            str(rid),
            round(lon, 5),
            round(lat, 5),
            None if "kind" in hidden else kinds[kind],
            None if category is None else index[category],
            None if "status" in hidden else statuses[status],
            None if "sensitivity" in hidden else sensitivity,
            None if "occurred_at" in hidden else int(occurred_at.timestamp()),
        ])
    return {
        "mode": "points",
        "total": total,
        "truncated": total > len(out),
        "fields": list(POINT_FIELDS),
        # Small integers instead of repeated strings keep 2,000 points well under the size bound.
        "lookup": {"kind": list(vocab.KINDS), "status": list(vocab.STATUSES), "category": categories},
        "rows": out,
    }


def cells_payload(qs: QuerySet, resolution: int) -> dict[str, Any]:
    while True:
        groups = list(
            qs.order_by()
            .annotate(cell=parent_cell_expression(resolution))
            .values("cell")
            .annotate(n=Count("pk"))
            .values_list("cell", "n")[: MAX_CELLS + 1]
        )
        # Resolution 0 has 122 cells in all, so the loop always ends with every non-empty cell.
        if len(groups) <= MAX_CELLS or resolution == 0:
            break
        resolution -= 1
    return {
        "mode": "cells",
        "total": sum(n for _cell, n in groups),
        "resolution": resolution,
        "cells": [[h3.int_to_str(cell), n] for cell, n in groups],
    }


# ---------------------------------------------------------------- live feed
#
# The rule is changes_for's for record entries: an entry is shown when its record is in scoped_records(actor).
# changes_for applies it as `record_id IN (every record in scope)`, which SQLite plans as a scan of the
# whole scope: seconds a poll at 100,000 records. A live stream, a few entries behind the head, asks the same
# scope about only the records of the new entries, one primary-key lookup each (one UNION query), which costs
# milliseconds; a stream far behind uses changes_for itself. tests/test_web_live.py checks both against it.

FEED_RECORD_FIELDS = (
    "id", "title", "kind", "category", "status", "sensitivity", "source_type", "occurred_at", "latitude",
    "longitude", "version", "organisation_id", "created_by_id", "reporting_unit_id", "reporting_unit__code",
)
# SQLite refuses compound selects of more than 500 terms.
UNION_CHUNK = 200
# How far back (in entries) feed_start looks before falling back to the exact, slower query.
START_WINDOW = 2000


def visible_records(actor: Actor, ids: Iterable[Any]) -> dict[Any, SimpleNamespace]:
    """The records among `ids` that `actor` may see, by id, with the fields the feed shows."""
    wanted = list(dict.fromkeys(i for i in ids if i is not None))
    found: dict[Any, SimpleNamespace] = {}
    base = records.scoped_records(actor)
    for start in range(0, len(wanted), UNION_CHUNK):
        parts = [base.filter(pk=key).values(*FEED_RECORD_FIELDS) for key in wanted[start:start + UNION_CHUNK]]
        rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
        for row in rows:
            found[row["id"]] = SimpleNamespace(**row)
    return found


def feed_start(actor: Actor) -> int:
    """The seq of the newest change-log entry about a record the viewer may see: where their live feed starts.

    Not the chain's head: that would tell an outsider how much happens elsewhere. Looks back through the
    newest entries first (cheap), then, for a viewer with nothing recent, asks the exact question."""
    before: int | None = None
    looked = 0
    while looked < START_WINDOW:
        chunk = ChangeEntry.objects.order_by("-seq")
        if before is not None:
            chunk = chunk.filter(seq__lt=before)
        rows = list(chunk.values_list("seq", "record_id")[:UNION_CHUNK])
        if not rows:
            return 0
        visible = visible_records(actor, {record_id for _seq, record_id in rows})
        for seq, record_id in rows:
            if record_id in visible:
                return int(seq)
        before = rows[-1][0]
        looked += len(rows)
    latest = ChangeEntry.objects.filter(
        seq__lt=before, record_id__in=records.scoped_records(actor).values("id")
    ).aggregate(top=Max("seq"))["top"]
    return int(latest or 0)


# ---------------------------------------------------------------- where a page's feed starts
#
# The map page must not wait for feed_start (a scope query: 0.1-0.5 s at 100,000 records) before it is sent.
# It is given instead the chain's head as it was when the page was made (one primary-key probe), sealed: the
# browser passes the token back on the stream URL, and only the server can read it. The feed then starts
# exactly where the page's first map answer (requested after the page) cannot have ended yet, so a record
# written in between is sent live and none is missed; the browser never learns the head, which would tell
# someone who cannot see every record how much happens elsewhere.

_TOKEN_VERSION = b"\x01"


def _token_mac(purpose: str, data: bytes) -> bytes:
    return salted_hmac(f"sitaware.web.feed-start.{purpose}", data, algorithm="sha256").digest()


def feed_token(user_id: Any, head: int | None = None) -> str:
    """An opaque, per-user token that only the server can turn back into `head` (default: the chain's head now).

    The seq is hidden with a pad made from a random nonce by HMAC (keyed by SECRET_KEY), then the whole is
    authenticated (encrypt-then-MAC), so the token says nothing about the head and cannot be forged or moved
    to another account."""
    seq = _head() if head is None else head
    nonce = secrets.token_bytes(12)
    pad = _token_mac("pad", nonce)[:8]
    body = _TOKEN_VERSION + nonce + bytes(a ^ b for a, b in zip(seq.to_bytes(8, "big"), pad, strict=True))
    tag = _token_mac("tag", body + str(user_id).encode())[:16]
    return base64.urlsafe_b64encode(body + tag).decode().rstrip("=")


def read_feed_token(token: str | None, user_id: Any) -> int | None:
    """The seq sealed in a token from feed_token for this user, or None when it is not one (or not theirs)."""
    if not token or len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    # Only the one spelling feed_token writes (base64 has spare bits in its last character).
    if len(raw) != 1 + 12 + 8 + 16 or raw[:1] != _TOKEN_VERSION or base64.urlsafe_b64encode(raw).decode().rstrip(
            "=") != token:
        return None
    body, tag = raw[:-16], raw[-16:]
    if not hmac.compare_digest(tag, _token_mac("tag", body + str(user_id).encode())[:16]):
        return None
    pad = _token_mac("pad", body[1:13])[:8]
    return int.from_bytes(bytes(a ^ b for a, b in zip(body[13:], pad, strict=True)), "big")


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


@dataclass
class FeedBatch:
    events: list[dict[str, Any]]
    scan: int  # the last entry read, shown or not: where the next read starts (never sent to the browser)
    more: bool  # the read was full: read again without waiting


def current_head() -> int:
    """The newest change-log seq (0 when empty): one index lookup."""
    return _head()


def _head() -> int:
    return int(ChangeEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


def _backlog_exceeds(after: int, n: int) -> bool:
    return ChangeEntry.objects.filter(seq__gt=after).order_by("seq").values_list("seq", flat=True)[n:n + 1].exists()


def _catch_up(actor: Actor, after: int, limit: int) -> tuple[list[ChangeEntry], int, bool]:
    """A long way behind (a quiet viewer reconnecting at a busy site): one changes_for query finds the
    visible entries instead of checking every entry in between, batch by batch."""
    head = _head()
    entries = [e for e in changes_for(actor, after=after, limit=limit) if e.record_id is not None]
    full = len(entries) >= limit
    last = entries[-1].seq if entries else after
    # Writers append one at a time (the chain head is locked), so when the answer was not cut short it held
    # every visible entry up to `head`: reading may go on from there.
    return entries, (last if full else max(last, head)), full


@dataclass
class _GroupRead:
    """One read of the change log after a cursor, shared by every viewer of one scope group."""

    entries: list[ChangeEntry]
    scan: int
    more: bool
    common: dict[Any, SimpleNamespace]  # records every member sees
    authored: dict[Any, SimpleNamespace]  # records a member sees only if they wrote them
    agreements: dict[Any, SharingAgreement]
    read_at: float


# (scope group, cursor, limit, head of the log) -> the read. Fifty viewers of one unit polling the same cursor cost
# one read, not fifty. The head is in the key, so a write after a read is never hidden by it; the time limit only
# keeps the dict small and the records' current state fresh.
_GROUP_READS: dict[tuple[Any, ...], _GroupRead] = {}
# How long a read is reused; shorter than the stream's poll interval, so each poll tick reads once per group.
# 0 turns sharing off (every viewer reads for itself): the live benchmark's anchor.
GROUP_READ_SECONDS = 0.25
_GROUP_READS_MAX = 512


def _rows(queryset: QuerySet, ids: list[Any]) -> dict[Any, SimpleNamespace]:
    found: dict[Any, SimpleNamespace] = {}
    for start in range(0, len(ids), UNION_CHUNK):
        parts = [queryset.filter(pk=key).values(*FEED_RECORD_FIELDS) for key in ids[start:start + UNION_CHUNK]]
        rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
        for row in rows:
            found[row["id"]] = SimpleNamespace(**row)
    return found


def _group_read(actor: Actor, after: int, limit: int, head: int) -> _GroupRead:
    key = (scope_group(actor), after, limit, head)
    now = time.monotonic()
    cached = _GROUP_READS.get(key)
    if cached is not None and now - cached.read_at < GROUP_READ_SECONDS:
        return cached
    read = list(
        ChangeEntry.objects.filter(seq__gt=after)
        .order_by("seq")
        .only("seq", "at", "action", "actor_label", "record_id")[:limit]
    )
    agreements = active_agreements(actor) if not actor.system else []
    ids = list(dict.fromkeys(e.record_id for e in read if e.record_id is not None))
    common_qs, authored_qs = records.group_scoped_records(actor, agreements)
    common = _rows(common_qs, ids) if ids else {}
    missing = [i for i in ids if i not in common]
    authored = _rows(authored_qs, missing) if missing else {}
    result = _GroupRead(read, (read[-1].seq if read else after), len(read) >= limit, common, authored,
                        {a.provider_id: a for a in agreements}, now)
    if len(_GROUP_READS) >= _GROUP_READS_MAX:
        for stale in [k for k, v in _GROUP_READS.items() if now - v.read_at >= GROUP_READ_SECONDS]:
            _GROUP_READS.pop(stale, None)
    _GROUP_READS[key] = result
    return result


def _events(actor: Actor, entries: Iterable[ChangeEntry], rows: dict[Any, SimpleNamespace],
            redactor: records.Redactor) -> list[dict[str, Any]]:
    events = []
    for entry in entries:
        record = rows.get(entry.record_id)
        if record is None:  # not about a record, or about one out of scope: say nothing about it
            continue
        events.append({
            "seq": entry.seq,
            "at": _iso(entry.at),
            "action": entry.action,
            "actor": entry.actor_label,
            "record": _feed_record(record, set(redactor.hidden_fields(record))),
        })
    return events


def feed_batch(actor: Actor, after: int, *, limit: int = 200, head: int | None = None) -> FeedBatch:
    """Record events after `after`, in seq order, in the viewer's scope. Each carries the record as the
    viewer may see it now (withheld fields null), so the map can place it without another request.
    `head`: the newest seq, if the caller has just read it (the live stream has)."""
    if _backlog_exceeds(after, 2 * limit):
        read, scan, more = _catch_up(actor, after, limit)
        rows = visible_records(actor, {e.record_id for e in read})
        return FeedBatch(_events(actor, read, rows, records.Redactor.for_actor(actor)), scan, more=more)
    group = _group_read(actor, after, limit, _head() if head is None else head)
    rows = dict(group.common)
    rows.update((key, row) for key, row in group.authored.items() if row.created_by_id == actor.user_id)
    redactor = records.Redactor(actor, group.agreements)
    return FeedBatch(_events(actor, group.entries, rows, redactor), group.scan, more=group.more)


def _feed_record(record: SimpleNamespace, hidden: set[str]) -> dict[str, Any]:
    place_hidden = bool(PLACE_FIELDS & hidden)
    values: dict[str, Any] = {
        "id": str(record.id),
        "title": record.title,
        "kind": record.kind,
        "category": record.category,
        "status": record.status,
        "sensitivity": record.sensitivity,
        "source_type": record.source_type,
        "unit": record.reporting_unit__code,
        "occurred_at": _iso(record.occurred_at),
        "lat": None if place_hidden else round(record.latitude, 5),
        "lon": None if place_hidden else round(record.longitude, 5),
        "version": record.version,
    }
    for name, column in (("title", "title"), ("kind", "kind"), ("category", "category"), ("status", "status"),
                         ("sensitivity", "sensitivity"), ("source_type", "source_type"),
                         ("unit", "reporting_unit"), ("occurred_at", "occurred_at")):
        if column in hidden:
            values[name] = None
    return values


def sse_message(event: dict[str, Any]) -> str:
    """One Server-Sent Event; its id is the change-log seq, which the browser sends back as Last-Event-ID."""
    return f"id: {event['seq']}\nevent: record\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"
