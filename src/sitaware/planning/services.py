"""Patrol plans: propose (a recommendation), edit and see the effect, approve only through a decision, dispatch.

Flow (R-AI-03, R-AI-04): `propose_plan` validates the planner's request (`check_request`, which `jobs.ask` also
runs alone before queueing a plan for the task worker), runs the solver, re-checks the plan independently in real
units (a plan failing the re-check is never stored), and stores it as a recommendation of the `patrol-plan`
component with the inputs, solver version, parameters, the reason for every cell and what the plan misses.
`edit_plan` moves, adds or drops visits and recomputes feasibility and coverage; it never approves. Only
`oversight.decide` approves (component.py is its applier); `decide_plan` is a convenience that sends the current
(possibly edited) routes to that gate. Nothing is dispatched or exported before approval.
Every write is in the change log: plan.propose, plan.edit, plan.approve, plan.reject, plan.dispatch, and the
tracking entries in tracking.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sitaware.core import changelog
from sitaware.core import services as core_services
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Role, Sensitivity
from sitaware.core.models import Unit as OrgUnit
from sitaware.core.scope import Actor, restrict
from sitaware.oversight import services as oversight
from sitaware.oversight.errors import ComponentDisabled
from sitaware.oversight.models import RecommendationStatus
from sitaware.planning import inputs, providers
from sitaware.planning.errors import PlanCheckFailed, PlanInputError, PlanNotFound, PlanStateError
from sitaware.planning.models import Plan, PlanRequest, PlanStatus, PlanVisit, TravelDefault
from sitaware.planning.plans.schedule import routes_of, schedule_routes
from sitaware.planning.solver.feasibility import check_plan
from sitaware.planning.solver.problem import PlanningInputError, PlanningRequest, validate
from sitaware.planning.solver.solve import Plan as SolverPlan
from sitaware.planning.solver.solve import plan_shift
from sitaware.planning.version import VERSION, artefact_hash, solver_version

COMPONENT_KEY = "patrol-plan"
DECIDER_ROLES = (Role.SUPERVISOR.value, Role.COMMANDER.value)
PLAN_ROLES = frozenset({Role.ANALYST, Role.SUPERVISOR, Role.COMMANDER})
EXTRACT_ROLES = frozenset({Role.ADMINISTRATOR, Role.SUPERVISOR, Role.COMMANDER})
# The organisation's default travel provider is set by those who decide on plans and by administrators (who also
# set the site's default in the environment and place road extracts): the same people as for road extracts.
TRAVEL_SETTING_ROLES = EXTRACT_ROLES
TRAVEL_NOTE = {
    "straight_line": "straight line x detour factor / unit speed; transit may cross no-go cells",
    "speed_grid": "shortest path over an H3 speed grid in which no-go and impassable cells are never crossed",
    "osm": "shortest path over the mission's OpenStreetMap roads (one-way streets followed by vehicles)",
}
OPEN = (PlanStatus.PROPOSED, PlanStatus.EDITED)
LIVE = (PlanStatus.APPROVED, PlanStatus.DISPATCHED)

PURPOSE = ("Patrol planning: propose, for one shift, which cells each available unit visits, in which order and "
           "when, given priorities (accepted forecast, published alerts or set by hand) and constraints. Place-based "
           "only. Nothing is dispatched until a supervisor or commander approves the plan.")
MANUAL_PATH = "plan the shift by hand from the map and the accepted risk map, as before"
LIMITATIONS = gettext_noop(
    "Travel times are estimates (straight line times a detour factor, or the mission's own graph); no traffic, "
    "weather or security incidents en route. The solver is a heuristic with a time or iteration budget: the plan "
    "is good, not proven best. Priorities are only as good as their source: a forecast follows where incidents "
    "were recorded, which follows where patrols went; the exploration share exists for that. A plan says nothing "
    "about any person and must not be used to."
)


def _reject_role(actor: Actor, roles: frozenset[str], what: str) -> None:
    if actor.role not in roles and not actor.system:
        raise PermissionDenied(_("%(what)s is for analysts, supervisors and commanders") % {"what": what})


def may_propose(actor: Actor) -> bool:
    """Whether the actor may ask for, and edit, plans (pages show the forms only to them)."""
    return actor.system or actor.role in PLAN_ROLES


def may_set_travel(actor: Actor) -> bool:
    return actor.system or actor.role in TRAVEL_SETTING_ROLES


def _input_error(exc: PlanningInputError) -> PlanInputError:
    """The solver's problems in the user's language: the pure solver keeps English templates and their values."""
    return PlanInputError([{"field": e["field"], "message": _(e["template"]).format(**e.get("params", {}))}
                           if e.get("template") else {"field": e["field"], "message": e["message"]}
                           for e in exc.errors])


def _iso(value: float) -> str:
    return dt.datetime.fromtimestamp(value, dt.UTC).isoformat()


def _dt(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _log(actor: Actor, action: str, plan: Plan, before: Any, after: Any, **extra: Any) -> None:
    changelog.append(
        [PendingEntry(action=action, object_type="patrol_plan", object_id=str(plan.id), before=before, after=after,
                      organisation_id=plan.organisation_id, sensitivity=plan.sensitivity,
                      extra={"recommendation": str(plan.recommendation_id), **extra})],
        actor_id=actor.user_id, actor_label=actor.label,
    )


# ---------------------------------------------------------------- reading


def scoped_plans(actor: Actor) -> QuerySet:
    """Plans stay within their organisation (like recommendations); sensitivity within clearance."""
    actor.require("view")
    qs = restrict(Plan.objects.all(), actor)
    if not actor.system:
        qs = qs.filter(organisation_id=actor.organisation_id)
    return qs.select_related("request", "recommendation")


def list_plans(actor: Actor, *, status: str | None = None, limit: int = 50) -> list[Plan]:
    """Newest first; plans rejected in the review queue are brought in line before listing."""
    if status is not None and status not in PlanStatus.values:
        raise PlanInputError([{"field": "status", "message": _("use one of %(v)s")
                               % {"v": ", ".join(PlanStatus.values)}}])
    qs = scoped_plans(actor)
    for stale in qs.filter(status__in=OPEN, recommendation__status=RecommendationStatus.REJECTED):
        sync_status(stale)
    if status:
        qs = qs.filter(status=status)
    return list(qs.order_by("-created_at", "-id")[: max(1, min(limit, 200))])


def get_plan(actor: Actor, plan_id: Any) -> Plan:
    try:
        key = uuid.UUID(str(plan_id))
    except ValueError:
        raise PlanNotFound(_("no plan %(id)s") % {"id": plan_id}) from None
    plan = scoped_plans(actor).filter(pk=key).first()
    if plan is None:
        raise PlanNotFound(_("no plan %(id)s") % {"id": plan_id})
    return sync_status(plan)


def sync_status(plan: Plan) -> Plan:
    """A rejection can be made in the oversight review queue directly; bring the plan's status in line."""
    if plan.status in OPEN and plan.recommendation.status == RecommendationStatus.REJECTED:
        with transaction.atomic():
            locked = Plan.objects.select_for_update().get(pk=plan.pk)
            if locked.status in OPEN:
                decision = plan.recommendation.decision
                locked.status = PlanStatus.REJECTED
                locked.save(update_fields=["status"])
                changelog.append(
                    [PendingEntry(action="plan.reject", object_type="patrol_plan", object_id=str(plan.id),
                                  before={"status": plan.status}, after={"status": PlanStatus.REJECTED},
                                  organisation_id=plan.organisation_id, sensitivity=plan.sensitivity,
                                  extra={"recommendation": str(plan.recommendation_id), "decision": decision.pk})],
                    actor_id=decision.decider_id, actor_label=decision.decider.get_username(),
                )
            plan = Plan.objects.select_related("request", "recommendation").get(pk=plan.pk)
    return plan


