"""The PyVRP layer: a prize-collecting team orienteering problem with time windows on plain matrices.

Callers (the shift planner in `solve.py`, the benchmarks) give real-valued travel times and distances; this
module turns them into PyVRP's integer data and back. Rounding is always in the safe direction — travel and
service times up, latest times down, earliest times up — so every integer-feasible route is feasible in real
units too. The price is a little slack lost per leg; `time_scale` controls how little.

Objective, lexicographic: collect the most prize, then travel the least distance. PyVRP minimises
distance cost + uncollected prizes, so each prize unit is worth more than any possible total distance.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from pyvrp import (
    Client,
    ClientGroup,
    Depot,
    IteratedLocalSearchParams,
    Location,
    PenaltyParams,
    ProblemData,
    Solution,
    SolveParams,
    VehicleType,
)
from pyvrp import solve as pyvrp_solve
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, NoImprovement, StoppingCriterion

from .matrix import MatrixProblem

# With large prizes the default cap (1e5) leaves every solution time-warped; see FIELD-NOTES.
MAX_PENALTY = 1e12
ILS_HISTORY = 10
# Keep the largest possible objective well inside int64.
_INT_BUDGET = 2**61


@dataclass
class EngineResult:
    routes: list[list[int]]  # per vehicle, stop indices in visiting order
    start_times: list[float]  # per vehicle, real units, when it leaves its start location
    feasible: bool
    runtime_s: float
    runs: list[dict[str, float | int | bool]]
    best_seed: int | None


def _ceil(values: np.ndarray, scale: float) -> np.ndarray:
    # The epsilon stops 0.1 * 10 = 1.0000000002 from rounding up to 2.
    return np.ceil(values * scale - 1e-9)


class _Built:
    def __init__(self, problem: MatrixProblem) -> None:
        self.problem = problem
        p = problem
        ts = p.time_scale
        origin = min(v.early for v in p.vehicles)
        self.origin = origin
        horizon = max(v.late for v in p.vehicles) - origin
        # Unreachable legs become twice the horizon: any route using one misses its closing time.
        big = math.ceil(horizon * ts) * 2 + 10
        self.durations = [self._int_matrix(d, ts, big) for d in p.durations]
        # Distance only breaks ties between equal prizes, so its unit is chosen to keep prizes in int64.
        bound = self._distance_bound(problem)
        total_prize = sum(s.prize for s in p.stops) + 1
        dscale = 1000.0 / max(1.0, float(np.nanmax([np.nanmax(np.where(np.isfinite(d), d, 0)) for d in p.distances])))
        dscale = max(dscale, 1e-6)
        while total_prize * (bound * dscale + 1) > _INT_BUDGET // 4 and dscale > 1e-9:
            dscale /= 10
        self.distances = [self._int_matrix(d, dscale, int(bound * dscale) + 1) for d in p.distances]
        # Tie-breaking on distance beat tie-breaking on duration and beat no tie-break (Chao and TOPTW
        # benchmarks): shorter routes leave room to insert more visits.
        self.prize_unit = math.ceil(bound * dscale) + 1

        locations = [Location(0.0, 0.0) for _ in range(p.durations[0].shape[0])]
        depot_index: dict[int, int] = {}
        depots: list[Depot] = []
        for v in p.vehicles:
            for loc in (v.start, v.end):
                if loc not in depot_index:
                    depot_index[loc] = len(depots)
                    depots.append(Depot(location=loc))
        group_of = {}
        for g, (members, _) in enumerate(p.groups):
            for m in members:
                group_of[m] = g
        clients = []
        for i, s in enumerate(p.stops):
            early = max(0, math.ceil((s.early - origin) * ts - 1e-9))
            late = math.floor((s.late - origin) * ts + 1e-9) if math.isfinite(s.late) else big * 4
            if late < early:
                raise ValueError(f"stop {i}: time window shorter than the time resolution (1/{ts} units)")
            clients.append(
                Client(
                    location=s.location,
                    service_duration=int(_ceil(np.array(s.service), ts)),
                    tw_early=early,
                    tw_late=late,
                    prize=int(s.prize) * self.prize_unit,
                    required=s.required and i not in group_of,
                    group=group_of.get(i),
                )
            )
        groups = []
        for members, required in p.groups:
            groups.append(ClientGroup(members, required=required))
        # Identical vehicles share one vehicle type: PyVRP then does not explore symmetric swaps.
        self.type_members: dict[tuple[int, int, int, int, int], list[int]] = {}
        for k, v in enumerate(p.vehicles):
            key = (
                depot_index[v.start],
                depot_index[v.end],
                math.ceil((v.early - origin) * ts - 1e-9),
                math.floor((v.late - origin) * ts + 1e-9),
                v.profile,
            )
            self.type_members.setdefault(key, []).append(k)
        vehicle_types = [
            VehicleType(
                num_available=len(members),
                start_depot=key[0],
                end_depot=key[1],
                tw_early=key[2],
                tw_late=key[3],
                profile=key[4],
                unit_distance_cost=1,
            )
            for key, members in self.type_members.items()
        ]
        self.data = ProblemData(locations, clients, depots, vehicle_types, self.distances, self.durations, groups)

    @staticmethod
    def _int_matrix(m: np.ndarray, scale: float, cap: int) -> np.ndarray:
        out = np.where(np.isfinite(m), _ceil(np.where(np.isfinite(m), m, 0.0), scale), cap)
        out = np.minimum(out, cap).astype(np.int64)
        np.fill_diagonal(out, 0)
        return out

    @staticmethod
    def _distance_bound(p: MatrixProblem) -> float:
        """Most distance all vehicles together could drive: time available x fastest metres per time unit."""
        total = 0.0
        for v in p.vehicles:
            d, t = p.distances[v.profile], p.durations[v.profile]
            ok = np.isfinite(d) & np.isfinite(t) & (t > 0)
            rate = float(np.max(d[ok] / t[ok])) if ok.any() else 0.0
            zero_time = np.isfinite(d) & (t == 0)
            extra = float(np.max(d[zero_time])) * len(p.stops) if zero_time.any() else 0.0
            total += (v.late - v.early) * rate + extra
        return max(total, 1.0)

    def decode(self, solution: Solution) -> tuple[list[list[int]], list[float]]:
        routes: list[list[int]] = [[] for _ in self.problem.vehicles]
        starts = [v.early for v in self.problem.vehicles]
        keys = list(self.type_members)
        used = {key: 0 for key in keys}
        for route in solution.routes():
            key = keys[route.vehicle_type()]
            k = self.type_members[key][used[key]]
            used[key] += 1
            routes[k] = [a.idx for a in route if a.is_client()]
            starts[k] = route.start_time() / self.problem.time_scale + self.origin
        return routes, starts


def _penalty_params(built: _Built) -> PenaltyParams:
    """Penalty range sized to the prizes.

    One unit of time warp must be able to cost more than the largest prize, or the search settles on
    time-warped routes that collect everything (the FIELD-NOTES' advice to raise the cap). But PyVRP starts
    at the midpoint of [min, max]: a fixed 1e12 cap starts the search so deep in feasible-only territory
    that a few seconds never bring it back. A range of [largest prize / horizon, 4 x largest prize] did as
    well or slightly better in our TOPTW and Chao pilots (TOPTW hard subset 3.6% -> 3.4% mean gap, within
    noise); 1e12 stays the absolute cap.
    """
    top = max((c.prize for c in built.data.clients()), default=1)
    horizon = max(1, max(v.tw_late - v.tw_early for v in built.data.vehicle_types()))
    hi = min(max(1e5, 4.0 * top), MAX_PENALTY)
    lo = min(max(0.1, top / horizon), hi / 2)
    return PenaltyParams(min_penalty=lo, max_penalty=hi)


def solve_matrix(
    problem: MatrixProblem,
    *,
    time_budget_s: float,
    seed: int = 0,
    num_seeds: int = 1,
    max_iterations: int | None = None,
    no_improvement: int | None = None,
) -> EngineResult:
    """Run PyVRP `num_seeds` times, splitting the budget, each run warm-started from the best feasible so far.

    With `max_iterations` the result depends only on the seed (the time budget is then only a safety cap);
    with time alone it depends on machine speed too.
    """
    t0 = time.perf_counter()
    built = _Built(problem)
    params = SolveParams(
        penalty=_penalty_params(built),
        # Late acceptance compares with the solution HISTORY iterations ago, accepting anything better than
        # the start until the history fills. The default 300 suits long runs; in a few seconds (1-5k
        # iterations on 100-300 visits) 10 intensifies enough: TOPTW pr05/07/08/10 mean gap 6.2% -> 3.6%
        # at 3 s (bench_planning pilots; history 5, 20, 50, 100 were worse than 10).
        ils=IteratedLocalSearchParams(history_length=ILS_HISTORY),
    )
    best: Solution | None = None
    best_cost = math.inf
    best_seed = None
    runs: list[dict[str, float | int | bool]] = []
    for i in range(max(1, num_seeds)):
        remaining = time_budget_s - (time.perf_counter() - t0)
        share = remaining / (num_seeds - i)
        if share <= 0.01 and best is not None:
            break
        criteria: list[StoppingCriterion] = [MaxRuntime(max(share, 0.01))]
        if max_iterations is not None:
            criteria.append(MaxIterations(max_iterations))
        if no_improvement is not None:
            criteria.append(NoImprovement(no_improvement))
        stop = criteria[0] if len(criteria) == 1 else MultipleCriteria(criteria)
        with warnings.catch_warnings(record=True) as caught:
            # PyVRP warns when a penalty reaches its cap; we only keep feasible solutions anyway, so record it
            # in the run facts instead of logging it on every plan.
            warnings.simplefilter("always", PenaltyBoundWarning)
            res = pyvrp_solve(
                built.data, stop, seed=seed + i, collect_stats=False, params=params, initial_solution=best
            )
        sol = res.best
        feasible = sol.is_feasible()
        cost = float(sol.distance_cost() + sol.duration_cost() + sol.uncollected_prizes()) if feasible else math.inf
        capped = any(issubclass(w.category, PenaltyBoundWarning) for w in caught)
        for w in caught:
            if not issubclass(w.category, PenaltyBoundWarning):
                warnings.warn(w.message, w.category, stacklevel=2)
        runs.append({"seed": seed + i, "feasible": feasible, "iterations": res.num_iterations, "cost": cost,
                     "penalty_at_cap": capped})
        if feasible and cost < best_cost:
            best, best_cost, best_seed = sol, cost, seed + i
    if best is None:
        return EngineResult([[] for _ in problem.vehicles], [v.early for v in problem.vehicles], False,
                            time.perf_counter() - t0, runs, None)
    routes, starts = built.decode(best)
    return EngineResult(routes, starts, True, time.perf_counter() - t0, runs, best_seed)
