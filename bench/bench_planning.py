"""Patrol-planning solver against the classic orienteering benchmarks and one realistic shift.

    python -m bench.bench_planning            # everything: 387 Chao TOP, TOPTW pr01-pr10 x m=1..4,
                                              # Solomon 100-series OPTW, realistic 12 units x 2,000 cells
    python -m bench.bench_planning --quick    # a stated subset, a few minutes
    python -m bench.bench_planning --ortools  # also OR-Tools routing (drop penalty = prize), same budget

Data: ../shared/data/patrol (see its SOURCE.md). Every solution is re-checked in real units (floats) by
`feasibility.check_matrix_routes`, never trusted from the solver's integer model. Instances are solved two at
a time (one process per core); each solve gets `--budget` seconds.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, RESULTS, machine_facts

sys.path.insert(0, str(REPO / "src"))

import numpy as np

from sitaware.planning.solver.engine import solve_matrix
from sitaware.planning.solver.feasibility import check_matrix_routes
from sitaware.planning.solver.matrix import MatrixProblem, Stop, Vehicle

DATA = REPO.parent / "shared" / "data" / "patrol"
CHAO_TIME_SCALE = 10_000.0  # Euclidean, untruncated: 1e-4 resolution, rounded up per leg
# Chao subset for --quick: the two largest sets (100 and 102 points) at every m, plus small ones.
QUICK_CHAO = [
    "p1.2.h", "p1.3.n", "p1.4.r", "p2.2.k", "p2.3.g", "p3.2.l", "p3.3.s", "p3.4.t", "p4.2.t", "p4.3.k",
    "p4.4.s", "p5.2.x", "p5.3.x", "p5.4.n", "p6.2.n", "p6.3.m", "p6.4.l", "p7.2.t", "p7.3.s", "p7.4.r",
]  # fmt: skip


# --- instance readers ------------------------------------------------------------------------------------------
def read_chao(path: Path) -> tuple[MatrixProblem, np.ndarray]:
    lines = path.read_text().split("\n")
    n = int(lines[0].split()[1])
    m = int(lines[1].split()[1])
    tmax = float(lines[2].split()[1])
    pts = np.array([[float(x) for x in line.split()] for line in lines[3 : 3 + n]])
    dist = np.sqrt(((pts[:, None, :2] - pts[None, :, :2]) ** 2).sum(-1))
    stops = [Stop(location=i, prize=round(pts[i, 2])) for i in range(1, n - 1)]
    vehicles = [Vehicle(start=0, end=n - 1, early=0.0, late=tmax)] * m
    return MatrixProblem(stops, vehicles, [dist], [dist], time_scale=CHAO_TIME_SCALE), pts[:, 2]


def read_toptw(path: Path, m: int, decimals: int) -> MatrixProblem:
    """TOPTW convention: Euclidean distance truncated to `decimals`; Tmax is the depot's closing time."""
    rows = []
    for line in path.read_text().split("\n")[2:]:
        tok = line.split()
        if len(tok) >= 9:
            rows.append((float(tok[1]), float(tok[2]), float(tok[3]), float(tok[4]), float(tok[-2]), float(tok[-1])))
    arr = np.array(rows)
    xy = arr[:, :2]
    scale = 10**decimals
    dist = np.floor(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) * scale + 1e-7) / scale
    stops = [
        Stop(location=i, prize=round(arr[i, 3]), service=arr[i, 2], early=arr[i, 4], late=arr[i, 5])
        for i in range(1, len(arr))
    ]
    vehicles = [Vehicle(start=0, end=0, early=arr[0, 4], late=arr[0, 5])] * m
    return MatrixProblem(stops, vehicles, [dist], [dist], time_scale=float(scale))


