"""Execution of an approved plan: positions from the units (API) or a patrol report after the fact, plan vs.
actual recomputable from the stored positions, and the records the patrol units made during the shift.

`plan_vs_actual` stores VisitOutcome rows and the summary on the plan, and logs them with a hash of the
positions it read; `recompute_actual` computes the same figures again from the stored positions without
writing, so anyone can check the stored ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from sitaware.core.canonical import canonical_json
from sitaware.core.scope import Actor
from sitaware.planning import services
from sitaware.planning.errors import PlanInputError, PlanStateError
from sitaware.planning.models import Plan, PlanVisit, PositionReport, PositionSource, VisitOutcome
from sitaware.planning.plans import actual

MAX_POINTS = 5000
REPORT_STEP_S = 300.0  # a reported stop becomes a position every 5 min, under the presence gap cap
DEFAULT_TOLERANCE_S = 3600.0  # a presence counts for a visit up to an hour before or after its planned times


def _may_report(actor: Actor, plan: Plan, patrol: str) -> None:
    unit = services.org_units_of(plan).get(patrol)
    if unit is None:
        raise PlanInputError([{"field": "unit", "message": _("no unit %(u)s in this plan") % {"u": patrol}}])
    if actor.role in services.PLAN_ROLES:
        return
    if actor.can("create") and actor.unit_id == unit.id:
        return
    raise PermissionDenied(_("positions are sent by the patrol's own unit or by planners"))


def _points(points: Any) -> list[tuple[dt.datetime, float, float]]:
    problems: list[dict[str, str]] = []
    out = []
    if not isinstance(points, list) or not points:
        raise PlanInputError([{"field": "points", "message": _("give a list of {at, lat, lon}")}])
    if len(points) > MAX_POINTS:
        raise PlanInputError([{"field": "points", "message": _("at most %(n)d points per call") % {"n": MAX_POINTS}}])
    for i, p in enumerate(points):
        where = f"points[{i}]"
        at = parse_datetime(p.get("at")) if isinstance(p, dict) and isinstance(p.get("at"), str) else None
        lat, lon = (p.get("lat"), p.get("lon")) if isinstance(p, dict) else (None, None)
        if at is None or at.tzinfo is None:
            problems.append({"field": f"{where}.at", "message": _("a date and time with a time zone")})
        if not (isinstance(lat, int | float) and isinstance(lon, int | float) and math.isfinite(lat)
                and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            problems.append({"field": f"{where}.location", "message": _("lat and lon must be valid coordinates")})
        if not problems:
            out.append((at, float(lat), float(lon)))
    if problems:
        raise PlanInputError(problems)
    return out


def _store(actor: Actor, plan: Plan, patrol: str, rows: list[tuple[dt.datetime, float, float]], source: str) -> int:
    with transaction.atomic():
        PositionReport.objects.bulk_create(
            PositionReport(plan=plan, patrol=patrol, at=at, latitude=lat, longitude=lon, source=source,
                           reported_by_id=actor.user_id) for at, lat, lon in rows)
        digest = hashlib.sha256(canonical_json([[a.astimezone(dt.UTC).isoformat(), la, lo] for a, la, lo in rows])
                                .encode()).hexdigest()
        services._log(actor, "plan.positions", plan, None,
                      {"unit": patrol, "source": source, "points": len(rows), "sha256": digest,
                       "first": min(r[0] for r in rows).isoformat(), "last": max(r[0] for r in rows).isoformat()})
    return len(rows)


def _live(actor: Actor, plan_id: Any) -> Plan:
    plan = services.get_plan(actor, plan_id)
    if plan.status not in services.LIVE:
        raise PlanStateError(_("only an approved plan is tracked; this one is %(s)s") % {"s": plan.status})
    return plan


def report_positions(actor: Actor, plan_id: Any, patrol: str, points: Any, *,
                     source: str = PositionSource.API) -> int:
    """Positions sent by a unit (GPS, phone): [{at, lat, lon}]. `source` says how they came ("cot": TAK)."""
    plan = _live(actor, plan_id)
    _may_report(actor, plan, patrol)
    return _store(actor, plan, patrol, _points(points), source)


def report_patrol(actor: Actor, plan_id: Any, patrol: str, stops: Any) -> int:
    """A patrol report after the fact: the cells the unit stopped at, with arrival and departure times."""
    plan = _live(actor, plan_id)
    _may_report(actor, plan, patrol)
    cells = {c["id"]: c for c in plan.request.cells}
    problems: list[dict[str, str]] = []
    rows: list[tuple[dt.datetime, float, float]] = []
    if not isinstance(stops, list) or not stops:
        raise PlanInputError([{"field": "stops", "message": _("give a list of {cell, arrived, left}")}])
    for i, s in enumerate(stops):
        where = f"stops[{i}]"
        cell = cells.get(str(s.get("cell"))) if isinstance(s, dict) else None
        a = parse_datetime(s.get("arrived") or "") if isinstance(s, dict) else None
        b = parse_datetime(s.get("left") or "") if isinstance(s, dict) else None
        if cell is None:
            problems.append({"field": f"{where}.cell", "message": _("not one of the plan's cells")})
        if a is None or b is None or a.tzinfo is None or b.tzinfo is None or b < a:
            problems.append({"field": f"{where}.left", "message": _("give arrived and left with time zones, left "
                                                                    "not before arrived")})
        if problems:
            continue
        t = a
        while t < b:
            rows.append((t, cell["lat"], cell["lon"]))
            t += dt.timedelta(seconds=REPORT_STEP_S)
        rows.append((b, cell["lat"], cell["lon"]))
    if problems:
        raise PlanInputError(problems)
    return _store(actor, plan, patrol, rows, PositionSource.PATROL_REPORT)


def positions_of(actor: Actor, plan: Plan | Any) -> dict[str, list[dict[str, Any]]]:
    """The stored positions of each patrol of a plan, oldest first ({patrol: [{at, lat, lon, source}]}).

    The plan is read again through the actor's scope (`services.get_plan`), like every other tracking read: a
    plan the actor may not see is PlanNotFound, whatever object the caller holds."""
    plan = services.get_plan(actor, plan.pk if isinstance(plan, Plan) else plan)
    out: dict[str, list[dict[str, Any]]] = {}
    rows = plan.positions.order_by("patrol", "at", "pk").values_list("patrol", "at", "latitude", "longitude",
                                                                      "source")
    for patrol, at, lat, lon, source in rows:
        out.setdefault(patrol, []).append({"at": at.astimezone(dt.UTC).isoformat(), "lat": lat, "lon": lon,
                                           "source": source})
    return out


def _inputs(plan: Plan) -> tuple[list[actual.PlannedVisit], dict[str, list[actual.Position]],
                                 dict[str, list[tuple[float, float]]], actual.Params]:
    c = plan.request.constraints
    params = actual.Params(radius_m=float(c.get("visit_radius_m") or 250.0),
                           late_after_s=float(c.get("late_after_s") or 900.0))
    tolerance = float(c.get("visit_tolerance_s") or DEFAULT_TOLERANCE_S)
    visits = []
    routes: dict[str, list[tuple[float, float]]] = {}
    bases = {u["id"]: tuple(u["base"]) for u in plan.request.units}
    for u in plan.request.units:
        routes[u["id"]] = [bases[u["id"]]]
    for v in plan.visits.order_by("patrol", "order"):
        visits.append(actual.PlannedVisit(
            key=str(v.pk), unit_id=v.patrol, cell_id=v.cell, lat=v.latitude, lon=v.longitude,
            start=v.planned_start.timestamp(), dwell_s=(v.planned_departure - v.planned_start).total_seconds(),
            window_start=v.planned_arrival.timestamp() - tolerance,
            window_end=v.planned_departure.timestamp() + tolerance))
        routes[v.patrol].append((v.latitude, v.longitude))
    for u, r in routes.items():
        r.append(bases[u])
    tracks: dict[str, list[actual.Position]] = {}
    for p in plan.positions.order_by("at", "pk"):
        tracks.setdefault(p.patrol, []).append(actual.Position(p.at.timestamp(), p.latitude, p.longitude))
    return visits, tracks, routes, params


def recompute_actual(plan: Plan) -> dict[str, Any]:
    """Plan vs. actual from the stored positions, without writing anything."""
    visits, tracks, routes, params = _inputs(plan)
    result = actual.plan_vs_actual(visits, tracks, routes, params)
    result["positions_sha256"] = hashlib.sha256(canonical_json(
        {u: [[p.t, p.lat, p.lon] for p in t] for u, t in sorted(tracks.items())}).encode()).hexdigest()
    return result


def linked_records(plan: Plan) -> list[str]:
    """Records of the patrol units that happened, or were entered, during the shift."""
    from sitaware.records.models import Record

    pr = plan.request
    units = {u.id for u in services.org_units_of(plan).values()}
    during = Q(occurred_at__gte=pr.shift_start, occurred_at__lte=pr.shift_end) | Q(
        created_at__gte=pr.shift_start, created_at__lte=pr.shift_end)
    qs = Record.objects.filter(organisation_id=plan.organisation_id, reporting_unit_id__in=units).filter(during)
    return sorted(str(pk) for pk in qs.values_list("pk", flat=True))


def plan_vs_actual(actor: Actor, plan_id: Any) -> dict[str, Any]:
    """Compute, store and log plan vs. actual and the linked records; returns the figures."""
    plan = _live(actor, plan_id)
    result = recompute_actual(plan)
    records = linked_records(plan)
    now = timezone.now()
    with transaction.atomic():
        by_key = {str(v.pk): v for v in PlanVisit.objects.filter(plan=plan)}
        VisitOutcome.objects.filter(visit__plan=plan).delete()
        VisitOutcome.objects.bulk_create(
            VisitOutcome(visit=by_key[o["key"]], status=o["status"],
                         first_seen=dt.datetime.fromtimestamp(o["first_seen"], dt.UTC) if o["first_seen"] else None,
                         presence_s=o["presence_s"], closest_m=o["closest_m"], delay_s=o["delay_s"], computed_at=now)
            for o in result["visits"])
        before = {"summary": (plan.actual or {}).get("summary"), "linked_records": plan.linked_records}
        plan.actual, plan.actual_at, plan.linked_records = result, now, records
        plan.save(update_fields=["actual", "actual_at", "linked_records"])
        services._log(actor, "plan.actual", plan, before,
                      {"summary": result["summary"], "deviation": result["deviation"],
                       "positions_sha256": result["positions_sha256"], "linked_records": records})
    return {**result, "linked_records": records}