def request_of(plan: Plan) -> PlanningRequest:
    """The solver request as stored: re-parsed from the stored JSON, so an edit is checked against exactly it."""
    pr = plan.request
    data = {"shift": {"start": pr.shift_start.isoformat(), "end": pr.shift_end.isoformat()}, "units": pr.units,
            "cells": pr.cells, "constraints": pr.constraints, "solver": {"seed": pr.seed}}
    from sitaware.core.scope import system_actor

    actor = dataclasses.replace(system_actor("planning"), organisation_id=plan.organisation_id)
    return inputs.parse(actor, data).request


def travel_of(plan: Plan, request: PlanningRequest | None = None) -> providers.Travel:
    """The plan's travel provider, rebuilt from what was stored; refused if its data changed since."""
    pr = plan.request
    request = request or request_of(plan)
    stored = pr.travel or {}
    try:
        # Plans made before travel was recorded used straight lines, whatever the site default is now.
        spec = stored.get("spec") or {"provider": "straight_line"}
        return providers.build(spec, request, expected=stored.get("described"))
    except PlanningInputError as exc:
        raise _input_error(exc) from None


def org_units_of(plan: Plan) -> dict[str, OrgUnit]:
    by_code = {u.code: u for u in OrgUnit.objects.filter(organisation_id=plan.organisation_id)}
    return {u["id"]: by_code[u["unit"]] for u in plan.request.units}


def current_routes(plan: Plan) -> dict[str, list[str]]:
    routes: dict[str, list[str]] = {u["id"]: [] for u in plan.request.units}
    for v in plan.visits.order_by("patrol", "order"):
        routes.setdefault(v.patrol, []).append(v.cell)
    return routes