# --- one solve -------------------------------------------------------------------------------------------------
def _solve_task(task: dict[str, Any]) -> dict[str, Any]:
    kind, name = task["kind"], task["name"]
    if kind == "chao":
        problem, _ = read_chao(Path(task["path"]))
    else:
        problem = read_toptw(Path(task["path"]), task["m"], task["decimals"])
    t0 = time.perf_counter()
    if task.get("solver") == "ortools":
        routes = _ortools(problem, task["budget"])
        starts = None
        feasible = True
    else:
        res = solve_matrix(problem, time_budget_s=task["budget"], seed=task["seed"], num_seeds=task["num_seeds"])
        routes, starts, feasible = res.routes, res.start_times, res.feasible
    elapsed = time.perf_counter() - t0
    violations = check_matrix_routes(problem, routes, starts) if feasible else ["no feasible solution"]
    score = sum(problem.stops[i].prize for r in routes for i in r) if not violations else 0
    ref = task["ref"]
    gap = 100.0 * (ref - score) / ref if ref else 0.0
    return {
        "set": task["set"], "instance": name, "m": len(problem.vehicles), "solver": task.get("solver", "pyvrp"),
        "score": score, "ref": ref, "gap_pct": round(gap, 4), "reached": score >= ref,
        "seconds": round(elapsed, 2), "violations": violations[:3],
    }  # fmt: skip


