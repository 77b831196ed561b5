"""Shift planning end to end: plans are feasible in real units, explained, reproducible."""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys

import numpy as np
import pytest

from sitaware.planning.solver.feasibility import check_plan
from sitaware.planning.solver.problem import Cell, PlanningRequest, TimeWindow, Unit
from sitaware.planning.solver.solve import Plan, plan_shift
from sitaware.planning.solver.travel import CellGraph

BANGUI = (4.3612, 18.5550)
HOUR = 3600.0


def random_request(seed: int, n_units: int = 3, n_cells: int = 30) -> PlanningRequest:
    rng = random.Random(seed)

    def near(spread: float) -> tuple[float, float]:
        return BANGUI[0] + rng.uniform(-spread, spread), BANGUI[1] + rng.uniform(-spread, spread)

    units = [
        Unit.of(f"u{i}", near(0.03), rng.choice([0, HOUR]), rng.choice([6, 8]) * HOUR,
                rng.choice(["vehicle", "foot"]), rng.choice([5.0, 20.0, 30.0]))
        for i in range(n_units)
    ]  # fmt: skip
    cells = []
    for j in range(n_cells):
        lat, lon = near(0.08)
        windows: tuple[TimeWindow, ...] = ()
        if rng.random() < 0.3:
            a = rng.uniform(0, 5 * HOUR)
            windows = (TimeWindow(a, a + rng.uniform(0.5, 2) * HOUR),)
            if rng.random() < 0.5:
                windows += (TimeWindow(a + 3 * HOUR, a + 4 * HOUR),)
        required = 1 if rng.random() < 0.05 else (2 if rng.random() < 0.03 else 0)
        cells.append(Cell(f"c{j}", lat, lon, priority=round(rng.uniform(0, 10), 1), dwell_s=rng.choice([300, 900]),
                          windows=windows, required_visits=required))  # fmt: skip
    optional = [c.id for c in cells if c.required_visits == 0]
    return PlanningRequest.of(
        units, cells, no_go=rng.sample(optional, 2), previous_shifts=[set(rng.sample(optional, 8))] * 2,
        max_consecutive=2, exploration_share=rng.choice([0.0, 0.2]), seed=seed, time_budget_s=3.0,
    )  # fmt: skip


def solve(request: PlanningRequest, iterations: int = 300, **kw) -> Plan:
    # An iteration cap, with time to spare, makes results independent of machine speed and load.
    return plan_shift(dataclasses.replace(request, time_budget_s=120.0), max_iterations=iterations, **kw)


@pytest.mark.parametrize("seed", range(12))
def test_every_returned_plan_passes_the_independent_check(seed):
    request = random_request(seed)
    plan = solve(request)
    assert check_plan(request, plan) == []
    assert set(plan.decisions) == {c.id for c in request.cells}
    visited = {v.cell_id for u in plan.units for v in u.visits}
    assert visited.isdisjoint(request.no_go)
    assert visited.isdisjoint(request.repeat_capped() - {c.id for c in request.cells if c.required_visits})
    for cid, decision in plan.decisions.items():
        assert decision.planned == (cid in visited)
    if plan.feasible:
        for c in request.cells:
            assert sum(v.cell_id == c.id for u in plan.units for v in u.visits) >= c.required_visits


def test_the_checker_catches_a_tampered_plan():
    request = random_request(3)
    plan = solve(request)
    route = next(u for u in plan.units if len(u.visits) >= 2)
    first = route.visits[0]
    late = dataclasses.replace(first, arrival=first.arrival - 600, start=first.start - 600)
    short = dataclasses.replace(route.visits[1], departure=route.visits[1].start + 1)
    route.visits[0], route.visits[1] = late, short
    route.visits.append(dataclasses.replace(route.visits[-1], cell_id=sorted(request.no_go)[0]))
    problems = " | ".join(check_plan(request, plan))
    assert "travel alone ends" in problems
    assert "less than the dwell" in problems
    assert "no-go" in problems


def test_same_seed_same_plan():
    request = random_request(5)
    a, b = solve(request), solve(request)
    assert [[(v.cell_id, v.start) for v in u.visits] for u in a.units] == [
        [(v.cell_id, v.start) for v in u.visits] for u in b.units
    ]


