"""Plan one shift: which cells each unit visits, in which order and when, and why the others are left out.

Formulation: a team orienteering problem with time windows, solved by PyVRP (see engine.py).
- optional cells are prize-collecting clients, prize = priority (quantised to integers);
- a cell needing N visits becomes N required copies, copy k with the k-th of N equal slices of the cell's
  available time as its window, so the visits are spread over the day instead of bunched;
- several time windows on one cell become alternative copies in a client group (at most / exactly one);
- each unit is a vehicle with its own depot (its base) and its shift as the depot time window.
"""

from __future__ import annotations

import dataclasses
import math
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .engine import solve_matrix
from .matrix import MatrixProblem, Stop, Vehicle
from .problem import Cell, PlanningRequest, Unit, validate
from .travel import StraightLine, TravelProvider

PRIZE_LEVELS = 10_000  # priorities are quantised to this many steps of the largest priority
VisitKind = Literal["mandatory", "priority", "exploration"]
Reason = Literal[
    "mandatory", "priority", "exploration",  # visited
    "no_go", "repeat_cap", "zero_priority", "unreachable", "lower_priority", "no_time", "mandatory_unmet",
]  # fmt: skip


@dataclass(frozen=True)
class Visit:
    cell_id: str
    visit_no: int  # 1-based among this cell's visits in the plan
    arrival: float
    start: float  # after any wait for the window to open
    departure: float
    travel_s: float  # leg from the previous place
    travel_m: float
    priority: float
    kind: VisitKind


@dataclass
class UnitPlan:
    unit_id: str
    depart: float
    visits: list[Visit]
    return_at: float
    return_travel_s: float
    return_travel_m: float
    distance_m: float
    duration_s: float
    priority_covered: float


@dataclass(frozen=True)
class CellDecision:
    cell_id: str
    planned: bool
    reason: Reason
    detail: str


@dataclass(frozen=True)
class Shortfall:
    """A mandatory visit the plan does not make, and the constraint that stops it."""

    cell_id: str
    visit_no: int
    constraint: str  # "no_unit_in_time" | "window" | "capacity"
    message: str


@dataclass
class Plan:
    units: list[UnitPlan]
    decisions: dict[str, CellDecision]
    missed: list[Shortfall]
    feasible: bool  # every mandatory visit is in the plan
    total_priority: float
    exploration_share: float  # achieved share of optional visits that are exploration picks
    stats: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class _Copy:
    cell: Cell
    loc: int  # location index in the travel matrices
    visit_no: int
    windows: tuple[tuple[float, float], ...]  # alternatives for the service start
    required: bool
    kind: VisitKind


def _cell_windows(cell: Cell, horizon: tuple[float, float]) -> list[tuple[float, float]]:
    if not cell.windows:
        return [horizon]
    return sorted((w.start, w.end) for w in cell.windows)


def _required_copies(cell: Cell, horizon: tuple[float, float]) -> list[tuple[int, list[tuple[float, float]]]]:
    """Staggered slices of the cell's availability, intersected with its windows (may be empty → explained)."""
    windows = _cell_windows(cell, horizon)
    lo, hi = windows[0][0], max(w[1] for w in windows)
    n = cell.required_visits
    out = []
    for k in range(n):
        a, b = lo + (hi - lo) * k / n, lo + (hi - lo) * (k + 1) / n
        # Closed slices: two visits can be as close as a shared boundary, never in the same slice.
        pieces = [(max(a, ws), min(b, we)) for ws, we in windows if max(a, ws) <= min(b, we)]
        out.append((k + 1, pieces))
    return out


class _Reach:
    """Can unit u start a visit to cell location j inside window w and still get home in time? Real units."""

    def __init__(self, request: PlanningRequest, durations: list[np.ndarray], profile_of: list[int]) -> None:
        self.units = request.units
        self.durations = durations
        self.profile_of = profile_of
        self.n_units = len(request.units)

    def earliest_start(self, u: int, loc: int, window: tuple[float, float], dwell: float) -> float | None:
        unit = self.units[u]
        d = self.durations[self.profile_of[u]]
        out, back = float(d[u, loc]), float(d[loc, u])
        if not (math.isfinite(out) and math.isfinite(back)):
            return None
        begin = max(unit.shift_start + out, window[0])
        if begin > window[1] or begin + dwell + back > unit.shift_end:
            return None
        return begin

    def any_unit(self, loc: int, windows: Sequence[tuple[float, float]], dwell: float) -> bool:
        return any(
            self.earliest_start(u, loc, w, dwell) is not None for u in range(self.n_units) for w in windows
        )