def _ortools(problem: MatrixProblem, budget: float) -> list[list[int]]:
    """OR-Tools routing: optional visits as disjunctions with drop penalty = prize; same rounding as ours."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    ts = problem.time_scale
    dur = np.ceil(np.where(np.isfinite(problem.durations[0]), problem.durations[0], 1e9) * ts - 1e-9).astype(int)
    n_stops = len(problem.stops)
    vehicles = problem.vehicles
    # Node layout: 0..n_stops-1 stops, then one start and one end node per vehicle.
    loc = [s.location for s in problem.stops] + [v.start for v in vehicles] + [v.end for v in vehicles]
    starts = [n_stops + k for k in range(len(vehicles))]
    ends = [n_stops + len(vehicles) + k for k in range(len(vehicles))]
    manager = pywrapcp.RoutingIndexManager(len(loc), len(vehicles), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    service = [math.ceil(s.service * ts - 1e-9) for s in problem.stops] + [0] * (2 * len(vehicles))

    def transit(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        return int(dur[loc[a], loc[b]]) + service[a]

    cb = routing.RegisterTransitCallback(transit)
    # Travel as a small arc cost breaks ties the way ours does; prizes dominate through the penalties.
    horizon = int(max(v.late for v in vehicles) * ts) + 1
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    routing.AddDimension(cb, horizon, horizon, True, "time")
    tdim = routing.GetDimensionOrDie("time")
    weight = horizon * len(vehicles) + 1
    for i, s in enumerate(problem.stops):
        index = manager.NodeToIndex(i)
        late = math.floor(s.late * ts + 1e-9) if math.isfinite(s.late) else horizon
        tdim.CumulVar(index).SetRange(math.ceil(s.early * ts - 1e-9), late)
        routing.AddDisjunction([index], int(s.prize) * weight)
    for k, v in enumerate(vehicles):
        tdim.CumulVar(routing.Start(k)).SetRange(math.ceil(v.early * ts - 1e-9), math.floor(v.late * ts + 1e-9))
        tdim.CumulVar(routing.End(k)).SetRange(math.ceil(v.early * ts - 1e-9), math.floor(v.late * ts + 1e-9))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(budget * 1000))
    solution = routing.SolveWithParameters(params)
    routes: list[list[int]] = [[] for _ in vehicles]
    if solution is None:
        return routes
    for k in range(len(vehicles)):
        index = solution.Value(routing.NextVar(routing.Start(k)))
        while not routing.IsEnd(index):
            routes[k].append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
    return routes


# --- task lists ------------------------------------------------------------------------------------------------
def chao_tasks(quick: bool, budget: float, num_seeds: int, limit: int | None) -> list[dict[str, Any]]:
    folder = DATA / "top_chao"
    bks = {row["instance"]: float(row["bks_score"]) for row in csv.DictReader((folder / "bks_chao.tsv").open(),
                                                                               delimiter="\t")}
    files = {p.stem: p for p in sorted(folder.glob("Set_*/*.txt"))}
    names = [n for n in QUICK_CHAO if n in files] if quick else sorted(files)
    if limit:
        names = names[:limit]
    return [{"kind": "chao", "set": "chao", "name": n, "path": str(files[n]), "ref": bks[n], "budget": budget,
             "seed": 0, "num_seeds": num_seeds} for n in names]  # fmt: skip


def toptw_tasks(quick: bool, budget: float, num_seeds: int) -> list[dict[str, Any]]:
    folder = DATA / "toptw"
    tasks = []
    with (folder / "bks_toptw_cordeau.csv").open() as fh:
        for row in csv.DictReader(fh):
            path = folder / "cordeau" / f"{row['instance']}.txt"
            if not path.exists() or (quick and row["instance"] not in ("pr01", "pr05", "pr10")):
                continue
            tasks.append({"kind": "toptw", "set": "toptw_cordeau", "name": row["instance"], "path": str(path),
                          "m": int(row["m"]), "decimals": 2, "ref": float(row["BKS"]), "budget": budget, "seed": 0,
                          "num_seeds": num_seeds})  # fmt: skip
    with (folder / "optw_optimal_righini_salani.tsv").open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            path = folder / "solomon" / f"{row['instance']}.txt"
            if not path.exists() or (quick and row["instance"] not in ("c101", "r102", "rc105", "r112", "c109")):
                continue
            tasks.append({"kind": "toptw", "set": "optw_solomon", "name": row["instance"], "path": str(path),
                          "m": int(row["m"]), "decimals": 1, "ref": float(row["optimal_score"]), "budget": budget,
                          "seed": 0, "num_seeds": num_seeds})  # fmt: skip
    return tasks


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"n": 0}
    gaps = [r["gap_pct"] for r in rows]
    ratios = [r["score"] / r["ref"] for r in rows if r["ref"]]
    return {
        "n": len(rows),
        "mean_gap_pct": round(statistics.fmean(gaps), 3),
        "max_gap_pct": round(max(gaps), 3),
        "reached_bks_pct": round(100.0 * sum(r["reached"] for r in rows) / len(rows), 1),
        "mean_score_ratio_pct": round(100.0 * statistics.fmean(ratios), 2) if ratios else None,
        "infeasible_or_violations": sum(1 for r in rows if r["violations"]),
        "mean_seconds": round(statistics.fmean(r["seconds"] for r in rows), 2),
    }


# --- realistic shift -------------------------------------------------------------------------------------------
def realistic(budget: float) -> dict[str, Any]:
    """12 units (4 on foot), 2,000 H3 res-8 cells around Bangui, 8-hour shift, 8 cells needing 2 visits."""
    import h3

    from sitaware.planning.solver.feasibility import check_plan
    from sitaware.planning.solver.problem import Cell, PlanningRequest, Unit
    from sitaware.planning.solver.solve import plan_shift

    rng = random.Random(7)
    centre = h3.latlng_to_cell(4.3612, 18.5550, 8)
    ids = sorted(h3.grid_disk(centre, 26))[:2000]
    cells = []
    for j, cid in enumerate(ids):
        lat, lon = h3.cell_to_latlng(cid)
        # Heavy-tailed priorities, like forecast risk: a few hot cells, a long tail.
        cells.append(Cell(cid, lat, lon, priority=round(rng.paretovariate(1.5), 2),
                          required_visits=2 if j % 250 == 0 else 0))  # fmt: skip
    units = [
        Unit.of(f"u{i}", h3.cell_to_latlng(ids[rng.randrange(len(ids))]), 0, 8 * 3600,
                "foot" if i % 3 == 0 else "vehicle", 5.0 if i % 3 == 0 else 25.0)
        for i in range(12)
    ]  # fmt: skip
    request = PlanningRequest.of(units, cells, time_budget_s=budget, exploration_share=0.1)
    t0 = time.perf_counter()
    plan = plan_shift(request)
    elapsed = time.perf_counter() - t0
    violations = check_plan(request, plan)
    return {
        "units": len(units), "cells": len(cells), "shift_h": 8, "budget_s": budget,
        "wall_s": round(elapsed, 2), "target_s": 30, "met": elapsed < 30 and plan.feasible and not violations,
        "feasible": plan.feasible, "violations": violations[:3], "visits": sum(len(u.visits) for u in plan.units),
        "total_priority": round(plan.total_priority, 2), "exploration_share": round(plan.exploration_share, 3),
        "matrix_s": plan.stats["matrix_s"],
    }  # fmt: skip


def markdown_table(result: dict[str, Any]) -> str:
    """The summary as a markdown table, for docs/planning.md."""
    lines = [
        "| solver / set | n | mean gap % | max gap % | best-known reached % | mean score / reference % | violations |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, s in result["summary"].items():
        if "mean_gap_pct" in s:
            lines.append(f"| {key} | {s['n']} | {s['mean_gap_pct']} | {s['max_gap_pct']} | {s['reached_bks_pct']} | "
                         f"{s['mean_score_ratio_pct']} | {s['infeasible_or_violations']} |")  # fmt: skip
        else:
            lines.append(f"| {key} | {s['n']} | score ratio {s['mean_score_ratio']} | | "
                         f"pyvrp better {s['pyvrp_better']}, ortools better {s['ortools_better']} | | |")  # fmt: skip
    return "\n".join(lines)


def build_summary(rows: list[dict[str, Any]], pyvrp_reference: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Per solver and set; with OR-Tools rows, the PyVRP / OR-Tools score ratio on the instances both solved.

    `pyvrp_reference` supplies PyVRP rows from an earlier run (same budget) when this run is OR-Tools only."""
    summary: dict[str, Any] = {}
    for solver in sorted({r["solver"] for r in rows}):
        for name in sorted({r["set"] for r in rows}):
            part = [r for r in rows if r["solver"] == solver and r["set"] == name]
            if part:
                summary[f"{solver}/{name}"] = summarise(part)
                if name == "toptw_cordeau":
                    for m in sorted({r["m"] for r in part}):
                        summary[f"{solver}/{name}/m={m}"] = summarise([r for r in part if r["m"] == m])
    pyvrp_rows = [r for r in rows if r["solver"] == "pyvrp"] or (pyvrp_reference or [])
    for name in sorted({r["set"] for r in rows if r["solver"] == "ortools"}):
        ours = {(r["instance"], r["m"]): r["score"] for r in pyvrp_rows if r["set"] == name}
        theirs = {(r["instance"], r["m"]): r["score"] for r in rows if (r["solver"], r["set"]) == ("ortools", name)}
        common = [k for k in ours if k in theirs]
        # Ratio only where OR-Tools scored (instances whose best-known is 0 have nothing to collect).
        pairs = [(ours[k], theirs[k]) for k in common if theirs[k] > 0]
        if pairs:
            summary[f"pyvrp_vs_ortools/{name}"] = {
                "n": len(pairs),
                "mean_score_ratio": round(statistics.fmean(a / b for a, b in pairs), 4),
                "pyvrp_better": sum(ours[k] > theirs[k] for k in common),
                "ortools_better": sum(ours[k] < theirs[k] for k in common),
                "equal": sum(ours[k] == theirs[k] for k in common),
                "instances_compared": len(common),
            }  # fmt: skip
    return summary


