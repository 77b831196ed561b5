"""HTTP API for triage (`/api/v1/triage`): the review queue with suggestions, running triage on an item, the
analyst's one-screen decision, and the redacted copy for sharing.

Items are read through `ingest.services` (scope, roles that triage); recommendations through oversight.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from sitaware.api.auth import request_actor
from sitaware.ingest import services as ingest
from sitaware.ingest.models import ItemStatus
from sitaware.oversight import services as oversight
from sitaware.triage import services
from sitaware.triage.models import TriageResult

router = Router(tags=["triage"])
LIST_MAX = 200


class DecisionIn(Schema):
    outcome: Literal["accept", "modify", "reject"]
    modified_output: dict[str, Any] | None = None
    reason: str = ""


class HandleIn(Schema):
    action: Literal["record", "attach", "dismiss"]
    decisions: dict[str, DecisionIn] = Field(default_factory=dict, description=(
        "Recommendation id → your decision. Accepted or modified proposals fill the new record's fields."))
    reason: str = Field("", max_length=2000, description="Required to dismiss; the default reason of decisions.")
    fields: dict[str, Any] = Field(default_factory=dict, description="Record fields you set yourself (win).")
    record: uuid.UUID | None = Field(None, description="The record to attach to (action attach).")
    note: str = Field("", max_length=2000)


def _triage_out(result: TriageResult | None, recs: dict[str, Any]) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "language": result.language, "relevant": result.relevant, "relevance_score": result.relevance_score,
        "info_type": result.info_type, "categories": result.analysis.get("categories", []),
        "location": result.analysis.get("location"), "places": result.analysis.get("locations", []),
        "personal_data": result.analysis.get("personal_data", {}).get("counts", {}),
        "redacted_title": result.redacted_title, "redacted_text": result.redacted_text,
        "duplicates": result.duplicates, "versions": result.versions, "created_at": result.created_at.isoformat(),
        # Never pre-accepted (R-AI-06): each proposal with its uncertainty and status, for the analyst to decide.
        "recommendations": {aspect: recs.get(rec_id) for aspect, rec_id in result.recommendations.items()},
    }


def _rec_summary(rec: Any) -> dict[str, Any]:
    return {"id": str(rec.pk), "status": rec.status, "proposal": rec.output.get("proposal"),
            "uncertainty": rec.uncertainty, "explanation": rec.explanation, "limitations": rec.limitations}


def _item_out(actor: Any, item: Any, result: TriageResult | None) -> dict[str, Any]:
    recs: dict[str, Any] = {}
    if result is not None and result.recommendations:
        for rec in oversight.scoped_recommendations(actor).filter(pk__in=list(result.recommendations.values())):
            recs[str(rec.pk)] = _rec_summary(rec)
    data = ingest.serialize_item(actor, item)
    data["triage"] = _triage_out(result, recs)
    return data


@router.get("/items", summary="Intake items with their triage suggestions (the review queue)")
def list_items(request: HttpRequest, status: str = ItemStatus.NEW, limit: int = 50):
    actor = request_actor(request)
    if status not in ItemStatus.values:
        raise HttpError(400, f"unknown status {status!r}; use one of {', '.join(ItemStatus.values)}")
    items = list(ingest.items_for(actor).filter(status=status).select_related("source")
                 .order_by("-received_at")[: max(1, min(limit, LIST_MAX))])
    results = {r.item_id: r for r in TriageResult.objects.filter(item__in=[i.pk for i in items])}
    return {"items": [_item_out(actor, i, results.get(i.pk)) for i in items]}


@router.get("/items/{item_id}", summary="One item with its triage suggestions")
def get_item(request: HttpRequest, item_id: uuid.UUID):
    actor = request_actor(request)
    item = ingest.get_item(actor, item_id)
    return _item_out(actor, item, TriageResult.objects.filter(item=item).first())


@router.post("/items/{item_id}/run", summary="Run triage on an item (423 when the component is switched off)")
def run(request: HttpRequest, item_id: uuid.UUID, force: bool = False):
    actor = request_actor(request)
    result = services.triage_item(actor, item_id, force=force)
    return _item_out(actor, result.item, result)


@router.post("/items/{item_id}/handle", summary="Decide on the suggestions and record, attach or dismiss the item")
def handle(request: HttpRequest, item_id: uuid.UUID, payload: HandleIn):
    actor = request_actor(request)
    decisions = {k: v.dict() for k, v in payload.decisions.items()}
    item = services.handle_item(actor, item_id, payload.action, decisions=decisions, reason=payload.reason,
                                fields=payload.fields, record_id=payload.record, note=payload.note)
    return {"id": str(item.pk), "status": item.status, "record": str(item.record_id) if item.record_id else None}


@router.get("/items/{item_id}/shareable", summary="The item's copy for sharing, personal data redacted")
def shareable(request: HttpRequest, item_id: uuid.UUID):
    return services.shareable_copy(request_actor(request), item_id)
