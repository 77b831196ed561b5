"""Benchmark of the space-time permutation scan: the golden CAR case against R scanstatistics, and scaling.

Run: python -m bench.bench_scan [--quick] [--workers N]
Writes bench/results/scan.json and the results table in docs/detection.md (between the BENCH markers).
`--knox` instead times the Knox test on Chicago burglaries (bench/results/scan-knox.json, docs table).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

from bench.common import REPO, RESULTS, machine_facts

sys.path.insert(0, str(REPO / "src"))

from sitaware.analytics.detection.knox import knox_test
from sitaware.analytics.detection.scan import space_time_permutation_scan
from sitaware.analytics.detection.zones import knn_zones

CHICAGO = REPO.parent / "shared" / "data" / "crime" / "chicago_near_repeat" / "chicago_be_2016.csv"
# pointpats Knox, 99 permutations, 200 m, 7 days, on this project's machines (golden knox_chicago README).
POINTPATS_SECONDS = {1000: 0.10, 4000: 0.86, 11700: 4.55}
GOLDEN = REPO.parent / "shared" / "data" / "golden" / "scan_permutation_car"
DOC = REPO / "docs" / "detection.md"
REFERENCE_SECONDS = 4.2  # R scanstatistics 1.0.2, 999 replicates, one core (golden README)
EVENTS_PER_CELL_WEEK = 0.05


def synthetic(n_cells: int, n_weeks: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts (weeks x cells) with uneven cell rates, a seasonal wave and a planted recent cluster."""
    rng = np.random.default_rng(seed)
    coords = rng.random((n_cells, 2))
    cell_rate = rng.lognormal(0.0, 1.0, n_cells)
    cell_rate *= EVENTS_PER_CELL_WEEK / cell_rate.mean()
    season = 1.0 + 0.3 * np.sin(2 * np.pi * np.arange(n_weeks) / 52)
    rate = season[:, None] * cell_rate[None, :]
    centre = coords[0]
    near = np.argsort(((coords - centre) ** 2).sum(axis=1))[:8]
    rate[-4:, near] += 0.5  # ~16 extra cases in 8 cells over the last 4 weeks
    return rng.poisson(rate), coords


def time_it(counts: np.ndarray, zones: list[tuple[int, ...]], replicates: int, workers: int) -> dict[str, Any]:
    # CPU seconds (all threads) next to wall seconds: the project machines are shared, and under load the
    # wall clock measures the neighbours as much as this code.
    cpu, start = time.process_time(), time.perf_counter()
    result = space_time_permutation_scan(counts, zones, n_replicates=replicates, seed=1, workers=workers)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    mlc = result.most_likely
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "n_zones": result.n_zones,
        "n_cases": result.n_cases,
        "mlc_zone": mlc.zone,
        "mlc_window": mlc.window,
        "mlc_score": round(mlc.score, 6),
        "mlc_p_value": mlc.p_value,
    }


def golden(workers: int) -> dict[str, Any]:
    counts = np.loadtxt(GOLDEN / "counts.csv", delimiter=",", dtype=np.int64)
    zones = [[int(x) - 1 for x in line.split()] for line in (GOLDEN / "zones.txt").read_text().splitlines()]
    runs = {w: [time_it(counts, zones, 999, w) for _ in range(3)] for w in sorted({1, workers})}
    out: dict[str, Any] = {"reference_seconds": REFERENCE_SECONDS}
    for w, samples in runs.items():
        best = min(s["seconds"] for s in samples)
        out[f"workers_{w}"] = {
            **samples[0],
            "seconds_best_of_3": best,
            "cpu_seconds_best_of_3": min(s["cpu_seconds"] for s in samples),
            "speedup": round(REFERENCE_SECONDS / best, 1),
        }
    return out