def _row_key(row: dict[str, Any]) -> tuple[str, str, str, int]:
    return row["solver"], row["set"], row["instance"], row["m"]


def _task_key(task: dict[str, Any]) -> tuple[str, str, str, int | None]:
    return task.get("solver", "pyvrp"), task["set"], task["name"], task.get("m")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20 Chao + 17 TOPTW/OPTW instances")
    ap.add_argument("--budget", type=float, default=5.0, help="seconds per instance (default 5)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per instance, splitting the budget (default 1)")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--ortools", action="store_true", help="also solve every instance with OR-Tools")
    ap.add_argument("--ortools-only", action="store_true",
                    help="OR-Tools alone; compare with the PyVRP rows of --compare-with")  # fmt: skip
    ap.add_argument("--compare-with", default=None, help="a results file whose PyVRP rows the ratio uses")
    ap.add_argument("--resume", action="store_true", help="keep the rows already in --out and solve the rest")
    ap.add_argument("--chao-limit", type=int, default=None, help="only the first N Chao instances (by name)")
    ap.add_argument("--only", choices=["chao", "toptw", "realistic"], action="append")
    ap.add_argument("--instances", default=None, help="comma-separated instance names to keep")
    ap.add_argument("--out", default=None)
    ap.add_argument("--table", default=None, help="print the markdown table of a results file and exit")
    args = ap.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(Path(args.table).read_text())))
        return 0
    only = set(args.only or ["chao", "toptw", "realistic"])
    if not DATA.exists():
        print(f"no benchmark data at {DATA}", file=sys.stderr)
        return 2
    tasks: list[dict[str, Any]] = []
    if "chao" in only:
        tasks += chao_tasks(args.quick, args.budget, args.seeds, args.chao_limit)
    if "toptw" in only:
        tasks += toptw_tasks(args.quick, args.budget, args.seeds)
    if args.instances:
        keep = set(args.instances.split(","))
        tasks = [t for t in tasks if t["name"] in keep]
    if args.ortools_only:
        tasks = [{**t, "solver": "ortools"} for t in tasks]
    elif args.ortools:
        # Each instance's two solves run side by side (2 processes), so both meet the same machine load.
        tasks = [x for t in tasks for x in (t, {**t, "solver": "ortools"})]
    reference = None
    if args.compare_with:
        reference = [r for r in json.loads(Path(args.compare_with).read_text())["rows"] if r["solver"] == "pyvrp"]
    out = Path(args.out) if args.out else RESULTS / ("planning-quick.json" if args.quick else "planning.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    if args.resume and out.exists():
        rows = json.loads(out.read_text()).get("rows", [])
        done = {_row_key(r) for r in rows}
        tasks = [t for t in tasks if not any(k[:3] == _task_key(t)[:3] and (t.get("m") in (None, k[3]))
                                             for k in done)]  # fmt: skip
    result: dict[str, Any] = {
        "benchmark": "planning",
        "quick": args.quick,
        "budget_s_per_instance": args.budget,
        "seeds_per_instance": args.seeds,
        "processes": args.processes,
        "pyvrp_reference": args.compare_with,
        "targets": {
            "chao": "mean gap <= 1%, best-known reached on >= 60%",
            "toptw_cordeau": "mean gap <= 3% (pr01-pr10, m = 1..4)",
            "optw_solomon": ">= 90% of proven optima on average (mean score ratio)",
            "realistic": "12 units, 2,000 cells, 8 h: plan in < 30 s",
        },
        "machine": machine_facts(),
    }
    t0 = time.perf_counter()
    total = len(rows) + len(tasks)

    def write(complete: bool) -> None:
        # Rewritten after every solve, so a run that is stopped part-way is still a usable result.
        rows.sort(key=_row_key)
        loads = [r["load_1m"] for r in rows if "load_1m" in r]
        result.update({
            "complete": complete, "rows_done": len(rows), "rows_planned": total,
            "summary": build_summary(rows, reference),
            "load_1m_during": {"min": min(loads), "mean": round(statistics.fmean(loads), 2), "max": max(loads)}
            if loads else None,
            "wall_s": round(time.perf_counter() - t0, 1), "rows": rows,
        })  # fmt: skip
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        tmp.replace(out)

    if tasks:
        with mp.get_context("spawn").Pool(args.processes) as pool:
            for i, row in enumerate(pool.imap_unordered(_solve_task, tasks), 1):
                row["load_1m"] = round(os.getloadavg()[0], 2)
                rows.append(row)
                flag = "" if row["reached"] else f" gap {row['gap_pct']:.2f}%"
                print(f"[{i}/{len(tasks)}] {row['solver']} {row['set']} {row['instance']} m={row['m']}: "
                      f"{row['score']:g} / {row['ref']:g}{flag} (load {row['load_1m']})", flush=True)  # fmt: skip
                write(complete=False)
    if "realistic" in only and not args.ortools_only:
        result["realistic"] = realistic(budget=20.0)
        print("realistic:", json.dumps(result["realistic"]), flush=True)
    result["load_average_at_end"] = list(os.getloadavg())
    write(complete=True)
    print(json.dumps(result["summary"], indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