# ---------------------------------------------------------------- proposing


def _previous_shifts(actor: Actor, start: dt.datetime, k: int | None) -> list[list[str]]:
    """Optional cells of the organisation's last k approved shifts before this one, oldest first."""
    if not k:
        return []
    earlier = (Plan.objects.filter(organisation_id=actor.organisation_id, status__in=LIVE,
                                   request__shift_end__lte=start)
               .order_by("-request__shift_start")[:k])
    shifts = []
    for p in earlier:
        shifts.append(sorted(set(p.visits.exclude(kind="mandatory").values_list("cell", flat=True))))
    return shifts[::-1]


def _store_visits(plan: Plan, solved: SolverPlan, org_units: dict[str, Any]) -> None:
    cells = {c["id"]: c for c in plan.request.cells}
    rows = []
    for up in solved.units:
        for order, v in enumerate(up.visits):
            c = cells[v.cell_id]
            rows.append(PlanVisit(plan=plan, patrol=up.unit_id, unit=org_units[up.unit_id], order=order,
                                  cell=v.cell_id, latitude=c["lat"], longitude=c["lon"], visit_no=v.visit_no,
                                  kind=v.kind, priority=v.priority, planned_arrival=_dt(v.arrival),
                                  planned_start=_dt(v.start), planned_departure=_dt(v.departure)))
    plan.visits.all().delete()
    PlanVisit.objects.bulk_create(rows)


def _coverage(request: PlanningRequest, solved: SolverPlan) -> dict[str, Any]:
    per_unit = {up.unit_id: {"visits": len(up.visits), "distance_m": round(up.distance_m, 1),
                             "duration_s": round(up.duration_s, 1), "priority_covered": round(up.priority_covered, 4)}
                for up in solved.units}
    optional = [c for c in request.cells if c.required_visits == 0 and c.id not in request.no_go]
    available = sum(c.priority for c in optional)
    required = sum(c.required_visits for c in request.cells)
    made = sum(1 for up in solved.units for v in up.visits if v.kind == "mandatory")
    return {"units": per_unit, "total_priority": round(solved.total_priority, 4),
            "available_priority": round(available, 4),
            "priority_share": round(solved.total_priority / available, 4) if available else None,
            "mandatory_required": required, "mandatory_planned": min(made, required),
            "distance_m": round(sum(up.distance_m for up in solved.units), 1),
            "exploration_share": round(solved.exploration_share, 4)}


def serialize_solution(solved: SolverPlan) -> dict[str, Any]:
    return {
        "units": [{"unit": up.unit_id, "depart": _iso(up.depart), "return_at": _iso(up.return_at),
                   "distance_m": round(up.distance_m, 1), "duration_s": round(up.duration_s, 1),
                   "priority_covered": round(up.priority_covered, 4),
                   "visits": [{"cell": v.cell_id, "visit_no": v.visit_no, "arrival": _iso(v.arrival),
                               "start": _iso(v.start), "departure": _iso(v.departure), "kind": v.kind,
                               "priority": v.priority, "travel_s": round(v.travel_s, 1),
                               "travel_m": round(v.travel_m, 1)} for v in up.visits]}
                  for up in solved.units],
        "decisions": {cid: {"planned": d.planned, "reason": d.reason, "detail": d.detail}
                      for cid, d in sorted(solved.decisions.items())},
        "missed": [dataclasses.asdict(s) for s in solved.missed],
        "feasible": solved.feasible,
    }


def _explanation(solved: SolverPlan, coverage: dict[str, Any]) -> str:
    lines = [_("%(n)d visits by %(u)d unit(s); priority covered %(p).2f of %(a).2f; %(d).1f km in all.")
             % {"n": sum(len(up.visits) for up in solved.units), "u": len(solved.units),
                "p": coverage["total_priority"], "a": coverage["available_priority"],
                "d": coverage["distance_m"] / 1000}]
    if solved.missed:
        lines.append(_("NOT FEASIBLE as asked: %(n)d mandatory visit(s) cannot be made:") % {"n": len(solved.missed)})
        lines += [f"- {s.constraint}: {s.message}" for s in solved.missed]
    lines.append(_("Why each cell is in or out:"))
    lines += [f"- {cid}: {d.reason} ({d.detail})" for cid, d in sorted(solved.decisions.items())]
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class CheckedRequest:
    """A planning request that passed every check made before solving, ready for the solver."""

    parsed: inputs.Parsed
    request: PlanningRequest
    travel: providers.Travel
    chosen: str  # where the travel times come from: request, organisation or site