def two_units(**cell_kw) -> tuple[list[Unit], list[Cell]]:
    units = [Unit.of(f"u{i}", BANGUI, 0, 4 * HOUR, "vehicle", 30.0) for i in range(2)]
    rng = random.Random(0)
    cells = [Cell(f"c{j}", BANGUI[0] + rng.uniform(-0.03, 0.03), BANGUI[1] + rng.uniform(-0.03, 0.03),
                  priority=float(j % 5 + 1)) for j in range(12)]  # fmt: skip
    return units, cells


def test_an_unreachable_mandatory_visit_is_explained_and_the_rest_is_still_planned():
    units, cells = two_units()
    far = Cell("far", BANGUI[0] + 1.5, BANGUI[1], required_visits=1)  # ~170 km: 5+ h each way at 30 km/h
    plan = solve(PlanningRequest.of(units, [*cells, far]))
    assert not plan.feasible
    assert [(m.cell_id, m.constraint) for m in plan.missed] == [("far", "no_unit_in_time")]
    assert plan.decisions["far"].reason == "mandatory_unmet"
    assert sum(len(u.visits) for u in plan.units) > 0


def test_too_many_mandatory_visits_name_the_capacity_constraint():
    units, cells = two_units()
    # 20 mandatory hour-long visits cannot fit in two 4-hour shifts.
    heavy = [dataclasses.replace(c, id=f"m{i}", required_visits=1, dwell_s=HOUR) for i, c in
             enumerate(cells + cells[:8])]  # fmt: skip
    plan = solve(PlanningRequest.of(units, heavy, time_budget_s=2.0))
    assert not plan.feasible
    assert {m.constraint for m in plan.missed} == {"capacity"}
    assert len(plan.missed) >= 20 - 2 * 4
    assert check_plan(PlanningRequest.of(units, heavy), plan) == []


def test_repeated_visits_outside_every_window_are_a_window_shortfall():
    units, cells = two_units()
    # Three visits spread over the cell's 0-4 h, but it is closed from 1 h to 3 h: the middle third has no window.
    odd = Cell("odd", *BANGUI, required_visits=3, windows=(TimeWindow(0, HOUR), TimeWindow(3 * HOUR, 4 * HOUR)))
    plan = solve(PlanningRequest.of(units, [*cells, odd]))
    assert not plan.feasible
    assert [(m.cell_id, m.visit_no, m.constraint) for m in plan.missed] == [("odd", 2, "window")]
    assert {v.cell_id for u in plan.units for v in u.visits} >= {"odd"}  # visits 1 and 3 still made


