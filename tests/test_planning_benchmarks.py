"""Solver quality on classic instances (shared data): small ones must reach their best-known scores."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

from bench.bench_planning import read_chao, read_toptw
from sitaware.planning.solver.engine import solve_matrix
from sitaware.planning.solver.feasibility import check_matrix_routes
from sitaware.planning.solver.matrix import MatrixProblem
from tests.conftest import shared_data


def score(problem: MatrixProblem, routes: list[list[int]]) -> int:
    return sum(problem.stops[i].prize for route in routes for i in route)


def chao_bks(name: str) -> float:
    with (shared_data("patrol", "top_chao") / "bks_chao.tsv").open() as fh:
        return {row["instance"]: float(row["bks_score"]) for row in csv.DictReader(fh, delimiter="\t")}[name]


@pytest.mark.parametrize(("folder", "name"), [("Set_21_234", "p2.2.k"), ("Set_32_234", "p1.3.n")])
def test_small_chao_instances_reach_their_best_known_score(folder, name):
    problem, _ = read_chao(shared_data("patrol", "top_chao", folder, f"{name}.txt"))
    result = solve_matrix(problem, time_budget_s=60, max_iterations=2000)
    assert result.feasible
    assert check_matrix_routes(problem, result.routes, result.start_times) == []
    assert score(problem, result.routes) == chao_bks(name)


def test_chao_routes_respect_the_time_limit_in_real_distances():
    problem, _ = read_chao(shared_data("patrol", "top_chao", "Set_32_234", "p1.3.n.txt"))
    result = solve_matrix(problem, time_budget_s=60, max_iterations=500)
    dist = problem.distances[0]
    for vehicle, route in zip(problem.vehicles, result.routes, strict=True):
        path = [vehicle.start, *(problem.stops[i].location for i in route), vehicle.end]
        assert sum(dist[a, b] for a, b in itertools.pairwise(path)) <= vehicle.late + 1e-9


def test_toptw_reader_and_a_proven_optimum():
    path = shared_data("patrol", "toptw", "cordeau", "pr01.txt")
    problem = read_toptw(path, m=1, decimals=2)
    assert len(problem.stops) == 48
    assert problem.vehicles[0].late == 1000.0
    # Distances follow the benchmark's convention: truncated to two decimals.
    hundredths = problem.durations[0] * 100
    assert np.allclose(hundredths, np.round(hundredths), rtol=0, atol=1e-6)
    raw = np.hypot(-10.442 - -29.730, 19.999 - 64.136)  # depot to customer 1, untruncated
    assert problem.durations[0][0, 1] == pytest.approx(np.floor(raw * 100) / 100)
    result = solve_matrix(problem, time_budget_s=60, max_iterations=3000)
    assert check_matrix_routes(problem, result.routes, result.start_times) == []
    assert score(problem, result.routes) >= 0.97 * 308  # proven optimum (Righini and Salani)


def test_the_matrix_checker_rejects_a_route_over_its_limit():
    problem, _ = read_chao(shared_data("patrol", "top_chao", "Set_32_234", "p1.3.n.txt"))
    everything = [list(range(len(problem.stops)))] + [[] for _ in problem.vehicles[1:]]
    assert any("after its limit" in p for p in check_matrix_routes(problem, everything))