def check_request(actor: Actor, data: Any) -> CheckedRequest:
    """Everything `propose_plan` checks before it solves: the role, the request (`inputs.parse`), the solver's
    own validation and the travel provider. PlanInputError (400) names every problem; nothing is stored."""
    _reject_role(actor, PLAN_ROLES, _("patrol planning"))
    try:
        parsed = inputs.parse(actor, data)
        request = parsed.request
        if request.max_consecutive and "previous_shifts" not in (data.get("constraints") or {}):
            previous = _previous_shifts(actor, parsed.shift_start, request.max_consecutive)
            parsed.constraints["previous_shifts"] = previous
            request = dataclasses.replace(request, previous_shifts=tuple(frozenset(s) for s in previous))
        validate(request)
        asked = data.get("travel")
        chosen = "request" if asked is not None else "organisation"
        if asked is None:
            asked = _stored_default(actor.organisation_id)
            if asked is None:
                chosen = "site"  # providers.build reads SITAWARE_PLANNING_TRAVEL, else straight line
        try:
            travel = providers.build(asked, request)
        except PlanningInputError as exc:
            if chosen != "organisation":
                raise
            # Say where the setting came from: the planner did not choose it in this request.
            raise PlanningInputError([{**p, "message": _("your organisation's default travel times: %(m)s")
                                       % {"m": p["message"]}} for p in exc.errors]) from None
    except PlanningInputError as exc:
        raise _input_error(exc) from None
    return CheckedRequest(parsed, request, travel, chosen)


def require_switched_on(actor: Actor) -> None:
    """Refuse now (ComponentDisabled, 423) what the kill switch would refuse when the plan is made: a request
    queued for later must not wait only to be turned away."""
    component = oversight.get_component(actor, COMPONENT_KEY)
    if not component.enabled:
        raise ComponentDisabled(component.key, component.name, component.manual_path)


def propose_plan(actor: Actor, data: Any, *, on_phase: Callable[[str], None] | None = None) -> Plan:
    """Validate, solve, re-check and store a plan as a recommendation. PlanInputError (400) names every problem.

    `on_phase`, if given, is told when the search starts (`solving`) and when the plan is re-checked and stored
    (`storing`): the background proposal (jobs.py) shows it as progress."""
    checked = check_request(actor, data)
    parsed, request, travel, chosen = checked.parsed, checked.request, checked.travel, checked.chosen
    plan_id, request_id = uuid.uuid4(), uuid.uuid4()
    version = solver_version()
    parameters = {"solver": parsed.solver, "constraints": parsed.constraints, "solver_version": version,
                  "provider": travel.described, "plan": str(plan_id)}
    sensitivity = int(Sensitivity.RESTRICTED)
    state: dict[str, Any] = {}

    def produce() -> oversight.Produced:
        if on_phase:
            on_phase("solving")
        solved = plan_shift(request, travel.provider, num_seeds=parsed.solver["num_seeds"],
                            max_iterations=parsed.solver["max_iterations"])
        if on_phase:
            on_phase("storing")
        violations = check_plan(request, solved, travel.provider)
        if violations:
            # Never shown as a plan: a solver bug must surface, not reach a unit.
            raise PlanCheckFailed(_("the solver's plan failed the independent re-check: %(v)s")
                                  % {"v": "; ".join(violations[:5])})
        coverage = _coverage(request, solved)
        state.update(solved=solved, coverage=coverage)
        return oversight.Produced(
            proposal={"plan": str(plan_id), "routes": routes_of(solved)},
            output={**serialize_solution(solved), "coverage": coverage,
                    "exploration_cells": solved.stats.get("exploration_cells", []),
                    "runtime_s": solved.stats.get("runtime_s")},
            uncertainty={"method": _("heuristic search (PyVRP), not proven optimal; see docs/planning.md for the "
                                     "benchmark gaps"), "feasibility_recheck": "passed",
                         "travel_times": TRAVEL_NOTE[travel.described["provider"]]},
            explanation=_explanation(solved, coverage),
            limitations=_(LIMITATIONS),
            model_id="planning/toptw-pyvrp",
            model_version=VERSION,
            artefact_hash=artefact_hash(),
        )

    rec_request = oversight.Request(
        target_type="patrol_plan", target_id=str(plan_id), purpose=_("Patrol plan for one shift"),
        inputs={"shift": [parsed.shift_start.isoformat(), parsed.shift_end.isoformat()], "units": parsed.units,
                "cells": parsed.cells, "constraints": parsed.constraints, "travel": travel.spec},
        input_refs=[{"type": "plan_request", "id": str(request_id), "units": len(parsed.units),
                     "cells": len(parsed.cells)}, *parsed.sources],
        parameters=parameters, sensitivity=sensitivity,
    )
    # The solve runs outside any transaction (recommend opens its own after produce), so a long solve never
    # holds SQLite's write lock; the plan rows and their log entry then commit together.
    rec = oversight.recommend(actor, COMPONENT_KEY, rec_request, produce)
    solved: SolverPlan = state["solved"]
    with transaction.atomic():
        pr = PlanRequest.objects.create(
            id=request_id, organisation_id=actor.organisation_id, sensitivity=rec.sensitivity,
            shift_start=parsed.shift_start, shift_end=parsed.shift_end, units=parsed.units, cells=parsed.cells,
            constraints=parsed.constraints,
            travel={"spec": travel.spec, "described": travel.described, "chosen": chosen},
            solver_version=version, seed=request.seed, created_by_id=actor.user_id)
        output = rec.output
        plan = Plan.objects.create(
            id=plan_id, request=pr, recommendation=rec, organisation_id=actor.organisation_id,
            sensitivity=rec.sensitivity, feasible=solved.feasible, violations=[], decisions=output["decisions"],
            missed=output["missed"], coverage=state["coverage"], created_at=rec.created_at)
        _store_visits(plan, solved, parsed.org_units)
        _log(actor, "plan.propose", plan, None, {"status": plan.status, "routes": routes_of(solved),
                                                 "feasible": solved.feasible, "missed": len(solved.missed),
                                                 "solver_version": version, "seed": request.seed,
                                                 "travel": travel.described})
    return plan