def scaling(sizes: list[tuple[int, int]], replicates: int, workers: int, max_k: int) -> list[dict[str, Any]]:
    rows = []
    for n_cells, n_weeks in sizes:
        counts, coords = synthetic(n_cells, n_weeks, seed=n_cells + n_weeks)
        start = time.perf_counter()
        zones = knn_zones(coords, max_k)
        zone_seconds = time.perf_counter() - start
        for w in sorted({1, workers}):
            row = {"cells": n_cells, "weeks": n_weeks, "max_k": max_k, "replicates": replicates, "workers": w}
            row.update(time_it(counts, zones, replicates, w))
            row["zone_build_seconds"] = round(zone_seconds, 3)
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def markdown(payload: dict[str, Any]) -> str:
    g = payload["golden"]
    lines = [
        f"Measured {payload['machine']['taken_at']} on {payload['machine']['cpus']} x "
        f"{payload['machine']['cpu_model']} (load average at start {payload['machine']['load_average_at_start']}).",
        "",
        "| case | workers | wall seconds (best of 3) | CPU seconds | vs R scanstatistics (4.2 s, one core) |",
        "|---|---|---|---|---|",
    ]
    for key, run in g.items():
        if key.startswith("workers_"):
            lines.append(
                f"| golden CAR, 149 cells x 52 weeks, 1,409 zones, 999 replicates | {key[8:]} | "
                f"{run['seconds_best_of_3']} | {run['cpu_seconds_best_of_3']} | {run['speedup']}x faster |"
            )
    lines += [
        "",
        f"Scaling (synthetic, {EVENTS_PER_CELL_WEEK} events per cell-week, k-nearest zones k <= "
        f"{payload['scaling'][0]['max_k'] if payload['scaling'] else '-'}, all windows 1..weeks):",
        "",
        "| cells | weeks | zones | cases | replicates | workers | wall s | CPU s | load after | zone build s | MLC p |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in payload["scaling"]:
        lines.append(
            f"| {r['cells']:,} | {r['weeks']} | {r['n_zones']:,} | {r['n_cases']:,} | {r['replicates']} | "
            f"{r['workers']} | {r['seconds']} | {r['cpu_seconds']} | {r['load_average_after'][0]} | "
            f"{r['zone_build_seconds']} | {r['mlc_p_value']} |"
        )
    return "\n".join(lines)


def knox_timings() -> dict[str, Any]:
    import csv

    with CHICAGO.open() as handle:
        rows = [r for r in list(csv.reader(handle))[1:] if r[2] not in ("", "NA")]
    xy = np.array([[float(r[0]), float(r[1])] for r in rows])
    dates = np.array([r[2] for r in rows], dtype="datetime64[D]")
    out: dict[str, Any] = {"machine": machine_facts(), "runs": []}
    for n in POINTPATS_SECONDS:
        samples = []
        for _ in range(3):
            cpu, start = time.process_time(), time.perf_counter()
            result = knox_test(xy[:n], dates[:n], 200, 7, n_permutations=99, seed=1)
            samples.append((time.perf_counter() - start, time.process_time() - cpu))
        wall = min(s[0] for s in samples)
        out["runs"].append(
            {
                "events": n,
                "seconds_best_of_3": round(wall, 3),
                "cpu_seconds_best_of_3": round(min(s[1] for s in samples), 3),
                "pointpats_seconds": POINTPATS_SECONDS[n],
                "statistic": result.statistic,
                "expected": round(result.expected, 2),
            }
        )
    return out


def knox_markdown(payload: dict[str, Any]) -> str:
    lines = [
        f"Knox test, 200 m / 7 days, 99 permutations, first n dated events of 2016; measured "
        f"{payload['machine']['taken_at']} (load average {payload['machine']['load_average_at_start']}).",
        "",
        "| events | statistic | expected | wall s (best of 3) | CPU s | pointpats Knox s |",
        "|---|---|---|---|---|---|",
    ]
    for r in payload["runs"]:
        lines.append(
            f"| {r['events']:,} | {r['statistic']:,} | {r['expected']:,} | {r['seconds_best_of_3']} | "
            f"{r['cpu_seconds_best_of_3']} | {r['pointpats_seconds']} |"
        )
    return "\n".join(lines)


def write_doc(table: str, section: str = "scan") -> None:
    begin, end = f"<!-- BENCH:{section}:begin -->", f"<!-- BENCH:{section}:end -->"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else f"# Detection\n\n{begin}\n{end}\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    DOC.write_text(f"{head}{begin}\n{table}\n{end}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes only (smoke run)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--replicates", type=int, default=999)
    parser.add_argument("--max-k", type=int, default=10)
    parser.add_argument("--knox", action="store_true", help="time the Knox test instead")
    args = parser.parse_args()
    if args.knox:
        knox = knox_timings()
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "scan-knox.json").write_text(json.dumps(knox, indent=2) + "\n", encoding="utf-8")
        write_doc(knox_markdown(knox), "knox")
        print(json.dumps(knox["runs"]))
        return
    sizes = [(500, 52), (500, 104)] if args.quick else [(c, w) for c in (500, 2000, 10000) for w in (52, 104)]
    payload: dict[str, Any] = {"machine": machine_facts()}
    payload["golden"] = golden(args.workers) if GOLDEN.exists() else {"skipped": f"{GOLDEN} not found"}
    print(json.dumps(payload["golden"]), flush=True)
    payload["scaling"] = scaling(sizes, args.replicates, args.workers, args.max_k)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "scan-quick.json" if args.quick else "scan.json"
    (RESULTS / name).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if not args.quick and "skipped" not in payload["golden"]:
        write_doc(markdown(payload))


if __name__ == "__main__":
    main()