def _quantise(priorities: Sequence[float]) -> list[int]:
    top = max(priorities, default=0.0)
    if top <= 0:
        return [0 for _ in priorities]
    return [round(p / top * PRIZE_LEVELS) for p in priorities]


def plan_shift(
    request: PlanningRequest,
    provider: TravelProvider | None = None,
    *,
    num_seeds: int = 2,
    max_iterations: int | None = None,
) -> Plan:
    """Plan a shift. Raises PlanningInputError for bad input; an impossible mandatory load gives a Plan with
    feasible=False and `missed` naming the constraint, plus the best plan for everything else."""
    validate(request)
    provider = provider or StraightLine()
    t_start = time.perf_counter()
    units, cells = request.units, request.cells
    n_units = len(units)
    horizon = request.horizon
    points = [(u.base_lat, u.base_lon) for u in units] + [(c.lat, c.lon) for c in cells]

    profile_keys: dict[tuple[object, ...], int] = {}
    profile_of: list[int] = []
    representative: list[Unit] = []
    for u in units:
        key = provider.profile_key(u)
        if key not in profile_keys:
            profile_keys[key] = len(representative)
            representative.append(u)
        profile_of.append(profile_keys[key])
    durations, distances = [], []
    for u in representative:
        sec, met = provider.matrices(points, u)  # type: ignore[arg-type]
        durations.append(np.asarray(sec, dtype=float))
        distances.append(np.asarray(met, dtype=float))
    t_matrix = time.perf_counter() - t_start

    reach = _Reach(request, durations, profile_of)
    decisions: dict[str, CellDecision] = {}
    missed: list[Shortfall] = []
    copies: list[_Copy] = []
    capped = request.repeat_capped()
    for j, cell in enumerate(cells):
        loc = n_units + j
        if cell.id in request.no_go:
            decisions[cell.id] = CellDecision(cell.id, False, "no_go", "no-go cell")
            continue
        if cell.required_visits > 0:
            for visit_no, pieces in _required_copies(cell, horizon):
                if not pieces:
                    missed.append(Shortfall(cell.id, visit_no, "window",
                                            f"visit {visit_no} of {cell.required_visits} to {cell.id} falls in a part "
                                            "of the day where the cell has no time window"))
                elif not reach.any_unit(loc, pieces, cell.dwell_s):
                    missed.append(Shortfall(cell.id, visit_no, "no_unit_in_time",
                                            f"no unit can reach {cell.id} for visit {visit_no} of "
                                            f"{cell.required_visits} within its window and get back before the "
                                            "end of its shift"))
                else:
                    copies.append(_Copy(cell, loc, visit_no, tuple(pieces), True, "mandatory"))
            continue
        if cell.id in capped:
            decisions[cell.id] = CellDecision(cell.id, False, "repeat_cap",
                                              f"chosen in each of the last {request.max_consecutive} shifts")
            continue
        if cell.priority <= 0:
            decisions[cell.id] = CellDecision(cell.id, False, "zero_priority", "priority is zero")
            continue
        windows = _cell_windows(cell, horizon)
        if not reach.any_unit(loc, windows, cell.dwell_s):
            decisions[cell.id] = CellDecision(cell.id, False, "unreachable",
                                              "no unit can get there, stay and return within its shift"
                                              + (" and the cell's time windows" if cell.windows else ""))
            continue
        copies.append(_Copy(cell, loc, 1, tuple(windows), False, "priority"))

    optional = [c for c in copies if not c.required]
    prizes = dict(zip((c.cell.id for c in optional), _quantise([c.cell.priority for c in optional]), strict=True))
    exploration: set[str] = set()
    budget = request.time_budget_s
    runs: list[dict[str, object]] = []
    if request.exploration_share > 0 and optional:
        # Phase 1 (a third of the budget) tells how many optional visits a shift holds; the share of those
        # is then reserved for low-priority cells by giving them the top prize.
        pilot = _solve(copies, prizes, request, units, profile_of, durations, distances, budget / 3, num_seeds=1,
                       max_iterations=max_iterations)
        runs.extend(pilot[2])
        n_optional = sum(1 for route in pilot[0] for i in route if not copies[i].required)
        k = math.ceil(request.exploration_share * n_optional)
        median = statistics.median(c.cell.priority for c in optional)
        # Strictly below the median, so a long tail of equal top priorities is never "exploration"; when all
        # priorities are equal every cell is as good a pick as any other.
        low = [c.cell.id for c in optional if c.cell.priority < median] or [c.cell.id for c in optional]
        recent = frozenset().union(*request.previous_shifts[-3:]) if request.previous_shifts else frozenset()
        rng = random.Random(request.seed)
        # Cells nobody looked at recently first, random within each tier (seeded: same request, same picks).
        rng.shuffle(low)
        low.sort(key=lambda cid: cid in recent)
        exploration = set(low[:k])
        top = max(prizes.values(), default=0) + 1
        prizes = {cid: (top if cid in exploration else p) for cid, p in prizes.items()}
        budget = budget - (time.perf_counter() - t_start) + t_matrix
    routes, starts, more_runs, feasible = _solve(copies, prizes, request, units, profile_of, durations, distances,
                                                 max(budget, 0.1), num_seeds=num_seeds, max_iterations=max_iterations)
    runs.extend(more_runs)
    if not feasible and any(c.required for c in copies):
        # No plan holds every mandatory visit: ask which ones must go by making them optional but worth more
        # than all optional cells together; the dropped ones are the explanation.
        routes, starts, diag_runs, _ = _solve(copies, prizes, request, units, profile_of, durations, distances,
                                              max(request.time_budget_s / 2, 0.5), num_seeds=1,
                                              max_iterations=max_iterations, relax_required=True)
        runs.extend(diag_runs)
        served = {i for route in routes for i in route}
        dwell_needed = sum(c.cell.dwell_s for c in copies if c.required)
        shift_total = sum(u.shift_length for u in units)
        for i, c in enumerate(copies):
            if c.required and i not in served:
                missed.append(Shortfall(c.cell.id, c.visit_no, "capacity",
                                        f"visit {c.visit_no} of {c.cell.required_visits} to {c.cell.id} does not "
                                        "fit with the other mandatory visits: not enough unit time in its window "
                                        f"(mandatory dwell alone {dwell_needed / 3600:.1f} h of "
                                        f"{shift_total / 3600:.1f} unit-hours)"))

    plan_units = _unit_plans(copies, routes, starts, units, profile_of, durations, distances, exploration)
    _number_visits(plan_units)
    visited: dict[str, list[Visit]] = {}
    for up in plan_units:
        for v in up.visits:
            visited.setdefault(v.cell_id, []).append(v)
    chosen_optional = [c.cell.priority for c in optional if c.cell.id in visited and c.cell.id not in exploration]
    floor = min(chosen_optional, default=math.inf)
    for c in copies:
        cid = c.cell.id
        if cid in decisions:
            continue
        if cid in visited:
            kind = visited[cid][0].kind
            detail = {"mandatory": f"{len(visited[cid])} of {c.cell.required_visits} required visits",
                      "priority": f"priority {c.cell.priority:g}",
                      "exploration": "exploration pick (low priority, kept in view)"}[kind]
            decisions[cid] = CellDecision(cid, True, kind, detail)
        elif c.required:
            decisions[cid] = CellDecision(cid, False, "mandatory_unmet", "see missed")
        elif c.cell.priority < floor:
            decisions[cid] = CellDecision(cid, False, "lower_priority",
                                          f"priority {c.cell.priority:g} below every chosen cell (lowest {floor:g})")
        else:
            decisions[cid] = CellDecision(cid, False, "no_time",
                                          "reachable alone, but not together with higher-value visits in the time "
                                          "units have")
    for cell in cells:
        if cell.required_visits > 0 and cell.id not in decisions:
            decisions[cell.id] = CellDecision(cell.id, False, "mandatory_unmet", "see missed")
    # Keep an explicit visit count per mandatory cell in the decision when only some visits fit.
    for cell in cells:
        got = len(visited.get(cell.id, []))
        if cell.required_visits > 0 and 0 < got < cell.required_visits:
            decisions[cell.id] = CellDecision(cell.id, True, "mandatory",
                                              f"only {got} of {cell.required_visits} required visits")
    n_opt = sum(1 for up in plan_units for v in up.visits if v.kind != "mandatory")
    n_expl = sum(1 for up in plan_units for v in up.visits if v.kind == "exploration")
    missed.sort(key=lambda s: (s.cell_id, s.visit_no))
    return Plan(
        units=plan_units,
        decisions=decisions,
        missed=missed,
        feasible=not missed,
        total_priority=sum(up.priority_covered for up in plan_units),
        exploration_share=(n_expl / n_opt) if n_opt else 0.0,
        stats={
            "runtime_s": round(time.perf_counter() - t_start, 3),
            "matrix_s": round(t_matrix, 3),
            "copies": len(copies),
            "runs": runs,
            "exploration_cells": sorted(exploration),
        },
    )