# ---------------------------------------------------------------- editing


def _apply_edits(routes: dict[str, list[str]], edits: Any, cell_ids: set[str]) -> dict[str, list[str]]:
    routes = {k: list(v) for k, v in routes.items()}
    problems: list[dict[str, str]] = []
    if not isinstance(edits, list) or not edits:
        raise PlanInputError([{"field": "edits", "message": _("give a list of move, add or drop operations")}])

    def pos(value: Any, size: int, where: str, inclusive: bool) -> int | None:
        if value is None and inclusive:
            return size
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= size - (0 if inclusive else 1):
            problems.append({"field": where, "message": _("no position %(v)s in this route") % {"v": value}})
            return None
        return value

    for i, e in enumerate(edits):
        where = f"edits[{i}]"
        op = e.get("op") if isinstance(e, dict) else None
        unit = str(e.get("unit")) if isinstance(e, dict) else None
        if op not in ("move", "add", "drop"):
            problems.append({"field": f"{where}.op", "message": _("use move, add or drop")})
            continue
        if unit not in routes:
            problems.append({"field": f"{where}.unit", "message": _("no unit %(u)s in this plan") % {"u": unit}})
            continue
        route = routes[unit]
        if op == "add":
            cell = str(e.get("cell"))
            if cell not in cell_ids:
                problems.append({"field": f"{where}.cell",
                                 "message": _("cell %(c)s is not among the plan's candidate cells") % {"c": cell}})
                continue
            at = pos(e.get("at"), len(route), f"{where}.at", True)
            if at is not None:
                route.insert(at, cell)
        elif op == "drop":
            at = pos(e.get("index"), len(route), f"{where}.index", False)
            if at is not None:
                route.pop(at)
        else:
            target = str(e.get("to_unit", unit))
            if target not in routes:
                problems.append({"field": f"{where}.to_unit",
                                 "message": _("no unit %(u)s in this plan") % {"u": target}})
                continue
            at = pos(e.get("index"), len(route), f"{where}.index", False)
            if at is None:
                continue
            cell = route.pop(at)
            to = pos(e.get("at"), len(routes[target]), f"{where}.at", True)
            if to is None:
                route.insert(at, cell)
                continue
            routes[target].insert(to, cell)
    if problems:
        raise PlanInputError(problems)
    return routes


def evaluate_routes(plan: Plan, routes: dict[str, list[str]]) -> tuple[SolverPlan, list[str], dict[str, Any]]:
    """Re-schedule routes in real units, re-check them independently, and measure coverage."""
    request = request_of(plan)
    provider = travel_of(plan, request).provider
    exploration = set(plan.recommendation.output.get("exploration_cells") or [])
    solved = schedule_routes(request, routes, provider, exploration=exploration)
    return solved, check_plan(request, solved, provider), _coverage(request, solved)


def route_shapes(plan: Plan) -> dict[str, list[list[float]]]:
    """Per patrol, the way it goes as [lat, lon] points: base, each visit, base, following the plan's travel
    provider (straight segments, the speed grid's path around no-go cells, or the roads)."""
    request = request_of(plan)
    provider = travel_of(plan, request).provider
    cells = {c.id: (c.lat, c.lon) for c in request.cells}
    routes = current_routes(plan)
    shapes: dict[str, list[list[float]]] = {}
    for unit in request.units:
        base = (unit.base_lat, unit.base_lon)
        stops = [base, *[cells[c] for c in routes.get(unit.id, [])], base]
        points: list[tuple[float, float]] = [base]
        for a, b in itertools.pairwise(stops):
            if a != b:
                points += providers.leg_points(provider, a, b, unit)[1:]  # type: ignore[arg-type]
        shapes[unit.id] = [[round(lat, 7), round(lon, 7)] for lat, lon in points] if len(stops) > 2 else []
    return shapes


