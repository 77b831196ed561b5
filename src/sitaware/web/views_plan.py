"""Patrol-plan pages (issue 6): the plans of the viewer's organisation, and one plan on the map.

Presentation only: plans are read through `planning.services` (`list_plans`, `get_plan`, `serialize_plan`: the
viewer's scope, another organisation's plan is a 404), the drawing is the plan's GeoJSON export
(`planning.exports.geojson_of`, shown, not exported: nothing is handed to a unit, so no `plan.export` entry),
the positions trail is `planning.tracking.positions_of`, and plan vs. actual is the figures
`planning.tracking.plan_vs_actual` stored (never recomputed here). A plan still open for decision can be edited
from its page (`views_plan_edit`: preview with `edit_plan(dry_run=True)`, then save). Deciding stays in the
review queue and the planning API (`decide_plan` sends edited routes as a modification). Asking for a plan and
the organisation's default travel provider are `views_plan_new`; a plan being computed is `views_plan_proposal`
(the plans page lists those not made yet).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from sitaware.core.scope import Actor, actor_for
from sitaware.planning import exports, jobs, tracking
from sitaware.planning import services as planning
from sitaware.planning.errors import PlanNotFound
from sitaware.planning.models import PlanStatus
from sitaware.web import mapspecs, views_plan_edit, views_plan_new, views_plan_proposal

LIST_LIMIT = 50
# Why a cell is in or out (docs/planning.md, `plan.decisions[cell].reason`), in the page's language.
REASONS = {
    "mandatory": gettext_lazy("mandatory visits made"),
    "priority": gettext_lazy("chosen for its priority"),
    "exploration": gettext_lazy("chosen for exploration"),
    "no_go": gettext_lazy("no-go cell"),
    "repeat_cap": gettext_lazy("chosen in each of the last shifts (repeat cap)"),
    "zero_priority": gettext_lazy("priority 0 and not mandatory"),
    "unreachable": gettext_lazy("no unit can get there, stay and return within its shift"),
    "lower_priority": gettext_lazy("reachable, but lower priority than every chosen cell"),
    "no_time": gettext_lazy("reachable alone, not together with the higher-value visits"),
    "mandatory_unmet": gettext_lazy("mandatory visit not made (see below)"),
}
OUTCOMES = {"made": gettext_lazy("made"), "late": gettext_lazy("late"), "missed": gettext_lazy("missed")}
MISSED = {"window": gettext_lazy("no time window left for it"),
          "no_unit_in_time": gettext_lazy("no unit can reach it in its window and get back in time"),
          "capacity": gettext_lazy("possible alone, not all together in the unit-hours available")}


def plans_page(request: HttpRequest, actor: Actor, *, travel_error: str = "", travel_posted: str | None = None,
               status: int = 200) -> HttpResponse:
    labels = dict(PlanStatus.choices)
    rows = [{**planning.serialize_plan(actor, p), "units": len(p.request.units), "status_label": labels.get(p.status)}
            for p in planning.list_plans(actor, limit=LIST_LIMIT)]
    context: dict[str, Any] = {"rows": rows, "limit": LIST_LIMIT, "may_propose": planning.may_propose(actor),
                               "may_set_travel": planning.may_set_travel(actor),
                               "proposals": [views_plan_proposal.row(j) for j in jobs.recent_proposals(actor)]}
    if context["may_propose"] or context["may_set_travel"]:
        default = planning.default_travel(actor)
        spec = default.get("spec") or {}
        current = "site" if default["source"] != "organisation" else (
            f"osm:{spec.get('extract')}" if spec.get("provider") == "osm" else spec.get("provider", "straight_line"))
        context.update(default_travel=views_plan_new.provider_label(default.get("spec")),
                       default_source=views_plan_new.SOURCE_LABELS.get(default["source"]),
                       default_error=default.get("error"), default_set_by=default.get("set_by"),
                       default_set_at=(default.get("set_at") or "")[:16],
                       travel_choices=views_plan_new.travel_choices(actor),
                       travel_current=travel_posted if travel_posted is not None else current,
                       travel_error=travel_error)
    return render(request, "web/plans.html", context, status=status)


@login_required
@require_GET
def plans(request: HttpRequest) -> HttpResponse:
    return plans_page(request, actor_for(request.user))


def _trails(actor: Actor, plan: Any) -> dict[str, list[list[float]]]:
    """The stored positions of each patrol, oldest first, as [lon, lat], read through the tracking service
    (the viewer's scope)."""
    return {patrol: [[round(p["lon"], 6), round(p["lat"], 6)] for p in points]
            for patrol, points in tracking.positions_of(actor, plan).items()}


def _minutes(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds / 60)


@login_required
@require_GET
def plan_map(request: HttpRequest, plan_id: str) -> HttpResponse:
    actor = actor_for(request.user)
    return _plan_page(request, actor, _get(actor, plan_id))


def _get(actor: Actor, plan_id: Any) -> Any:
    try:
        return planning.get_plan(actor, plan_id)
    except PlanNotFound:
        raise Http404(_("no plan %(id)s") % {"id": plan_id}) from None


def _plan_page(request: HttpRequest, actor: Actor, plan: Any, *, edit: dict[str, Any] | None = None,
               status: int = 200) -> HttpResponse:
    data = planning.serialize_plan(actor, plan, detail=True)
    actual = data.get("actual") or None
    # plan.actual's visits are keyed by the stored visit's id; the page and the map know visits by unit and order.
    order_of = {str(pk): (patrol, order) for pk, patrol, order in plan.visits.values_list("pk", "patrol", "order")}
    outcomes: dict[tuple[str, int], dict[str, Any]] = {}
    for o in (actual or {}).get("visits", []):
        if o.get("key") in order_of:
            outcomes[order_of[o["key"]]] = o
    colours = mapspecs.unit_colours([u["id"] for u in data["units"]])
    units = {u["id"]: u for u in data["units"]}
    coverage = (data.get("coverage") or {}).get("units", {})
    deviation = (actual or {}).get("deviation", {})
    routes = []
    for route in data["routes"]:
        unit_id = route["unit"]
        visits = []
        for v in route["visits"]:
            o = outcomes.get((unit_id, v["order"]))
            visits.append({**v, "number": v["order"] + 1, "outcome": o["status"] if o else "",
                           "outcome_label": OUTCOMES.get(o["status"], o["status"]) if o else "",
                           "delay_min": _minutes(o.get("delay_s")) if o else None})
        cov = coverage.get(unit_id, {})
        routes.append({"unit": units.get(unit_id, {"id": unit_id}), "colour": colours[unit_id], "visits": visits,
                       "distance_km": (cov.get("distance_m") or 0) / 1000, "duration_h": (cov.get("duration_s") or 0)
                       / 3600, "priority": cov.get("priority_covered"), "deviation": deviation.get(unit_id)})
    decisions = [{"cell": cell, "planned": d.get("planned"),
                  "reason": str(REASONS.get(d.get("reason"), d.get("reason"))), "detail": d.get("detail", "")}
                 for cell, d in sorted((data.get("decisions") or {}).items(),
                                       key=lambda kv: (not kv[1].get("planned"), kv[0]))]
    missed = [{**m, "constraint_label": str(MISSED.get(m.get("constraint"), m.get("constraint")))}
              for m in data.get("missed") or []]
    spec = mapspecs.plan(exports.geojson_of(plan), data["cells"], data.get("decisions") or {},
                         {k: o["status"] for k, o in outcomes.items()}, _trails(actor, plan), colours)
    pending = plan.status in planning.OPEN
    context = {
        "plan": data, "status_label": dict(PlanStatus.choices).get(plan.status, plan.status), "routes": routes,
        "decisions": decisions, "planned_count": sum(1 for d in decisions if d["planned"]), "missed": missed,
        "actual": actual, "spec": spec, "rec": plan.recommendation, "pending": pending,
        "total_km": ((data.get("coverage") or {}).get("distance_m") or 0) / 1000,
        "travel": views_plan_new.provider_label(data.get("travel")),
    }
    if pending and planning.may_propose(actor):
        context["edit"] = views_plan_edit.edit_context(data, edit or {})
    return render(request, "web/plan_map.html", context, status=status)


@login_required
@require_POST
def plan_edit(request: HttpRequest, plan_id: str) -> HttpResponse:
    """The plan page's edit form: "Preview" (nothing stored) or "Save" (the edit, logged by the service)."""
    actor = actor_for(request.user)
    plan = _get(actor, plan_id)
    if not planning.may_propose(actor):
        raise PermissionDenied(_("patrol plans are edited by analysts, supervisors and commanders"))
    if plan.status not in planning.OPEN:  # decided meanwhile: the page has no edit form to show the message in
        messages.error(request, _("This plan is no longer open for changes (%(status)s).")
                       % {"status": dict(PlanStatus.choices).get(plan.status, plan.status)})
        return HttpResponseRedirect(reverse("web:plan", args=[plan.id]))
    edit, status = views_plan_edit.handle(request, actor, plan)
    if edit is None:
        messages.success(request, _("Plan saved (version %(v)d). It still waits for a decision in the review queue.")
                         % {"v": planning.get_plan(actor, plan.id).version})
        return HttpResponseRedirect(reverse("web:plan", args=[plan.id]))
    return _plan_page(request, actor, planning.get_plan(actor, plan.id), edit=edit, status=status)