def test_repeated_mandatory_visits_are_spread_over_the_day():
    units, cells = two_units()
    cells[0] = dataclasses.replace(cells[0], required_visits=3)
    request = PlanningRequest.of(units, cells)
    plan = solve(request)
    assert plan.feasible and check_plan(request, plan) == []
    starts = sorted(v.start for u in plan.units for v in u.visits if v.cell_id == cells[0].id)
    assert len(starts) == 3
    # Each visit lands in its own third of the 4-hour day.
    assert [int(s // (4 * HOUR / 3)) for s in starts] == [0, 1, 2]


def test_reasons_for_cells_left_out():
    units, cells = two_units()
    cells.append(Cell("zero", *BANGUI, priority=0.0))
    cells.append(Cell("capped", *BANGUI, priority=100.0))
    request = PlanningRequest.of(units, cells, no_go=["c3"], previous_shifts=[{"capped"}], max_consecutive=1)
    plan = solve(request)
    assert plan.decisions["c3"].reason == "no_go"
    assert plan.decisions["zero"].reason == "zero_priority"
    assert plan.decisions["capped"].reason == "repeat_cap"
    assert plan.decisions["c0"].reason == "priority"


def test_low_priority_cells_lose_to_higher_ones_when_time_is_short():
    # Room for the four high-priority visits (4 x 15 min dwell plus short hops) and no fifth.
    unit = Unit.of("u", BANGUI, 0, 4 * 900 + 600, "vehicle", 30.0)
    cells = [Cell(f"hi{i}", BANGUI[0] + 0.002 * i, BANGUI[1], priority=10.0) for i in range(4)]
    cells += [Cell(f"lo{i}", BANGUI[0], BANGUI[1] + 0.002 * (i + 1), priority=1.0) for i in range(4)]
    plan = solve(PlanningRequest.of([unit], cells))
    assert {v.cell_id for v in plan.units[0].visits} == {f"hi{i}" for i in range(4)}
    assert {plan.decisions[f"lo{i}"].reason for i in range(4)} == {"lower_priority"}


def test_exploration_reserves_a_share_for_low_priority_cells():
    units, _ = two_units()
    rng = random.Random(2)
    # More high-priority cells (40) than two 4-hour shifts can visit (about 26), and 20 low ones.
    cells = [Cell(f"c{j}", BANGUI[0] + rng.uniform(-0.03, 0.03), BANGUI[1] + rng.uniform(-0.03, 0.03),
                  priority=100.0 if j < 40 else 1.0) for j in range(60)]  # fmt: skip
    plain = solve(PlanningRequest.of(units, cells), iterations=2000)
    assert plain.exploration_share == 0.0
    assert all(v.priority == 100.0 for u in plain.units for v in u.visits)
    explore = solve(PlanningRequest.of(units, cells, exploration_share=0.25), iterations=2000)
    assert explore.exploration_share >= 0.2
    picks = [v for u in explore.units for v in u.visits if v.kind == "exploration"]
    assert picks and all(v.priority == 1.0 for v in picks)


def test_time_windows_are_kept():
    units, cells = two_units()
    cells = [dataclasses.replace(c, windows=(TimeWindow(2 * HOUR, 2.5 * HOUR),)) for c in cells[:4]] + cells[4:]
    request = PlanningRequest.of(units, cells)
    plan = solve(request)
    assert check_plan(request, plan) == []
    for u in plan.units:
        for v in u.visits:
            if v.cell_id in {c.id for c in cells[:4]}:
                assert 2 * HOUR <= v.start <= 2.5 * HOUR


def test_plans_on_a_grid_never_visit_across_a_wall_they_cannot_pass():
    speeds = np.full((30, 30), 30.0)
    speeds[:, 15] = 0.0  # impassable: the east half is unreachable from a western base
    grid = CellGraph.from_raster(speeds, 4.30, 18.50, 4.42, 18.62)
    unit = Unit.of("u", (4.36, 18.52), 0, 4 * HOUR, "vehicle", 30.0)
    west = [Cell(f"w{i}", 4.31 + 0.01 * i, 18.53, priority=1.0) for i in range(10)]
    east = [Cell(f"e{i}", 4.31 + 0.01 * i, 18.60, priority=50.0) for i in range(10)]
    request = PlanningRequest.of([unit], west + east)
    plan = solve(request, provider=grid)
    assert check_plan(request, plan, grid) == []
    assert {plan.decisions[c.id].reason for c in east} == {"unreachable"}
    assert len(plan.units[0].visits) > 0


def test_realistic_size_plans_within_budget():
    rng = random.Random(11)
    units = [Unit.of(f"u{i}", (BANGUI[0] + rng.uniform(-0.05, 0.05), BANGUI[1] + rng.uniform(-0.05, 0.05)), 0,
                     8 * HOUR, "vehicle", 25.0) for i in range(6)]  # fmt: skip
    cells = [Cell(f"c{j}", BANGUI[0] + rng.uniform(-0.1, 0.1), BANGUI[1] + rng.uniform(-0.1, 0.1),
                  priority=rng.paretovariate(1.5)) for j in range(400)]  # fmt: skip
    request = PlanningRequest.of(units, cells, time_budget_s=4.0)
    plan = plan_shift(request)
    assert plan.stats["runtime_s"] < 8.0
    assert check_plan(request, plan) == []
    assert sum(len(u.visits) for u in plan.units) >= 6 * 10


def test_the_solver_package_imports_no_django():
    code = (
        "import sys\n"
        "import sitaware.planning.solver.feasibility, sitaware.planning.solver.solve, sitaware.planning.solver.travel\n"
        "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr or "django was imported"
