"""An independent check of a plan in real units (seconds, metres).

It trusts nothing from the solver: every leg is recomputed with the travel provider, and every constraint
of the request is checked afresh. The solver's integer model rounds times; this is what proves the rounding
went the safe way. `check_matrix_routes` does the same for benchmark problems given as matrices.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from .matrix import MatrixProblem
from .problem import PlanningRequest
from .solve import Plan
from .travel import StraightLine, TravelProvider

TOL_S = 1e-6  # float noise only: any real lateness counts


def check_plan(request: PlanningRequest, plan: Plan, provider: TravelProvider | None = None) -> list[str]:
    """Every violation found, as readable sentences; empty when the plan is feasible."""
    provider = provider or StraightLine()
    problems: list[str] = []
    units = {u.id: u for u in request.units}
    cells = {c.id: c for c in request.cells}
    capped = request.repeat_capped()
    counts: Counter[str] = Counter()
    seen_units: set[str] = set()
    for up in plan.units:
        unit = units.get(up.unit_id)
        if unit is None:
            problems.append(f"plan has unknown unit {up.unit_id!r}")
            continue
        if up.unit_id in seen_units:
            problems.append(f"unit {up.unit_id} has two routes")
        seen_units.add(up.unit_id)
        if not up.visits:
            continue
        if up.depart < unit.shift_start - TOL_S:
            problems.append(f"unit {unit.id} leaves base at {up.depart} before its shift starts ({unit.shift_start})")
        here = (unit.base_lat, unit.base_lon)
        t = up.depart
        for v in up.visits:
            cell = cells.get(v.cell_id)
            if cell is None:
                problems.append(f"unit {unit.id} visits unknown cell {v.cell_id!r}")
                continue
            counts[v.cell_id] += 1
            where = f"unit {unit.id} at {cell.id}"
            leg_s, _ = provider.leg(here, (cell.lat, cell.lon), unit)  # type: ignore[arg-type]
            if not math.isfinite(leg_s):
                problems.append(f"{where}: no way to get there from the previous place")
                break
            if v.arrival < t + leg_s - TOL_S:
                problems.append(f"{where}: arrives at {v.arrival:.1f} but travel alone ends at {t + leg_s:.1f}")
            if v.start < v.arrival - TOL_S:
                problems.append(f"{where}: starts before arriving")
            if cell.windows and not any(w.start - TOL_S <= v.start <= w.end + TOL_S for w in cell.windows):
                problems.append(f"{where}: visit starts at {v.start:.1f}, outside every time window of the cell")
            if v.departure < v.start + cell.dwell_s - TOL_S:
                problems.append(f"{where}: stays {v.departure - v.start:.1f} s, less than the dwell {cell.dwell_s} s")
            if cell.id in request.no_go:
                problems.append(f"{where}: {cell.id} is a no-go cell")
            if cell.required_visits == 0 and cell.id in capped:
                problems.append(f"{where}: {cell.id} was chosen in each of the last {request.max_consecutive} shifts")
            t = max(t + leg_s, v.departure)
            here = (cell.lat, cell.lon)
        back_s, _ = provider.leg(here, (unit.base_lat, unit.base_lon), unit)  # type: ignore[arg-type]
        if not math.isfinite(back_s):
            problems.append(f"unit {unit.id}: no way back to base")
        elif t + back_s > unit.shift_end + TOL_S:
            problems.append(f"unit {unit.id}: back at base at {t + back_s:.1f}, after its shift ends {unit.shift_end}")
        elif up.return_at < t + back_s - TOL_S:
            problems.append(f"unit {unit.id}: reported return {up.return_at:.1f} is earlier than possible")
    for cell in request.cells:
        got = counts.get(cell.id, 0)
        if cell.required_visits == 0 and got > 1:
            problems.append(f"optional cell {cell.id} visited {got} times")
        if plan.feasible and got < cell.required_visits:
            problems.append(f"cell {cell.id} needs {cell.required_visits} visits, plan makes {got}")
    if plan.feasible and plan.missed:
        problems.append("plan says feasible but lists missed mandatory visits")
    return problems


def check_matrix_routes(
    problem: MatrixProblem, routes: Sequence[Sequence[int]], starts: Sequence[float] | None = None
) -> list[str]:
    """Real-unit check of routes on a matrix problem (float matrices, no rounding)."""
    problems: list[str] = []
    visits: Counter[int] = Counter()
    for k, route in enumerate(routes):
        v = problem.vehicles[k]
        dur = problem.durations[v.profile]
        t = v.early if starts is None else max(v.early, starts[k])
        here = v.start
        for s_idx in route:
            s = problem.stops[s_idx]
            visits[s_idx] += 1
            t += float(dur[here, s.location])
            if t > s.late + TOL_S:
                problems.append(f"vehicle {k}: stop {s_idx} reached at {t}, after its window closes ({s.late})")
            t = max(t, s.early) + s.service
            here = s.location
        if route:
            t += float(dur[here, v.end])
            if t > v.late + TOL_S:
                problems.append(f"vehicle {k}: ends at {t}, after its limit {v.late}")
    for s_idx, n in visits.items():
        if n > 1:
            problems.append(f"stop {s_idx} visited {n} times")
    grouped = {m for members, _ in problem.groups for m in members}
    for s_idx, s in enumerate(problem.stops):
        if s.required and s_idx not in grouped and visits[s_idx] == 0:
            problems.append(f"required stop {s_idx} not visited")
    for members, required in problem.groups:
        n = sum(visits[m] for m in members)
        if n > 1 or (required and n == 0):
            problems.append(f"group {members} visited {n} times")
    return problems
