"""Turn per-unit cell sequences (a planner's edit, or a decider's modification) back into a timed solver Plan.

The solver's own schedule is only valid for the order it chose; after a move, add or drop the times must be
recomputed in real units with the same travel provider, and `feasibility.check_plan` then says what breaks.
Each unit leaves base at its shift start and waits at a cell until its window opens: that is the earliest
schedule, so a sequence that fails here fails with any departure time.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from sitaware.planning.solver.problem import PlanningRequest
from sitaware.planning.solver.solve import CellDecision, Plan, Shortfall, UnitPlan, Visit
from sitaware.planning.solver.travel import StraightLine, TravelProvider


def routes_of(plan: Plan) -> dict[str, list[str]]:
    return {up.unit_id: [v.cell_id for v in up.visits] for up in plan.units}


def schedule_routes(
    request: PlanningRequest,
    routes: Mapping[str, Sequence[str]],
    provider: TravelProvider | None = None,
    *,
    exploration: Collection[str] = (),
) -> Plan:
    """A Plan for the given orders. Unknown units or cells raise KeyError (the caller validates names first)."""
    provider = provider or StraightLine()
    cells = {c.id: c for c in request.cells}
    out: list[UnitPlan] = []
    for unit in request.units:
        seq = list(routes.get(unit.id, ()))
        here = (unit.base_lat, unit.base_lon)
        t = unit.shift_start
        visits: list[Visit] = []
        total_m = 0.0
        for cid in seq:
            cell = cells[cid]
            leg_s, leg_m = provider.leg(here, (cell.lat, cell.lon), unit)  # type: ignore[arg-type]
            arrive = t + leg_s
            begin = arrive
            for w in sorted(cell.windows, key=lambda w: w.start):
                if arrive <= w.end:
                    begin = max(arrive, w.start)
                    break
            t = begin + cell.dwell_s
            kind = "mandatory" if cell.required_visits > 0 else ("exploration" if cid in exploration else "priority")
            visits.append(Visit(cid, 1, arrive, begin, t, leg_s, leg_m, cell.priority, kind))  # type: ignore[arg-type]
            total_m += leg_m if math.isfinite(leg_m) else 0.0
            here = (cell.lat, cell.lon)
        back_s, back_m = provider.leg(here, (unit.base_lat, unit.base_lon), unit)  # type: ignore[arg-type]
        if visits:
            total_m += back_m if math.isfinite(back_m) else 0.0
        end = t + back_s if visits else unit.shift_start
        covered = sum(v.priority for v in visits if v.kind != "mandatory")
        out.append(UnitPlan(unit.id, unit.shift_start, visits, end, back_s if visits else 0.0,
                            back_m if visits else 0.0, total_m, (end - unit.shift_start) if visits else 0.0, covered))
    _number(out)
    decisions, missed = _explain(request, out)
    optional_seen: set[str] = set()
    total = 0.0
    for up in out:
        for v in up.visits:
            if v.kind != "mandatory" and v.cell_id not in optional_seen:
                optional_seen.add(v.cell_id)
                total += v.priority
    n_opt = sum(1 for up in out for v in up.visits if v.kind != "mandatory")
    n_expl = sum(1 for up in out for v in up.visits if v.kind == "exploration")
    return Plan(units=out, decisions=decisions, missed=missed, feasible=not missed, total_priority=total,
                exploration_share=n_expl / n_opt if n_opt else 0.0, stats={"rescheduled": True})


def _number(units: list[UnitPlan]) -> None:
    order = sorted((v.start, k, i) for k, up in enumerate(units) for i, v in enumerate(up.visits))
    seen: dict[str, int] = {}
    for _, k, i in order:
        v = units[k].visits[i]
        seen[v.cell_id] = seen.get(v.cell_id, 0) + 1
        units[k].visits[i] = Visit(v.cell_id, seen[v.cell_id], v.arrival, v.start, v.departure, v.travel_s,
                                   v.travel_m, v.priority, v.kind)


def _explain(request: PlanningRequest, units: list[UnitPlan]) -> tuple[dict[str, CellDecision], list[Shortfall]]:
    """Reasons for an edited plan: the planner chose, so 'in' cells say so and 'out' cells keep a plain reason."""
    counts: dict[str, int] = {}
    for up in units:
        for v in up.visits:
            counts[v.cell_id] = counts.get(v.cell_id, 0) + 1
    decisions: dict[str, CellDecision] = {}
    missed: list[Shortfall] = []
    for cell in request.cells:
        got = counts.get(cell.id, 0)
        if cell.required_visits > 0:
            for k in range(got + 1, cell.required_visits + 1):
                missed.append(Shortfall(cell.id, k, "dropped",
                                        f"visit {k} of {cell.required_visits} to {cell.id} is not in the edited plan"))
            reason = "mandatory" if got else "mandatory_unmet"
            decisions[cell.id] = CellDecision(cell.id, got > 0, reason,  # type: ignore[arg-type]
                                              f"{got} of {cell.required_visits} required visits")
        elif got:
            decisions[cell.id] = CellDecision(cell.id, True, "priority", f"priority {cell.priority:g} (edited plan)")
        elif cell.id in request.no_go:
            decisions[cell.id] = CellDecision(cell.id, False, "no_go", "no-go cell")
        else:
            decisions[cell.id] = CellDecision(cell.id, False, "lower_priority", "not in the edited plan")
    return decisions, missed
