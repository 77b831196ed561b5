"""The review queue `/review/` (R-AI-04, R-AI-06): recommendations in the viewer's scope that wait for a person's
decision, each with what a decider needs to judge it (explanation, uncertainty, model version, the data it read).

Deciding goes through `oversight.services.decide`, the same rules as the API: a reason is always required, a
modification must be given, and only the component's decider roles may decide. Nothing is pre-selected: the
decider must choose accept, modify or reject themselves (no default that could be confirmed without reading).

An early-warning alert also shows its zone on a small offline map (static/web/mapkit.js) beside a table of the
same facts; risk maps and patrol plans link to their own map pages, whose decision form (decision_form.html)
posts here with `next`, the page to come back to.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sitaware.alerts.runner import COMPONENT_KEY as ALERT_COMPONENT
from sitaware.core.choices import Role
from sitaware.core.scope import Actor, actor_for
from sitaware.oversight import services as oversight
from sitaware.oversight.errors import OversightError, OversightValidationError
from sitaware.oversight.models import DecisionOutcome, Recommendation
from sitaware.oversight.suggest_category import COMPONENT_KEY as CATEGORY_SUGGESTER
from sitaware.records import services as records
from sitaware.web import mapspecs, pages

QUEUE_LIMIT = 100
# Recommendations that have their own map page: the queue links to it (the decision form is the same).
MAP_PAGES = {"risk_map": "web:risk-map", "patrol_plan": "web:plan"}


def may_decide(actor: Actor, rec: Recommendation) -> bool:
    return (not actor.system and "decide" in actor.actions and actor.role in (rec.component.decider_roles or []))


def _targets(actor: Actor, recs: list[Recommendation]) -> dict[str, dict[str, Any]]:
    """Titles of the records the recommendations are about, read through the viewer's scope."""
    ids = {str(r.target_record) for r in recs if r.target_record}
    rows = records.scoped_records(actor).filter(id__in=ids).values("id", "title", "category", "version")
    return {str(row["id"]): row for row in rows}


def _item(actor: Actor, rec: Recommendation, targets: dict[str, dict[str, Any]],
          errors: dict[str, str] | None = None, posted: dict[str, str] | None = None) -> dict[str, Any]:
    data = oversight.serialize_recommendation(rec)
    proposal = (rec.output or {}).get("proposal")
    tax_key = (rec.parameters or {}).get("taxonomy")
    item: dict[str, Any] = {
        "rec": data,
        "component_name": rec.component.name,
        "target": targets.get(str(rec.target_record)) if rec.target_record else None,
        "proposal": proposal,
        "proposal_text": json.dumps(proposal, ensure_ascii=False, indent=1) if proposal is not None else "",
        "uncertainty": sorted((rec.uncertainty or {}).items()),
        "parameters": json.dumps(rec.parameters, ensure_ascii=False, sort_keys=True),
        "output_text": json.dumps(rec.output, ensure_ascii=False, indent=1, sort_keys=True),
        "can_decide": may_decide(actor, rec),
        "errors": errors or {},
        "posted": posted or {},
        "category_choices": None,
    }
    if rec.component.key == ALERT_COMPONENT:
        item["zone"] = _alert_zone(rec)
    if rec.target_type in MAP_PAGES and rec.target_id:
        item["map_link"] = reverse(MAP_PAGES[rec.target_type], args=[rec.target_id])
    if rec.target_type == "patrol_plan" and rec.target_id and rec.status == "pending":
        _edited_plan(actor, rec, item)
    if rec.component.key == CATEGORY_SUGGESTER and tax_key:
        # A modification of a category suggestion is a category of the record's own taxonomy version.
        tax = pages.taxonomy(tax_key)
        item["category_choices"] = pages.category_options(tax)
        item["proposal_label"] = pages.category_label((proposal or {}).get("category"), tax)
        if item["target"]:
            item["target"]["category_label"] = pages.category_label(item["target"]["category"], tax)
    return item


def _edited_plan(actor: Actor, rec: Recommendation, item: dict[str, Any]) -> None:
    """A plan a planner changed after the proposal: 'accept' would approve the proposal as it was, so the queue
    says so and fills the modification with the plan's current routes (unless the decider already typed one)."""
    from sitaware.planning import services as planning
    from sitaware.planning.errors import PlanNotFound

    try:
        plan = planning.get_plan(actor, rec.target_id)
    except (PlanNotFound, PermissionDenied):
        return
    routes = planning.current_routes(plan)
    if plan.status != "edited" or routes == ((rec.output or {}).get("proposal") or {}).get("routes"):
        return
    item["plan_edited"] = plan.version
    if not item["posted"].get("modified_output"):
        item["posted"] = {**item["posted"], "modified_output": json.dumps({"plan": str(plan.id), "routes": routes})}


