"""HTTP API of the oversight app: the component registry and its kill switch, recommendations, decisions, rates."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from sitaware.api.auth import request_actor
from sitaware.oversight import services
from sitaware.oversight.models import AIComponent
from sitaware.oversight.suggest_category import suggest_category

router = Router(tags=["oversight"])


class SwitchIn(Schema):
    reason: str = ""


class DecisionIn(Schema):
    outcome: str
    reason: str = ""
    modified_output: dict[str, Any] | None = None


# Oversight errors carry their own HTTP status (404, 409, 423, 400) and a body that says what to do.


def _component(component: AIComponent) -> dict[str, Any]:
    return {
        **services.component_state(component),
        "model_card": component.model_card,
        "updated_at": component.updated_at.isoformat(),
    }


@router.get("/components", summary="Registered AI components and whether each is switched on")
def list_components(request: HttpRequest):
    return {"items": [_component(c) for c in services.list_components(request_actor(request))]}


@router.post("/components/{key}/enable", summary="Switch a component on (administrators)")
def enable_component(request: HttpRequest, key: str, payload: SwitchIn | None = None):
    reason = payload.reason if payload else ""
    return _component(services.set_enabled(request_actor(request), key, True, reason=reason))


@router.post("/components/{key}/disable", summary="Switch a component off: the kill switch")
def disable_component(request: HttpRequest, key: str, payload: SwitchIn | None = None):
    reason = payload.reason if payload else ""
    return _component(services.set_enabled(request_actor(request), key, False, reason=reason))


@router.get("/components/{key}/rates", summary="Acceptance and override rates of a component's recommendations")
def component_rates(request: HttpRequest, key: str):
    return services.rates(request_actor(request), key)


@router.post("/records/{record_id}/suggest-category", response={201: dict},
             summary="Ask the category suggester about a record; stores a recommendation, changes nothing")
def suggest(request: HttpRequest, record_id: str):
    rec = suggest_category(request_actor(request), record_id)
    return Status(201, services.serialize_recommendation(rec))


@router.get("/recommendations", summary="Recommendations in your scope, newest first (status=pending: the queue)")
def list_recommendations(request: HttpRequest, status: str | None = None, component: str | None = None,
                         limit: int = 100):
    rows = services.list_recommendations(request_actor(request), status=status, component=component, limit=limit)
    return {"items": [services.serialize_recommendation(r) for r in rows]}


@router.get("/recommendations/{recommendation_id}", summary="One recommendation with its decision, if any")
def get_recommendation(request: HttpRequest, recommendation_id: str):
    return services.serialize_recommendation(services.get_recommendation(request_actor(request), recommendation_id))


@router.post("/recommendations/{recommendation_id}/decision", response={201: dict},
             summary="Accept, modify or reject a recommendation, with a reason; accept/modify applies it")
def decide(request: HttpRequest, recommendation_id: str, payload: DecisionIn):
    decision = services.decide(request_actor(request), recommendation_id, payload.outcome, payload.reason,
                               payload.modified_output)
    return Status(201, services.serialize_decision(decision))