def _solve(
    copies: list[_Copy],
    prizes: dict[str, int],
    request: PlanningRequest,
    units: Sequence[Unit],
    profile_of: list[int],
    durations: list[np.ndarray],
    distances: list[np.ndarray],
    budget: float,
    *,
    num_seeds: int,
    max_iterations: int | None,
    relax_required: bool = False,
) -> tuple[list[list[int]], list[float], list[dict[str, object]], bool]:
    """Solve over copies; returns per-unit routes as copy indices (stops map back to copies)."""
    stops: list[Stop] = []
    stop_copy: list[int] = []
    groups: list[tuple[list[int], bool]] = []
    big = (sum(prizes.values()) + 1) if relax_required else 0
    for i, c in enumerate(copies):
        loc = c.loc
        required = c.required and not relax_required
        prize = big if (c.required and relax_required) else (0 if c.required else prizes[c.cell.id])
        members = []
        for ws, we in c.windows:
            members.append(len(stops))
            stops.append(Stop(location=loc, prize=prize, service=c.cell.dwell_s, early=ws, late=we,
                              required=required))
            stop_copy.append(i)
        if len(members) > 1:
            groups.append((members, required))
    vehicles = [Vehicle(start=k, end=k, early=u.shift_start, late=u.shift_end, profile=profile_of[k])
                for k, u in enumerate(units)]
    problem = MatrixProblem(stops, vehicles, durations, distances, groups, time_scale=1.0)
    res = solve_matrix(problem, time_budget_s=budget, seed=request.seed, num_seeds=num_seeds,
                       max_iterations=max_iterations)
    routes = [[stop_copy[s] for s in route] for route in res.routes]
    return routes, res.start_times, list(res.runs), res.feasible  # type: ignore[arg-type]


