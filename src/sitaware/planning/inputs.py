"""From the planner's JSON to a solver request: parse, collect every problem, fill priorities from sources.

Every problem is reported at once as {field, message} (PlanningInputError), with the same field names as the
request body, before the solver's own validation adds its findings (units[i].base, cells[i].location, ...).
Curfews become time windows: a cell under curfew may only be visited in the parts of the shift outside it,
ending the dwell before the curfew starts.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import h3
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from sitaware.core.models import Unit as OrgUnit
from sitaware.core.scope import Actor
from sitaware.planning.solver.problem import (
    DEFAULT_DWELL_S,
    Area,
    Cell,
    PlanningInputError,
    PlanningRequest,
    TimeWindow,
    Unit,
)

MAX_UNITS = 50
MAX_CELLS = 3000
DEFAULT_ALERT_PRIORITY = 1.0


@dataclass
class Parsed:
    request: PlanningRequest
    shift_start: dt.datetime
    shift_end: dt.datetime
    units: list[dict[str, Any]]  # stored form
    cells: list[dict[str, Any]]
    constraints: dict[str, Any]
    solver: dict[str, Any]
    org_units: dict[str, OrgUnit]  # patrol id -> organisation unit
    sources: list[dict[str, Any]] = field(default_factory=list)


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, where: str, message: str) -> None:
        self.items.append({"field": where, "message": str(message)})


def _time(value: Any, where: str, problems: _Problems) -> dt.datetime | None:
    parsed = parse_datetime(value) if isinstance(value, str) else value if isinstance(value, dt.datetime) else None
    if parsed is None:
        problems.add(where, _("give a date and time, e.g. 2026-01-31T06:00:00Z"))
        return None
    if parsed.tzinfo is None:
        problems.add(where, _("needs a time zone, e.g. 2026-01-31T06:00:00Z"))
        return None
    return parsed


def _number(value: Any, where: str, problems: _Problems, default: float | None = None) -> float | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.add(where, _("must be a number"))
        return default
    return float(value)


def _cell_centre(cell_id: str) -> tuple[float, float] | None:
    try:
        return h3.cell_to_latlng(cell_id) if h3.is_valid_cell(cell_id) else None
    except (TypeError, ValueError):
        return None


def _source_cells(actor: Actor, spec: dict[str, Any], at: dt.datetime | None,
                  problems: _Problems) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Cells and priorities from an accepted forecast and/or open (published) alerts, in the actor's scope."""
    from sitaware.analytics import services as analytics

    cells: dict[str, dict[str, Any]] = {}
    refs: list[dict[str, Any]] = []
    forecast = spec.get("forecast")
    if forecast:
        if forecast == "latest":
            risk_map = analytics.accepted_risk_map(actor, at=at)
        else:
            risk_map = analytics.scoped_risk_maps(actor).filter(accepted_at__isnull=False).filter(
                pk=forecast if _uuid(forecast) else None).first()
        if risk_map is None:
            problems.add("priorities.forecast", _("no accepted risk map found for this shift; accept one or set "
                                                  "priorities by hand"))
        else:
            top = int(spec.get("top") or 100)
            ranked = sorted(risk_map.cells, key=lambda c: (-float(c.get("expected", 0)), c["cell"]))[:top]
            for c in ranked:
                cells[c["cell"]] = {"id": c["cell"], "priority": float(c["expected"]),
                                    "source": {"type": "forecast", "ref": str(risk_map.id)}}
            refs.append({"type": "risk_map", "id": str(risk_map.id), "recommendation": str(risk_map.recommendation_id),
                         "cells": len(ranked)})
    if spec.get("alerts"):
        from sitaware.alerts.models import AlertState
        from sitaware.alerts.services import scoped_alerts

        weight = float(spec.get("alert_priority") or max((c["priority"] for c in cells.values()),
                                                           default=DEFAULT_ALERT_PRIORITY))
        for alert in scoped_alerts(actor).filter(state=AlertState.ACCEPTED).order_by("created_at"):
            for cid in alert.cells:
                entry = cells.get(cid)
                if entry is None or entry["priority"] < weight:
                    cells[cid] = {"id": cid, "priority": weight, "source": {"type": "alert", "ref": str(alert.id)}}
            refs.append({"type": "alert", "id": str(alert.id), "cells": len(alert.cells)})
    return cells, refs


def _uuid(value: Any) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _minus(span: tuple[float, float], cuts: list[tuple[float, float]], dwell: float) -> list[tuple[float, float]]:
    """Parts of `span` outside every cut, as windows for the visit start (the dwell must end before a cut)."""
    pieces = [span]
    for a, b in sorted(cuts):
        nxt = []
        for s, e in pieces:
            if b <= s or a >= e:
                nxt.append((s, e))
                continue
            if a > s:
                nxt.append((s, a))
            if b < e:
                nxt.append((b, e))
        pieces = nxt
    return [(s, e - dwell) for s, e in pieces if e - dwell >= s]