def edit_plan(actor: Actor, plan_id: Any, edits: Any, *, dry_run: bool = False,
              base_version: int | None = None) -> dict[str, Any]:
    """Move, add or drop visits; returns the recomputed plan, its violations and coverage. Never approves.

    With `dry_run` nothing is stored (the planner previews the effect); otherwise the edit replaces the plan's
    visits (status `edited`, version + 1), even when it has violations: they are shown, and approval refuses
    a plan that has any. `base_version`, when given, is the version the planner previewed: if the plan moved on
    since, the edit is refused rather than applied to routes the planner has not seen.
    """
    _reject_role(actor, PLAN_ROLES, _("editing a patrol plan"))
    plan = get_plan(actor, plan_id)
    if plan.status not in OPEN:
        raise PlanStateError(_("this plan is %(s)s; only proposed or edited plans can be edited")
                             % {"s": plan.status})
    if base_version is not None and base_version != plan.version:
        raise PlanStateError(_("the plan changed since you opened it (now version %(v)d); reload and edit again")
                             % {"v": plan.version})
    before = current_routes(plan)
    cells = {c["id"] for c in plan.request.cells}
    routes = _apply_edits(before, edits, cells)
    solved, violations, coverage = evaluate_routes(plan, routes)
    result = {"plan": str(plan.id), "routes": routes, "violations": violations, "coverage": coverage,
              **serialize_solution(solved), "stored": not dry_run}
    if dry_run:
        return result
    with transaction.atomic():
        locked = Plan.objects.select_for_update().get(pk=plan.pk)
        if locked.status not in OPEN or locked.version != plan.version:
            raise PlanStateError(_("the plan changed while you edited it; reload and edit again"))
        _store_visits(locked, solved, org_units_of(plan))
        locked.status, locked.version = PlanStatus.EDITED, plan.version + 1
        locked.violations, locked.feasible = violations, solved.feasible and not violations
        locked.decisions, locked.missed = result["decisions"], result["missed"]
        locked.coverage = coverage
        locked.save(update_fields=["status", "version", "violations", "feasible", "decisions", "missed", "coverage"])
        _log(actor, "plan.edit", locked, {"routes": before, "version": plan.version},
             {"routes": routes, "version": locked.version, "violations": violations}, edits=edits)
    result["version"] = plan.version + 1
    return result


# ---------------------------------------------------------------- deciding and dispatching


def decide_plan(actor: Actor, plan_id: Any, outcome: str, reason: str) -> Plan:
    """Approve or reject through the oversight gate. An edited plan is approved as a 'modify' decision carrying
    the edited routes, so the decision records exactly what was approved and how it differs from the proposal."""
    plan = get_plan(actor, plan_id)
    if outcome == "approve":
        proposed = (plan.recommendation.output.get("proposal") or {}).get("routes")
        # Edited back to the proposal: oversight refuses a 'modify' equal to the proposal, so accept it.
        if plan.status == PlanStatus.EDITED and current_routes(plan) != proposed:
            oversight.decide(actor, plan.recommendation_id, "modify", reason,
                             modified_output={"plan": str(plan.id), "routes": current_routes(plan)})
        else:
            oversight.decide(actor, plan.recommendation_id, "accept", reason)
    elif outcome == "reject":
        oversight.decide(actor, plan.recommendation_id, "reject", reason)
    else:
        raise PlanInputError([{"field": "outcome", "message": _("use approve or reject")}])
    return get_plan(actor, plan.id)


def dispatch_plan(actor: Actor, plan_id: Any) -> Plan:
    """Send an approved plan to the units (status only: the units fetch their sheet, GPX or GeoJSON)."""
    actor.require("decide")
    plan = get_plan(actor, plan_id)
    if plan.status != PlanStatus.APPROVED:
        raise PlanStateError(_("only an approved plan can be dispatched; this one is %(s)s") % {"s": plan.status})
    with transaction.atomic():
        plan.status, plan.dispatched_at = PlanStatus.DISPATCHED, timezone.now()
        plan.save(update_fields=["status", "dispatched_at"])
        _log(actor, "plan.dispatch", plan, {"status": PlanStatus.APPROVED}, {"status": plan.status})
    return plan


