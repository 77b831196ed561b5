"""The `patrol-plan` AI component: its registry entry and its applier (run only on an accepted decision).

Approving is the applier's job and nobody else's: `check` re-schedules the routes a decision carries (the
proposal on accept, the decider's or planner's edited routes on modify) and refuses them if the independent
re-check finds any violation; `apply` stores those routes as the plan's visits and marks the plan approved.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from sitaware.core.scope import Actor
from sitaware.oversight import services as oversight
from sitaware.oversight.errors import OversightValidationError
from sitaware.oversight.models import Decision, Recommendation
from sitaware.planning import services
from sitaware.planning.models import Plan, PlanStatus
from sitaware.planning.version import VERSION, artefact_hash


def builtin_spec() -> oversight.ComponentSpec:
    """Registered switched off: an administrator switches it on after reading docs/planning.md (R-AI-02)."""
    return oversight.ComponentSpec(
        key=services.COMPONENT_KEY,
        name="Patrol plans (team orienteering solver)",
        purpose=services.PURPOSE,
        owner="Operations cell of the police component",
        model_version=VERSION,
        artefact_hash=artefact_hash(),
        decider_roles=list(services.DECIDER_ROLES),
        enabled=False,
        manual_path=services.MANUAL_PATH,
        model_card="docs/planning.md",
        art5_screen=("Not a prohibited practice: plans visits to places from place-based priorities; no assessment "
                     "or prediction of any natural person."),
        annex_iii="none: place-based; no assessment of natural persons",
    )


def _invalid(field: str, message: str) -> OversightValidationError:
    return OversightValidationError([{"field": field, "message": str(message)}])


def check(rec: Recommendation, output: Any) -> dict[str, Any]:
    plan = Plan.objects.select_related("request", "recommendation").filter(recommendation=rec).first()
    if plan is None:
        raise _invalid("plan", _("this recommendation has no plan"))
    if not isinstance(output, dict) or not isinstance(output.get("routes"), dict):
        raise _invalid("routes", _("give the routes as {unit: [cell, ...]}"))
    if str(output.get("plan", plan.id)) != str(plan.id):
        raise _invalid("plan", _("the plan cannot be changed"))
    if plan.status not in services.OPEN:
        raise _invalid("plan", _("this plan is %(s)s") % {"s": plan.status})
    units = {u["id"] for u in plan.request.units}
    cells = {c["id"] for c in plan.request.cells}
    routes = {str(u): [str(c) for c in (r or [])] for u, r in output["routes"].items()}
    unknown = sorted(set(routes) - units)
    if unknown:
        raise _invalid("routes", _("no unit %(u)s in this plan") % {"u": unknown[0]})
    bad = sorted({c for r in routes.values() for c in r} - cells)
    if bad:
        raise _invalid("routes", _("cell %(c)s is not among the plan's candidate cells") % {"c": bad[0]})
    routes = {u: routes.get(u, []) for u in sorted(units)}
    violations = services.evaluate_routes(plan, routes)[1]
    if violations:
        raise OversightValidationError([{"field": "routes", "message": v} for v in violations])
    return {"plan": str(plan.id), "routes": routes}


def apply(actor: Actor, rec: Recommendation, decision: Decision) -> dict[str, Any]:
    plan = Plan.objects.select_for_update().select_related("request", "recommendation").get(recommendation=rec)
    routes = decision.final_output["routes"]
    before = services.current_routes(plan)
    if {u: r for u, r in before.items()} != routes:
        solved, violations, coverage = services.evaluate_routes(plan, routes)
        services._store_visits(plan, solved, services.org_units_of(plan))
        out = services.serialize_solution(solved)
        plan.decisions, plan.missed, plan.coverage = out["decisions"], out["missed"], coverage
        plan.feasible, plan.violations = solved.feasible and not violations, violations
        plan.version += 1
    previous = plan.status
    plan.status, plan.approved_by_id, plan.approved_at = PlanStatus.APPROVED, actor.user_id, timezone.now()
    plan.save()
    services._log(actor, "plan.approve", plan, {"status": previous, "routes": before},
                  {"status": plan.status, "routes": routes, "version": plan.version}, decision=decision.pk,
                  outcome=decision.outcome)
    return {"status": "approved", "plan": str(plan.id), "version": plan.version}


oversight.register_applier(services.COMPONENT_KEY, oversight.Applier(check=check, apply=apply))
