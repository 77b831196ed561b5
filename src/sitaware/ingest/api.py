"""HTTP API for intake: sources and their health, items, and what an analyst does with an item.

Items are narrowed by scope (organisation, clearance) and shown to the roles that triage (analysts,
supervisors). A sender's number and the raw payload that repeats it are shown only on need to know.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja import File, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from pydantic import Field

from sitaware.api.auth import request_actor
from sitaware.ingest import services
from sitaware.ingest.adapters import ADAPTERS
from sitaware.ingest.errors import ItemAlreadyHandled, ItemNotFound, SourceNotFound
from sitaware.ingest.models import ItemStatus, Source

router = Router(tags=["intake"])
LIST_MAX = 500


class SourceIn(Schema):
    kind: str = Field(..., description=f"One of {', '.join(ADAPTERS)}.")
    name: str = Field(..., min_length=1, max_length=80, pattern=r"^[-a-zA-Z0-9_]+$")
    config: dict[str, Any] = Field(default_factory=dict)
    sensitivity: int | None = Field(None, ge=0, le=3)
    poll_interval: int | None = Field(None, ge=10)
    silence_threshold: int | None = Field(None, ge=0)
    enabled: bool = True


class SourceOut(Schema):
    id: uuid.UUID
    kind: str
    name: str
    enabled: bool
    sensitivity: int
    poll_interval: int
    config: dict[str, Any]
    health: dict[str, Any]


class ItemOut(Schema):
    id: uuid.UUID
    source: uuid.UUID
    source_name: str
    kind: str
    external_id: str
    content_type: str
    raw_sha256: str
    received_at: dt.datetime
    provenance: dict[str, Any]
    attachments: list[dict[str, Any]]
    title: str
    text: str
    occurred_at: dt.datetime | None
    latitude: float | None
    longitude: float | None
    status: str
    record: uuid.UUID | None
    sensitivity: int
    note: str
    personal_data: dict[str, Any] | None = Field(None, description="Withheld (null) without need to know.")
    withheld: list[str]
    raw: str | None = None


class ToRecordIn(Schema):
    fields: dict[str, Any] = Field(default_factory=dict, description=(
        "Record fields to set or override (kind, category, taxonomy_version, latitude, longitude, ...). "
        "The item gives title, narrative, time and place; the source's record_defaults fill the rest."))


class AttachIn(Schema):
    record: uuid.UUID
    note: str = ""


class DismissIn(Schema):
    reason: str = Field(..., min_length=1, max_length=2000)


class Receipt(Schema):
    stored: int
    duplicates: int
    rejected: int
    reasons: list[str]


def _source_out(source: Source) -> dict[str, Any]:
    return {"id": source.pk, "kind": source.kind, "name": source.name, "enabled": source.enabled,
            "sensitivity": source.sensitivity, "poll_interval": source.poll_interval,
            "config": services.public_config(source), "health": services.health(source)}


def _source(request: HttpRequest, source_id: uuid.UUID) -> Source:
    try:
        return services.get_source(request_actor(request), source_id)
    except SourceNotFound as exc:
        raise HttpError(404, str(exc)) from None


def _item_call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except ItemNotFound as exc:
        raise HttpError(404, str(exc)) from None
    except ItemAlreadyHandled as exc:
        raise HttpError(409, str(exc)) from None


@router.get("/sources", response=list[SourceOut], summary="Intake sources of your organisation, with health")
def list_sources(request: HttpRequest):
    return [_source_out(s) for s in services.sources_for(request_actor(request)).order_by("name")]


@router.post("/sources", response={201: SourceOut}, summary="Register an intake source (supervisors, administrators)")
def create_source(request: HttpRequest, payload: SourceIn):
    source = services.create_source(request_actor(request), kind=payload.kind, name=payload.name,
                                    config=payload.config, sensitivity=payload.sensitivity,
                                    poll_interval=payload.poll_interval,
                                    silence_threshold=payload.silence_threshold, enabled=payload.enabled)
    return Status(201, _source_out(source))


@router.get("/sources/{source_id}", response=SourceOut, summary="One source and its health")
def get_source(request: HttpRequest, source_id: uuid.UUID):
    return _source_out(_source(request, source_id))


@router.post("/sources/{source_id}/upload", response=Receipt,
             summary="Upload a file to a source (a Telegram channel export's result.json)")
def upload(request: HttpRequest, source_id: uuid.UUID, file: File[UploadedFile]):
    actor = request_actor(request)
    actor.require("import")
    source = _source(request, source_id)
    adapter = ADAPTERS[source.kind]
    if source.kind != "telegram_export":
        raise HttpError(400, f"{adapter.label} sources do not take uploads")
    body = file.read(adapter(source).max_bytes + 1)
    outcome = services.receive(source, body, file.content_type or "application/json",
                               meta={"filename": file.name or ""}, actor=actor)
    return {"stored": outcome.stored, "duplicates": outcome.duplicates, "rejected": outcome.rejected,
            "reasons": outcome.reasons[:50]}


@router.get("/items", response=list[ItemOut], summary="Intake items in your scope, newest first")
def list_items(request: HttpRequest, status: str | None = None, source: uuid.UUID | None = None,
               limit: int = 100):
    actor = request_actor(request)
    qs = services.items_for(actor).select_related("source")
    if status:
        if status not in ItemStatus.values:
            raise HttpError(400, f"unknown status {status!r}; use one of {', '.join(ItemStatus.values)}")
        qs = qs.filter(status=status)
    if source:
        qs = qs.filter(source_id=source)
    rows = qs.order_by("-received_at", "-id")[: max(1, min(limit, LIST_MAX))]
    return [services.serialize_item(actor, item) for item in rows]


@router.get("/items/{item_id}", response=ItemOut, summary="One item; raw=true adds the payload as received")
def get_item(request: HttpRequest, item_id: uuid.UUID, raw: bool = False):
    actor = request_actor(request)
    item = _item_call(services.get_item, actor, item_id)
    return services.serialize_item(actor, item, raw=raw)


@router.post("/items/{item_id}/record", response={201: ItemOut}, summary="Turn an item into a draft record")
def to_record(request: HttpRequest, item_id: uuid.UUID, payload: ToRecordIn):
    actor = request_actor(request)
    item = _item_call(services.turn_into_record, actor, item_id, payload.fields)
    return Status(201, services.serialize_item(actor, item))


@router.post("/items/{item_id}/attach", response=ItemOut, summary="Attach an item to an existing record")
def attach(request: HttpRequest, item_id: uuid.UUID, payload: AttachIn):
    actor = request_actor(request)
    item = _item_call(services.attach, actor, item_id, payload.record, payload.note)
    return services.serialize_item(actor, item)


@router.post("/items/{item_id}/dismiss", response=ItemOut, summary="Dismiss an item, saying why")
def dismiss(request: HttpRequest, item_id: uuid.UUID, payload: DismissIn):
    actor = request_actor(request)
    item = _item_call(services.dismiss, actor, item_id, payload.reason)
    return services.serialize_item(actor, item)