def serialize_plan(actor: Actor, plan: Plan, *, detail: bool = False) -> dict[str, Any]:
    pr = plan.request
    data: dict[str, Any] = {
        "id": str(plan.id), "recommendation": str(plan.recommendation_id), "status": plan.status,
        "version": plan.version, "shift": {"start": pr.shift_start.astimezone(dt.UTC).isoformat(),
                                            "end": pr.shift_end.astimezone(dt.UTC).isoformat()},
        "feasible": plan.feasible, "violations": plan.violations, "coverage": plan.coverage,
        "solver_version": pr.solver_version, "seed": pr.seed, "created_at": plan.created_at.isoformat(),
        "travel": (pr.travel or {}).get("described") or {"provider": "straight_line"},
        "approved_at": plan.approved_at.isoformat() if plan.approved_at else None,
        "dispatched_at": plan.dispatched_at.isoformat() if plan.dispatched_at else None,
    }
    if detail:
        from sitaware.records.services import scoped_records

        visible = set(map(str, scoped_records(actor).filter(pk__in=plan.linked_records).values_list("pk", flat=True)))
        data.update(
            units=pr.units, cells=pr.cells, constraints=pr.constraints, decisions=plan.decisions, missed=plan.missed,
            routes=[{"unit": u["id"], "base": u["base"], "visits": [
                {"order": v.order, "cell": v.cell, "lat": v.latitude, "lon": v.longitude, "visit_no": v.visit_no,
                 "kind": v.kind, "priority": v.priority, "arrival": v.planned_arrival.isoformat(),
                 "start": v.planned_start.isoformat(), "departure": v.planned_departure.isoformat()}
                for v in plan.visits.filter(patrol=u["id"]).order_by("order")]} for u in pr.units],
            explanation=plan.recommendation.explanation, actual=plan.actual,
            linked_records=[r for r in plan.linked_records if r in visible],
        )
    return data


# ---------------------------------------------------------------- road extracts


def extracts(actor: Actor) -> list[dict[str, Any]]:
    """The OpenStreetMap extracts plans can use (the extracts folder is the site's, shared by its organisations)."""
    _reject_role(actor, PLAN_ROLES | EXTRACT_ROLES, _("patrol planning"))
    return providers.list_extracts()


def upload_extract(actor: Actor, name: Any, content: bytes) -> dict[str, Any]:
    """Check an OSM extract and add it to the extracts folder (never replacing one: plans rely on theirs)."""
    if actor.role not in EXTRACT_ROLES and not actor.system:
        raise PermissionDenied(_("road extracts are added by administrators, supervisors and commanders"))
    try:
        info = providers.store_extract(name, content)
    except PlanningInputError as exc:
        raise _input_error(exc) from None
    changelog.append(
        [PendingEntry(action="planning.extract.add", object_type="osm_extract", object_id=info["sha256"],
                      before=None, after=info, organisation_id=actor.organisation_id)],
        actor_id=actor.user_id, actor_label=actor.label,
    )
    return info


# ---------------------------------------------------------------- the organisation's default travel provider


def _stored_default(organisation_id: Any) -> dict[str, Any] | None:
    row = TravelDefault.objects.filter(organisation_id=organisation_id).first()
    return dict(row.spec) if row else None


def default_travel(actor: Actor) -> dict[str, Any]:
    """The travel provider a plan of the actor's organisation uses when its request names none, and where that
    comes from: `organisation` (set here), `site` (SITAWARE_PLANNING_TRAVEL) or `built_in` (straight line)."""
    _reject_role(actor, PLAN_ROLES | TRAVEL_SETTING_ROLES, _("patrol planning"))
    row = TravelDefault.objects.filter(organisation_id=actor.organisation_id).select_related("set_by").first()
    if row is not None:
        return {"spec": row.spec, "source": "organisation", "set_by": row.set_by.get_username(),
                "set_at": row.set_at.astimezone(dt.UTC).isoformat()}
    try:
        site = providers.default_spec()
    except PlanningInputError as exc:
        return {"spec": None, "source": "site", "error": exc.errors[0]["message"], "set_by": None, "set_at": None}
    source = "site" if providers.site_default_set() else "built_in"
    return {"spec": site, "source": source, "set_by": None, "set_at": None}


def set_default_travel(actor: Actor, spec: Any) -> dict[str, Any]:
    """Set (or, with None, remove) the organisation's default travel provider; checked with the providers' own
    rules (an unknown extract is a `travel.extract` error) and change-logged (`planning.travel.default`)."""
    if not may_set_travel(actor) or actor.organisation_id is None:
        raise PermissionDenied(_("the default travel times are set by administrators, supervisors and commanders"))
    try:
        checked = providers.check_spec(spec) if spec is not None else None
    except PlanningInputError as exc:
        raise _input_error(exc) from None
    with transaction.atomic():
        row = TravelDefault.objects.select_for_update().filter(organisation_id=actor.organisation_id).first()
        before = row.spec if row else None
        if checked is None:
            if row is not None:
                row.delete()
        else:
            TravelDefault.objects.update_or_create(
                organisation_id=actor.organisation_id,
                defaults={"spec": checked, "set_by_id": actor.user_id, "set_at": timezone.now()})
        changelog.append(
            [PendingEntry(action="planning.travel.default", object_type="planning_setting", object_id="travel",
                          before=before, after=checked, organisation_id=actor.organisation_id)],
            actor_id=actor.user_id, actor_label=actor.label,
        )
    return default_travel(actor)


