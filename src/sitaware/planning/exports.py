"""Exports of an approved plan for the units: printable HTML sheet, GPX 1.1 and GeoJSON.

Only approved or dispatched plans are exported (R-AI-04: a proposal is not an order). Each export is logged
(`plan.export`, with the format and the plan version), so what was handed to a unit can be traced.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from sitaware.core.scope import Actor
from sitaware.planning import services
from sitaware.planning.errors import PlanInputError, PlanStateError
from sitaware.planning.models import Plan
from sitaware.planning.plans import geojson
from sitaware.planning.plans.gpx import GpxRoute, GpxStop, build_gpx

FORMATS = {"gpx": "application/gpx+xml", "geojson": "application/geo+json", "html": "text/html; charset=utf-8"}


def _routes(plan: Plan) -> list[dict[str, Any]]:
    out = []
    for u in plan.request.units:
        visits = list(plan.visits.filter(patrol=u["id"]).order_by("order"))
        out.append({"unit": u, "visits": visits})
    return out


def gpx_of(plan: Plan) -> bytes:
    routes = []
    for r in _routes(plan):
        u = r["unit"]
        base = GpxStop(u["base"][0], u["base"][1], _("%(unit)s base") % {"unit": u["id"]}, kind="base")
        stops = [base] + [
            GpxStop(v.latitude, v.longitude, f"{u['id']} #{v.order + 1} {v.cell}", v.planned_start,
                    _("arrive %(a)s, leave %(d)s") % {"a": f"{v.planned_arrival:%H:%M}",
                                                      "d": f"{v.planned_departure:%H:%M}"}, v.kind)
            for v in r["visits"]
        ] + [base]
        routes.append(GpxRoute(u["id"], _("%(n)d visits, %(mode)s") % {"n": len(r["visits"]), "mode": u["mode"]},
                               stops))
    pr = plan.request
    return build_gpx(_("Patrol plan %(id)s") % {"id": plan.id}, _("Shift %(s)s to %(e)s, version %(v)d")
                     % {"s": pr.shift_start.isoformat(), "e": pr.shift_end.isoformat(), "v": plan.version},
                     plan.approved_at or timezone.now(), routes)


def _shapes(plan: Plan) -> dict[str, list[list[float]]]:
    """Routes along the plan's travel provider's paths (around no-go cells, along roads); none for straight lines."""
    described = (plan.request.travel or {}).get("described") or {}
    if described.get("provider", "straight_line") == "straight_line":
        return {}
    try:
        return services.route_shapes(plan)
    except PlanInputError:  # the extract or grid changed since: draw straight segments rather than wrong paths
        return {}


def geojson_of(plan: Plan) -> dict[str, Any]:
    features = []
    shapes = _shapes(plan)
    for r in _routes(plan):
        u = r["unit"]
        base = (u["base"][0], u["base"][1])
        line = [base] + [(v.latitude, v.longitude) for v in r["visits"]] + [base]
        shape = shapes.get(u["id"])
        features.append(geojson.feature(geojson.line([tuple(x) for x in shape] if shape else line), {
            "kind": "route", "unit": u["id"], "mode": u["mode"], "visits": len(r["visits"]),
            "path": "travel_provider" if shape else "straight"}))
        features.append(geojson.feature(geojson.point(*base), {"kind": "base", "unit": u["id"]}))
        for v in r["visits"]:
            features.append(geojson.feature(geojson.point(v.latitude, v.longitude), {
                "kind": "visit", "unit": u["id"], "order": v.order + 1, "cell": v.cell, "visit_kind": v.kind,
                "priority": v.priority, "arrival": v.planned_arrival.astimezone(dt.UTC).isoformat(),
                "start": v.planned_start.astimezone(dt.UTC).isoformat(),
                "departure": v.planned_departure.astimezone(dt.UTC).isoformat()}))
    return geojson.collection(features, plan=str(plan.id), status=plan.status, version=plan.version)


def sheet_of(plan: Plan) -> str:
    pr = plan.request
    return render_to_string("planning/sheet.html", {
        "plan": plan, "request": pr, "routes": _routes(plan), "missed": plan.missed,
        "coverage": plan.coverage, "approved_by": plan.approved_by.get_username() if plan.approved_by else "",
    })


def export_plan(actor: Actor, plan_id: Any, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name). Refused (409) for plans nobody approved."""
    if fmt not in FORMATS:
        raise PlanInputError([{"field": "format", "message": _("use one of %(f)s") % {"f": ", ".join(FORMATS)}}])
    plan = services.get_plan(actor, plan_id)
    if plan.status not in services.LIVE:
        raise PlanStateError(_("only an approved plan is exported for the units; this one is %(s)s")
                             % {"s": plan.status})
    if fmt == "gpx":
        content = gpx_of(plan)
    elif fmt == "geojson":
        content = json.dumps(geojson_of(plan), ensure_ascii=False).encode()
    else:
        content = sheet_of(plan).encode()
    services._log(actor, "plan.export", plan, None, {"format": fmt, "version": plan.version})
    return content, FORMATS[fmt], f"patrol-plan-{plan.id}.{fmt}"