def parse(actor: Actor, data: Any) -> Parsed:
    problems = _Problems()
    if not isinstance(data, dict):
        raise PlanningInputError([{"field": "request", "message": _("send a JSON object")}])
    shift = data.get("shift") if isinstance(data.get("shift"), dict) else {}
    start = _time(shift.get("start"), "shift.start", problems)
    end = _time(shift.get("end"), "shift.end", problems)
    if start and end and end <= start:
        problems.add("shift.end", _("the shift ends before it starts"))
    for name in ("constraints", "solver", "priorities"):
        if data.get(name) is not None and not isinstance(data.get(name), dict):
            problems.add(name, _("give an object"))
    constraints = dict(data.get("constraints") or {}) if isinstance(data.get("constraints"), dict) else {}
    solver = dict(data.get("solver") or {}) if isinstance(data.get("solver"), dict) else {}
    priorities = data.get("priorities") if isinstance(data.get("priorities"), dict) else {}
    dwell_default = _number(constraints.get("dwell_s"), "constraints.dwell_s", problems, DEFAULT_DWELL_S)

    units_in = data.get("units") or []
    org_units = {u.code: u for u in OrgUnit.objects.filter(organisation_id=actor.organisation_id)}
    units: list[Unit] = []
    units_json: list[dict[str, Any]] = []
    patrol_units: dict[str, OrgUnit] = {}
    if not isinstance(units_in, list) or not units_in:
        problems.add("units", _("choose at least one unit"))
        units_in = []
    for i, u in enumerate(units_in[:MAX_UNITS]):
        where = f"units[{i}]"
        if not isinstance(u, dict):
            problems.add(where, _("give each unit as an object"))
            continue
        code = str(u.get("unit") or "")
        org_unit = org_units.get(code)
        if org_unit is None:
            problems.add(f"{where}.unit", _("no unit %(code)s in your organisation") % {"code": code or "-"})
        pid = str(u.get("id") or code)
        base = u.get("base")
        if base is not None and not (isinstance(base, list | tuple) and len(base) == 2
                                     and all(isinstance(x, int | float) for x in base)):
            problems.add(f"{where}.base", _("give the base as [latitude, longitude]"))
            base = None
        speed = _number(u.get("speed_kmh"), f"{where}.speed_kmh", problems, 30.0)
        mode = str(u.get("mode") or "vehicle")
        crew = u.get("crew")
        if org_unit is not None:
            patrol_units[pid] = org_unit
        units_json.append({"id": pid, "unit": code, "base": list(base) if base else None, "mode": mode,
                           "speed_kmh": speed, "crew": crew})
        if start and end:
            units.append(Unit.of(pid, tuple(base) if base else None, start, end, mode, speed or 0.0))  # type: ignore[arg-type]
    if len(units_in) > MAX_UNITS:
        problems.add("units", _("at most %(n)d units per plan") % {"n": MAX_UNITS})

    merged, refs = _source_cells(actor, priorities, start, problems)
    manual = data.get("cells") or []
    if not isinstance(manual, list):
        problems.add("cells", _("give the cells as a list"))
        manual = []
    for i, c in enumerate(manual):
        if not isinstance(c, dict) or not c.get("id"):
            problems.add(f"cells[{i}]", _("each cell needs an id"))
            continue
        cid = str(c["id"])
        entry = merged.get(cid, {"id": cid, "priority": 0.0})
        # A priority set here is the planner's own; a stored cell (re-built for an edit) keeps its source.
        source = c.get("source") or ({"type": "manual"} if "priority" in c or cid not in merged else entry["source"])
        entry.update({k: v for k, v in c.items() if k != "source"}, id=cid, source=source)
        merged[cid] = entry
    if len(merged) > MAX_CELLS:
        problems.add("cells", _("at most %(n)d cells per plan") % {"n": MAX_CELLS})
    cells_json = list(merged.values())
    curfews = constraints.get("curfews") or []
    cuts: list[tuple[set[str] | None, float, float]] = []
    for j, cf in enumerate(curfews if isinstance(curfews, list) else []):
        cf = cf if isinstance(cf, dict) else {}
        a = _time(cf.get("start"), f"constraints.curfews[{j}].start", problems)
        b = _time(cf.get("end"), f"constraints.curfews[{j}].end", problems)
        if a and b:
            if b <= a:
                problems.add(f"constraints.curfews[{j}].end", _("the curfew ends before it starts"))
            scope = cf.get("cells")
            cuts.append((set(map(str, scope)) if isinstance(scope, list) and scope else None, a.timestamp(),
                         b.timestamp()))
    no_go_in = constraints.get("no_go") or []
    if not isinstance(no_go_in, list):
        problems.add("constraints.no_go", _("give a list of cell ids"))
        no_go_in = []
    no_go = {str(x) for x in no_go_in}
    cells: list[Cell] = []
    for i, c in enumerate(cells_json):
        where = f"cells[{i}]"
        if c.get("lat") is None or c.get("lon") is None:
            centre = _cell_centre(c["id"])
            if centre is None:
                problems.add(f"{where}.location",
                             _("cell %(id)s has no lat/lon and is not an H3 cell") % {"id": c["id"]})
                continue
            c["lat"], c["lon"] = round(centre[0], 7), round(centre[1], 7)
        lat = _number(c.get("lat"), f"{where}.lat", problems, math.nan)
        lon = _number(c.get("lon"), f"{where}.lon", problems, math.nan)
        priority = _number(c.get("priority"), f"{where}.priority", problems, 0.0)
        dwell = _number(c.get("dwell_s"), f"{where}.dwell_s", problems, dwell_default)
        required = c.get("required_visits") or 0
        if not isinstance(required, int) or isinstance(required, bool):
            problems.add(f"{where}.required_visits", _("must be a whole number"))
            required = 0
        windows: list[tuple[float, float]] = []
        windows_in = c.get("windows") or []
        for k, w in enumerate(windows_in if isinstance(windows_in, list) else [None]):
            ws = _time(w[0] if isinstance(w, list | tuple) and w else None, f"{where}.windows[{k}]", problems)
            we = _time(w[1] if isinstance(w, list | tuple) and len(w) > 1 else None, f"{where}.windows[{k}]",
                       problems)
            if ws and we:
                windows.append((ws.timestamp(), we.timestamp()))
        relevant = [(a, b) for scope, a, b in cuts if scope is None or c["id"] in scope]
        if relevant and start and end:
            spans = windows or [(start.timestamp(), end.timestamp())]
            allowed = [p for s in spans for p in _minus(s, relevant, dwell or 0.0)]
            if not allowed:
                if required:
                    problems.add(f"{where}.required_visits",
                                 _("cell %(id)s is mandatory but under curfew for the whole shift") % {"id": c["id"]})
                no_go.add(c["id"])
                c["curfew"] = "whole shift"
            windows = allowed
        cells.append(Cell(str(c["id"]), lat, lon, priority if priority is not None else 0.0,  # type: ignore[arg-type]
                          dwell if dwell is not None else DEFAULT_DWELL_S,
                          tuple(TimeWindow(a, b) for a, b in windows), required))
    if not cells_json and not problems.items:
        problems.add("cells", _("choose the cells to consider, or take priorities from a forecast or alerts"))
    area = None
    box = (constraints.get("area") or {}).get("bbox") if isinstance(constraints.get("area"), dict) else None
    if box is not None:
        if isinstance(box, list) and len(box) == 4 and all(isinstance(x, int | float) for x in box):
            area = Area(min_lat=box[1], min_lon=box[0], max_lat=box[3], max_lon=box[2])
        else:
            problems.add("constraints.area.bbox", _("give [min_lon, min_lat, max_lon, max_lat]"))
    share = _number(constraints.get("exploration_share"), "constraints.exploration_share", problems, 0.0)
    cap = constraints.get("max_consecutive")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool)):
        problems.add("constraints.max_consecutive", _("must be a whole number"))
        cap = None
    seed = solver.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        problems.add("solver.seed", _("must be a whole number"))
        seed = 0
    budget = _number(solver.get("time_budget_s"), "solver.time_budget_s", problems, 10.0)
    if problems.items:
        raise PlanningInputError(problems.items)
    previous = constraints.get("previous_shifts") or []
    request = PlanningRequest.of(
        units, cells, no_go=no_go & {c.id for c in cells}, area=area, exploration_share=share or 0.0,
        max_consecutive=cap, seed=seed, time_budget_s=budget or 10.0,
        previous_shifts=[[str(x) for x in shift] for shift in previous if isinstance(shift, list)],
    )
    unknown = no_go - {c.id for c in cells}
    if unknown:
        message = _("unknown cell ids: %(ids)s") % {"ids": ", ".join(sorted(unknown)[:10])}
        raise PlanningInputError([{"field": "constraints.no_go", "message": message}])
    constraints = {**constraints, "no_go": sorted(no_go), "dwell_s": dwell_default, "exploration_share": share,
                   "max_consecutive": cap}
    solver = {"seed": seed, "time_budget_s": budget, "max_iterations": solver.get("max_iterations"),
              "num_seeds": int(solver.get("num_seeds") or 2)}
    return Parsed(request, start, end, units_json, cells_json, constraints, solver,  # type: ignore[arg-type]
                  patrol_units, refs)