def organisation_units(actor: Actor) -> list[tuple[str, str]]:
    """(code, name) of the actor's organisation's units: the units a patrol can come from."""
    _reject_role(actor, PLAN_ROLES | TRAVEL_SETTING_ROLES, _("patrol planning"))
    return core_services.organisation_units(actor.organisation_id)


# ---------------------------------------------------------------- for indicators (assessment)


@dataclasses.dataclass(frozen=True)
class PriorityCell:
    priority: float
    source: str  # forecast, alert or manual


@dataclasses.dataclass(frozen=True)
class PlanCoverage:
    """One approved plan's priority cells and, per unit code, the cells its patrols visited (as planned, or as
    made according to the last plan-vs-actual computation)."""

    plan_id: str
    shift_start: dt.datetime
    sensitivity: int
    cells: dict[str, PriorityCell]
    units: frozenset[str]  # unit codes of its patrols ("" for a patrol of no known unit)
    visited: dict[str, frozenset[str]]


def _priority_cells(request: PlanRequest) -> dict[str, PriorityCell]:
    """The cells a plan was asked to cover: a priority or a mandatory visit, and not closed (no-go, or under
    curfew for the whole shift): a cell nobody may enter is no gap in coverage."""
    closed = {str(c) for c in (request.constraints or {}).get("no_go") or []}
    out = {}
    for cell in request.cells:
        cell_id = str(cell["id"])
        priority = float(cell.get("priority") or 0)
        if cell_id in closed or cell.get("curfew") or (priority <= 0 and not cell.get("required_visits")):
            continue
        out[cell_id] = PriorityCell(priority, (cell.get("source") or {}).get("type") or "manual")
    return out


def plan_coverage(actor: Actor, start: dt.datetime, end: dt.datetime, basis: str = "planned",
                  within: Actor | None = None) -> list[PlanCoverage]:
    """Approved or dispatched plans whose shift starts in [start, end), within `actor`'s scope (and `within`'s),
    with their priority cells and the cells visited per unit. `basis` "planned" reads the plans' visits; "made"
    reads plan vs. actual (visits made or late) and lists only plans it was computed for: a plan without
    positions says nothing about what was done."""
    if basis not in ("planned", "made"):
        raise ValueError(f"unknown basis {basis!r}")
    qs = scoped_plans(actor)
    if within is not None:
        qs = restrict(qs, within)
    qs = qs.filter(status__in=LIVE, request__shift_start__gte=start, request__shift_start__lt=end)
    if basis == "made":
        qs = qs.filter(actual_at__isnull=False)
    plans = list(qs.order_by("request__shift_start", "id"))
    visits = PlanVisit.objects.filter(plan__in=plans)
    if basis == "made":
        visits = visits.filter(outcome__status__in=("made", "late"))
    by_plan: dict[Any, list[tuple[str, str]]] = {}
    for plan_id, patrol, cell in visits.values_list("plan_id", "patrol", "cell").order_by():
        by_plan.setdefault(plan_id, []).append((patrol, cell))
    codes = {code for organisation_id in {p.organisation_id for p in plans}
             for code, _name in core_services.organisation_units(organisation_id)}
    out = []
    for plan in plans:
        unit_of = {u["id"]: u["unit"] if u.get("unit") in codes else "" for u in plan.request.units}
        visited: dict[str, set[str]] = {}
        for patrol, cell in by_plan.get(plan.pk, []):
            visited.setdefault(unit_of.get(patrol, ""), set()).add(cell)
        out.append(PlanCoverage(str(plan.pk), plan.request.shift_start, plan.sensitivity,
                                _priority_cells(plan.request), frozenset(unit_of.values()),
                                {code: frozenset(cells) for code, cells in visited.items()}))
    return out


def plan_times_changed(after_seq: int, up_to_seq: int) -> list[dt.datetime]:
    """The shift starts of the plans logged in (after_seq, up_to_seq] (proposed, edited, decided, dispatched,
    tracked): the periods a patrol-coverage figure must be recomputed for."""
    changed = changelog.changed_objects(after_seq, up_to_seq, ("patrol_plan",))["patrol_plan"]
    return list(Plan.objects.filter(pk__in=changelog.uuids(changed)).values_list("request__shift_start", flat=True))
