"""Filtered list: bbox + time window + scope, 50 per page, over the store the import benchmark filled.

Windows are drawn at random (seeded): city-sized boxes (about 18 km across, around a town picked by how much
happens there) and region-sized boxes (about 220 km), each with a time window of 7, 30, 90 or 365 days
somewhere in the two years; plus the feed's default view (no box, last 30 days). Each window is listed for
several personas (scope differs: an analyst, a reporter of a team site, a commander, and an analyst of the
host-state police), first page and page 10 (following the cursor). Timed is services.list_records: query,
scope, redaction and serialisation of the 50 items, i.e. everything the API does but HTTP and JSON.

"Before" is the list code as first committed, timed on the same windows in the same database.

    python -m bench.bench_list --backend sqlite --queries 200
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import random
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

from bench import common
from bench.generate import TOWNS

DB_NAME = "store"
PERSONAS = ("unpol-analyst", "unpol-reporter", "unpol-commander", "hsp-analyst")
BEFORE_COMMIT = "3bba36670b2e218253c56cb5b11ab438d6cba1c6"
DEEP_PAGE = 10
SIZES = {"city": 0.08, "region": 1.0}
DAYS = (7, 30, 90, 365)


def _windows(count: int, seed: int, end: dt.datetime) -> list[tuple[str, Any]]:
    from sitaware.records.services import RecordFilter

    rng = random.Random(seed)
    weights = [t[4] for t in TOWNS]
    out: list[tuple[str, Any]] = []
    for number in range(count):
        kind = ("city", "region", "city", "region", "feed")[number % 5]
        if kind == "feed":
            out.append((kind, RecordFilter(since=end - dt.timedelta(days=30))))
            continue
        _, _, lat, lon, _ = rng.choices(TOWNS, weights)[0]
        half = SIZES[kind]
        lat, lon = lat + rng.uniform(-half, half) / 2, lon + rng.uniform(-half, half) / 2
        days = rng.choice(DAYS)
        until = end - dt.timedelta(days=rng.uniform(0, 730 - days))
        out.append((kind, RecordFilter(bbox=(lon - half, lat - half, lon + half, lat + half),
                                       since=until - dt.timedelta(days=days), until=until)))
    return out


def _load_before():
    """list_records as first committed (None if git or its imports are unavailable)."""
    source = subprocess.run(["git", "show", f"{BEFORE_COMMIT}:src/sitaware/records/services.py"],
                            cwd=common.REPO, capture_output=True, text=True, check=False)
    if source.returncode != 0:
        return None
    spec = importlib.util.spec_from_loader("bench_before_services", loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        exec(compile(source.stdout, "services.py@" + BEFORE_COMMIT[:8], "exec"), module.__dict__)  # noqa: S102
    except ImportError as exc:
        print(f"  (no 'before' figure: {exc})")
        return None
    return module.list_records


def _time_windows(list_records, world, windows, personas) -> dict[str, Any]:
    samples: dict[str, list[float]] = defaultdict(list)
    sizes: dict[str, list[int]] = defaultdict(list)
    for name in personas:
        actor = world.actor(name)
        for kind, flt in windows:
            started = time.perf_counter()
            page = list_records(actor, flt, limit=50)
            took = (time.perf_counter() - started) * 1000
            for key in (f"first/{kind}", "first/all", f"persona/{name}"):
                samples[key].append(took)
            sizes[f"first/{kind}"].append(len(page.items))
            cursor, number = page.next_cursor, 1
            while cursor and number < DEEP_PAGE:
                started = time.perf_counter()
                page = list_records(actor, flt, cursor=cursor, limit=50)
                took = (time.perf_counter() - started) * 1000
                cursor, number = page.next_cursor, number + 1
            if number == DEEP_PAGE:
                for key in (f"deep/{kind}", "deep/all"):
                    samples[key].append(took)
    out = {key: common.percentiles(values) for key, values in sorted(samples.items())}
    out["all"] = common.percentiles(samples["first/all"] + samples["deep/all"])
    out["items_on_first_page_mean"] = {k: round(sum(v) / len(v), 1) for k, v in sizes.items()}
    return out


def _print(label: str, stats: dict[str, Any]) -> None:
    print(f"  {label}")
    for key, value in stats.items():
        if isinstance(value, dict) and "p95_ms" in value:
            print(f"    {key:<26} n={value['n']:>5}  p50 {value['p50_ms']:>8.1f}  p95 {value['p95_ms']:>8.1f}  "
                  f"p99 {value['p99_ms']:>8.1f}  max {value['max_ms']:>8.1f} ms")


def run(backend: str, queries: int, seed: int, skip_before: bool, before_queries: int) -> dict[str, Any]:
    facts = common.machine_facts(backend)
    common.setup_django(backend, DB_NAME)
    from bench.world import ensure_world
    from sitaware.records.models import Record
    from sitaware.records.services import list_records

    world = ensure_world()
    total = Record.objects.count()
    newest = Record.objects.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
    if not total or newest is None:
        raise SystemExit("the store is empty: run `python -m bench.bench_import` first (or bench/run_all.py)")
    _analyze(backend)
    end = newest + dt.timedelta(seconds=1)
    windows = _windows(queries, seed, end)
    print(f"list benchmark on {backend}: {total:,} records, {len(windows)} windows x {len(PERSONAS)} personas "
          f"(load {facts['load_average_at_start']})")
    out: dict[str, Any] = {"benchmark": "list", "backend": backend, "machine": facts,
                           "config": {"records": total, "windows": len(windows), "personas": list(PERSONAS),
                                      "page_size": 50, "deep_page": DEEP_PAGE, "seed": seed,
                                      "box_half_degrees": SIZES, "days": DAYS}}
    _time_windows(list_records, world, windows[: max(5, len(windows) // 10)], PERSONAS)  # warm the cache
    now = _time_windows(list_records, world, windows, PERSONAS)
    _print("now:", now)
    out["now"] = now
    before = None if skip_before else _load_before()
    if before is not None:
        subset = windows[:before_queries]
        print(f"  before (first committed list code), on the first {len(subset)} windows:")
        out["before"] = _time_windows(before, world, subset, PERSONAS)
        out["now_same_windows"] = _time_windows(list_records, world, subset, PERSONAS)
        _print("before:", out["before"])
        _print("now, same windows:", out["now_same_windows"])
    out["load_average_at_end"] = list(__import__("os").getloadavg())
    return out


def _analyze(backend: str) -> None:
    """Planner statistics as a running installation has them (autovacuum on PostgreSQL, `sitaware migrate` /
    PRAGMA optimize on SQLite)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=common.BACKENDS, default="sqlite")
    parser.add_argument("--queries", type=int, default=200, help="windows (each listed for every persona)")
    parser.add_argument("--before-queries", type=int, default=40, help="windows for the before/after comparison")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--skip-before", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 windows, 10 for before/after")
    args = parser.parse_args(argv)
    if args.quick:
        args.queries, args.before_queries = min(args.queries, 20), min(args.before_queries, 10)
    result = run(args.backend, args.queries, args.seed, args.skip_before, args.before_queries)
    result["mode"] = "quick" if args.quick else "full"
    path = common.write_result("list" + ("-quick" if args.quick else ""), args.backend, result)
    print(f"results: {path.relative_to(common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