def _alert_zone(rec: Recommendation) -> dict[str, Any] | None:
    """An early-warning alert's zone for its small map, and the same facts for the table beside it."""
    output = rec.output or {}
    spec = mapspecs.alert_zone(output)
    if spec is None:
        return None
    admin1 = output.get("admin1") or {}
    return {
        "spec": spec,
        "spec_id": f"zone-{rec.id}",
        "cells": output.get("cells") or [],
        "resolution": output.get("resolution"),
        "window_start": (output.get("window_start") or "")[:10],
        "window_end": (output.get("window_end") or "")[:10],
        "observed": output.get("observed"),
        "expected": output.get("expected"),
        "observed_over_expected": output.get("observed_over_expected"),
        "relative_risk": output.get("relative_risk"),
        "p_value": output.get("p_value"),
        "recurrence_days": output.get("recurrence_interval_days"),
        "surge_threshold": output.get("surge_threshold"),
        "records": len(output.get("record_ids") or []),
        "admin1": sorted(admin1.items(), key=lambda kv: (-kv[1], kv[0])) if isinstance(admin1, dict) else [],
    }


def _rates(actor: Actor) -> list[dict[str, Any]] | None:
    """Per-component acceptance and override rates: shown to oversight officers only (R-AI-06)."""
    if actor.role != Role.OVERSIGHT:
        return None
    return [{"name": c.name, "enabled": c.enabled, **oversight.rates(actor, c.key)}
            for c in oversight.list_components(actor)]


def _page(request: HttpRequest, actor: Actor, *, failed: str | None = None, errors: dict[str, str] | None = None,
          posted: dict[str, str] | None = None, status: int = 200) -> HttpResponse:
    recs = oversight.list_recommendations(actor, status="pending", limit=QUEUE_LIMIT)
    targets = _targets(actor, recs)
    # Only the recommendation whose decision failed gets the messages and what was typed back.
    items = [_item(actor, r, targets, errors, posted) if str(r.id) == failed else _item(actor, r, targets)
             for r in recs]
    context = {
        "items": items,
        "rates": _rates(actor),
        "outcomes": DecisionOutcome.choices,
        "limit": QUEUE_LIMIT,
        "has_zone": any(item.get("zone") for item in items),
    }
    return render(request, "web/review.html", context, status=status)


def _next(request: HttpRequest) -> str:
    """Where to go after a decision: the page it was made from (a risk map, a plan) or the queue."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return reverse("web:review")


@login_required
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    return _page(request, actor_for(request.user))


@login_required
@require_POST
def review_decide(request: HttpRequest, recommendation_id: str) -> HttpResponse:
    actor = actor_for(request.user)
    outcome = request.POST.get("outcome", "")
    reason = request.POST.get("reason", "")
    posted = {"outcome": outcome, "reason": reason, "modified_category": request.POST.get("modified_category", ""),
              "modified_output": request.POST.get("modified_output", "")}
    modified: Any = None
    errors: dict[str, str] = {}
    if outcome == DecisionOutcome.MODIFY:
        if posted["modified_category"]:
            modified = {"category": posted["modified_category"]}
        elif posted["modified_output"].strip():
            try:
                modified = json.loads(posted["modified_output"])
            except ValueError:
                errors["modified_output"] = _("not valid JSON")
    try:
        if errors:
            raise OversightValidationError([{"field": k, "message": v} for k, v in errors.items()])
        decision = oversight.decide(actor, recommendation_id, outcome, reason, modified)
    except OversightValidationError as exc:
        for problem in exc.problems:
            # "modified_output.category" → the modification's slot; each slot shows every message it gets.
            key = problem["field"].split(".")[0]
            key = "modified_output" if key in ("proposal", "modified_category") else key
            errors[key] = (errors.get(key, "") + " " + problem["message"]).strip()
        return _page(request, actor, failed=str(recommendation_id), errors=errors, posted=posted, status=400)
    except PermissionDenied as exc:
        return _page(request, actor, failed=str(recommendation_id), errors={"outcome": str(exc)}, posted=posted,
                     status=403)
    except OversightError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(_next(request))
    result = decision.apply_result or {}
    messages.success(request, _("Decision recorded: %(outcome)s. %(detail)s") % {
        "outcome": decision.get_outcome_display(), "detail": result.get("detail", "")})
    return HttpResponseRedirect(_next(request))
