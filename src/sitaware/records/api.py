"""HTTP API for records and taxonomies. Every read goes through `records.services`, which applies scope."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from sitaware.api.auth import request_actor
from sitaware.api.errors import BadInput, reject_unknown_params
from sitaware.core.choices import Sensitivity
from sitaware.records import geo, services, vocab
from sitaware.records.schema import RecordCreate, RecordUpdate
from sitaware.records.schema import Status as RecordStatus
from sitaware.records.taxonomy import Taxonomy, TaxonomyError

router = Router(tags=["records"])
taxonomy_router = Router(tags=["taxonomies"])

LIST_LIMIT_MAX = 500


# ---------------------------------------------------------------- shapes


class ErrorOut(Schema):
    detail: str


class RecordOut(Schema):
    """A record as the caller may see it. Fields withheld from them are null and named in `redacted_fields`."""

    id: uuid.UUID
    kind: str | None = None
    category: str | None = None
    taxonomy_version: str | None = None
    title: str | None = None
    narrative: str | None = None
    occurred_at: str | None = Field(None, description="ISO 8601, UTC")
    occurred_until: str | None = None
    time_precision: str | None = None
    reported_at: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_precision: str | None = None
    admin1: str | None = None
    admin2: str | None = None
    place_name: str | None = None
    h3_cell: str | None = None
    source_type: str | None = None
    source_reliability: str | None = None
    information_credibility: int | None = None
    source_identity: str | None = None
    source_reference: str | None = None
    casualties: dict[str, dict[str, int]] | None = Field(None, description="Non-zero counts by group")
    fatalities: int | None = None
    sensitivity: int | None = Field(None, description="0 public, 1 restricted, 2 confidential, 3 strictly conf.")
    status: str | None = None
    organisation: str | None = None
    reporting_unit: str | None = None
    origin_site: str | None = None
    version: int | None = None
    external_source: str | None = None
    external_id: str | None = None
    redacted_fields: list[str] = []
    created_at: str | None = None
    updated_at: str | None = None


class RecordPage(Schema):
    items: list[RecordOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last")
    count: int | None = Field(None, description="Matching records in your scope, when asked with count=true")


class RecordListQuery(Schema):
    bbox: str | None = Field(None, description="min_lon,min_lat,max_lon,max_lat (WGS84)")
    since: str | None = Field(None, description="Occurred at or after; ISO 8601 with a time zone")
    until: str | None = Field(None, description="Occurred before; ISO 8601 with a time zone")
    kind: list[str] = Field([], description="incident, event, activity; repeat or comma-separate")
    category: list[str] = Field([], description="Category codes; a parent selects its children")
    status: list[str] = Field([], description=", ".join(vocab.STATUSES))
    sensitivity: list[str] = Field([], description="public, restricted, confidential, strictly_confidential or 0-3")
    source_type: list[str] = Field([], description=", ".join(vocab.SOURCE_TYPES))
    unit: list[str] = Field([], description="Reporting unit codes")
    q: str = Field("", max_length=200, description="Words that must all appear in title, narrative or place")
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=LIST_LIMIT_MAX)
    count: bool = Field(False, description="Also count every matching record (slower on large stores)")


class TransitionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to: RecordStatus
    reason: str = Field("", max_length=1000)
    base_version: int | None = Field(None, ge=1, description="The version you saw; a stale one is a 409")


class RevisionOut(Schema):
    version: int
    at: str | None
    actor: str
    reason: str
    changed_fields: list[str]
    snapshot: dict[str, Any]
    change_seq: int | None


class RevisionList(Schema):
    items: list[RevisionOut]


class CategoryOut(Schema):
    code: str
    kind: str
    parent: str | None
    label: dict[str, str]
    keywords: dict[str, list[str]]
    acled: str | None


class TaxonomyOut(Schema):
    key: str
    name: str
    version: str
    description: str
    default: bool
    categories: list[CategoryOut]


class TaxonomyList(Schema):
    items: list[TaxonomyOut]


# ---------------------------------------------------------------- query parsing

# A '+' left unescaped in a query string arrives as a space: "...T10:00:00 01:00" means "+01:00".
_SPACE_FOR_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def parse_instant(field: str, text: str) -> dt.datetime:
    """An ISO 8601 timestamp that names its time zone; a naive one is refused, never guessed."""
    cleaned = _SPACE_FOR_PLUS.sub(r"\1+\2", text.strip())
    try:
        value = dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise BadInput([{"field": field, "message": "not an ISO 8601 timestamp; e.g. 2026-01-31T14:00:00Z"}]) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadInput([{"field": field, "message": "add a time zone, e.g. 2026-01-31T14:00:00Z or "
                                                    "2026-01-31T15:00:00+01:00 (in a URL write + as %2B)"}])
    return value


def _values(raw: list[str]) -> list[str]:
    """Repeated and comma-separated values alike, blanks dropped, order kept, duplicates removed."""
    out: list[str] = []
    for item in raw:
        for value in item.split(","):
            value = value.strip()
            if value and value not in out:
                out.append(value)
    return out


def _known_categories() -> set[str]:
    registry = services.taxonomies()
    return {code for key in registry.keys() for code in registry.get(key).categories}


def _choice(field: str, raw: list[str], allowed: tuple[str, ...], problems: list[dict[str, str]]) -> list[str]:
    values = _values(raw)
    for value in values:
        if value not in allowed:
            problems.append({"field": field, "message": f"unknown {field} {value!r}; use {', '.join(allowed)}"})
    return values


def record_filter(query: RecordListQuery) -> services.RecordFilter:
    """Turn query parameters into a RecordFilter, naming every parameter that is wrong at once."""
    problems: list[dict[str, str]] = []
    flt = services.RecordFilter(text=query.q.strip(), units=_values(query.unit))
    if query.bbox is not None:
        try:
            flt.bbox = geo.parse_bbox(query.bbox)
        except ValueError as exc:
            problems.append({"field": "bbox", "message": str(exc)})
    for name in ("since", "until"):
        text = getattr(query, name)
        if text is not None:
            try:
                setattr(flt, name, parse_instant(name, text))
            except BadInput as exc:
                problems.extend(exc.problems)
    if flt.since and flt.until and flt.since >= flt.until:
        problems.append({"field": "until", "message": "until must be later than since"})
    flt.kinds = _choice("kind", query.kind, vocab.KINDS, problems)
    flt.statuses = _choice("status", query.status, vocab.STATUSES, problems)
    flt.source_types = _choice("source_type", query.source_type, vocab.SOURCE_TYPES, problems)
    categories = _values(query.category)
    if categories:
        known = _known_categories()
        for code in categories:
            if code not in known:
                problems.append({"field": "category",
                                 "message": f"unknown category {code!r}; GET /api/v1/taxonomies lists them"})
    flt.categories = categories
    sensitivities: list[int] = []
    for value in _values(query.sensitivity):
        try:
            sensitivities.append(Sensitivity.parse(value))
        except ValueError as exc:
            problems.append({"field": "sensitivity", "message": f"{exc} or 0-3"})
    flt.sensitivities = sensitivities
    if problems:
        raise BadInput(problems)
    return flt


# ---------------------------------------------------------------- records


def _out(request: HttpRequest, record) -> dict[str, Any]:
    return services.serialize(record, services.Redactor.for_actor(request_actor(request)))


@router.get("", response={200: RecordPage}, summary="List records in your scope")
def list_records(request: HttpRequest, filters: Query[RecordListQuery]):
    """Newest first (by occurred_at). Page with `cursor`; a page is stable however many records arrive."""
    reject_unknown_params(request, RecordListQuery.model_fields)
    actor = request_actor(request)
    flt = record_filter(filters)
    page = services.list_records(actor, flt, cursor=filters.cursor, limit=filters.limit)
    count = services.count_records(actor, flt) if filters.count else None
    return {"items": page.items, "next_cursor": page.next_cursor, "count": count}


@router.post(
    "",
    response={200: RecordOut, 201: RecordOut},
    summary="Create a record",
    description=(
        "201 with the new record. Give `id` (a UUID made on the device) so that a retry after a lost answer "
        "is safe: sending the same id again as the same author answers 200 with the record as stored and "
        "creates nothing (to change it, PATCH). Bad input is 400 with `errors: [{field, message}]`."
    ),
)
def create_record(request: HttpRequest, payload: RecordCreate):
    record, created = services.create_or_replay(request_actor(request), payload)
    return Status(201 if created else 200, _out(request, record))


@router.get("/{record_id}", response={200: RecordOut, 404: ErrorOut}, summary="Read a record")
def read_record(request: HttpRequest, record_id: str):
    """404 for a record outside your scope, exactly as for one that does not exist."""
    return services.read_record(request_actor(request), record_id)


@router.patch(
    "/{record_id}",
    response={200: RecordOut, 404: ErrorOut},
    summary="Change a record",
    description="Send only the fields that change and `base_version`, the version you edited. A stale "
                "base_version is 409 with `current_version`: reload, reapply, save again.",
)
def update_record(request: HttpRequest, record_id: str, payload: RecordUpdate):
    record = services.update_record(request_actor(request), record_id, payload)
    return _out(request, record)


@router.post(
    "/{record_id}/transitions",
    response={200: RecordOut, 404: ErrorOut},
    summary="Move a record to another status",
    description="draft → in_review → verified → published → archived, and back where the workflow allows.",
)
def transition_record(request: HttpRequest, record_id: str, payload: TransitionIn):
    record = services.transition(
        request_actor(request), record_id, payload.to, reason=payload.reason, base_version=payload.base_version
    )
    return _out(request, record)


@router.get("/{record_id}/revisions", response={200: RevisionList, 404: ErrorOut}, summary="A record's revisions")
def record_revisions(request: HttpRequest, record_id: str):
    return {"items": services.revisions(request_actor(request), record_id)}


# ---------------------------------------------------------------- taxonomies


def _taxonomy_out(taxonomy: Taxonomy) -> dict[str, Any]:
    return {
        "key": taxonomy.key,
        "name": taxonomy.name,
        "version": taxonomy.version,
        "description": taxonomy.description,
        "default": taxonomy.key == settings.SITAWARE_DEFAULT_TAXONOMY,
        "categories": [
            {
                "code": c.code,
                "kind": c.kind,
                "parent": c.parent,
                "label": c.label,
                "keywords": {lang: list(words) for lang, words in c.keywords.items()},
                "acled": c.acled,
            }
            for c in taxonomy.categories.values()
        ],
    }


@taxonomy_router.get("", response={200: TaxonomyList}, summary="Every taxonomy version, with categories")
def list_taxonomies(request: HttpRequest):
    request_actor(request)
    registry = services.taxonomies()
    return {"items": [_taxonomy_out(registry.get(key)) for key in registry.keys()]}


@taxonomy_router.get("/{key}", response={200: TaxonomyOut, 404: ErrorOut}, summary="One taxonomy version")
def read_taxonomy(request: HttpRequest, key: str):
    """`key` is name@version, e.g. sitaware-default@1.0. Labels are given in English and French."""
    request_actor(request)
    try:
        return _taxonomy_out(services.taxonomies().get(key))
    except TaxonomyError as exc:
        return Status(404, {"detail": str(exc)})