def _unit_plans(
    copies: list[_Copy],
    routes: list[list[int]],
    starts: list[float],
    units: Sequence[Unit],
    profile_of: list[int],
    durations: list[np.ndarray],
    distances: list[np.ndarray],
    exploration: set[str],
) -> list[UnitPlan]:
    """Real-unit schedule of each route: leave when the solver left, arrive by real travel time, wait for
    windows. Real legs are never longer than the solver's rounded-up ones, so this stays within its times."""
    out = []
    for k, (unit, route) in enumerate(zip(units, routes, strict=True)):
        dur, dist = durations[profile_of[k]], distances[profile_of[k]]
        t = max(starts[k], unit.shift_start)
        depart = t
        here = k
        seen: dict[str, int] = {}
        visits = []
        total_m = 0.0
        for ci in route:
            c = copies[ci]
            loc = c.loc
            leg_s, leg_m = float(dur[here, loc]), float(dist[here, loc])
            arrive = t + leg_s
            begin = arrive
            for ws, we in c.windows:
                if arrive <= we:
                    begin = max(arrive, ws)
                    break
            t = begin + c.cell.dwell_s
            seen[c.cell.id] = seen.get(c.cell.id, 0) + 1
            kind: VisitKind = "exploration" if c.cell.id in exploration and not c.required else c.kind
            visits.append(Visit(c.cell.id, seen[c.cell.id], arrive, begin, t, leg_s, leg_m, c.cell.priority, kind))
            total_m += leg_m
            here = loc
        back_s, back_m = float(dur[here, k]), float(dist[here, k])
        total_m += back_m
        end = t + back_s
        covered = sum(v.priority for v in visits if v.kind != "mandatory")
        out.append(UnitPlan(unit.id, depart, visits, end, back_s, back_m, total_m,
                            end - depart if visits else 0.0, covered))
    return out


def _number_visits(plan_units: list[UnitPlan]) -> None:
    """Number each cell's visits 1..n in time order across units (a cell may be visited by several units)."""
    order = sorted(((v.start, k, i) for k, up in enumerate(plan_units) for i, v in enumerate(up.visits)))
    counter: dict[str, int] = {}
    for _, k, i in order:
        v = plan_units[k].visits[i]
        counter[v.cell_id] = counter.get(v.cell_id, 0) + 1
        plan_units[k].visits[i] = dataclasses.replace(v, visit_no=counter[v.cell_id])
