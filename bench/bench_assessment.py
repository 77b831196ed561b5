"""Indicators at scale: a full rebuild of 200 computed indicators x 36 monthly periods x ~20 areas over a
store of 1,000,000 records, then an incremental refresh after 1,000 new records (issue 7's targets: rebuild
under 5 minutes on SQLite and 2 on PostgreSQL, refresh under 5 s).

The store is filled through the project's own bulk path (`records.bulk.bulk_upsert`, with revisions and the
change log, as `bench_import` does), so the incremental refresh sees the new records exactly as it would in
production. The 1,000 new records are today's reports (occurred in the last 30 days), as a day's intake is.

    python -m bench.bench_assessment --backend sqlite                 # 1,000,000 records (builds the store once)
    python -m bench.bench_assessment --backend sqlite --records 20000 # smoke run
    python -m bench.bench_assessment --backend sqlite --build-only    # only fill the store

The store is reusable by other benchmarks: `build_store(backend, records)` (importable) fills the database
named `assessment-<records>`: SQLite at `$SITAWARE_BENCH_DIR/assessment-<records>-<backend>/sitaware.sqlite3`,
PostgreSQL `sw_bench_assessment_<records>`; `store_ready()` says whether it is complete. The store's records are
made by `bench.generate.RecordGenerator` (seed 7, 36 months back from yesterday), for the world of `bench.world`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench import common
from bench.generate import RecordGenerator, split_by_organisation

DAYS = 36 * 31  # 36 monthly periods of history
SEED = 7
BATCH = 5000
MARKER = "assessment-store.json"


def store_name(records: int) -> str:
    return f"assessment-{records}"


def _marker(backend: str, records: int):
    return common.data_dir(backend, store_name(records)) / MARKER


def store_ready(backend: str, records: int) -> bool:
    """Whether a complete store of `records` records exists (the marker is written after the last batch)."""
    return _marker(backend, records).exists()


def batches(total: int, *, seed: int = SEED, days: int = DAYS, first: int = 0, end: Any = None,
            batch: int = BATCH) -> Iterator[tuple[str, list[tuple[int, dict[str, Any]]]]]:
    """(organisation, rows) batches, the organisations interleaved in proportion to their share."""
    shares = {org: count for org, count in split_by_organisation(total).items() if count}
    generators = {org: RecordGenerator(org, seed=seed, days=days, end=end) for org in shares}
    done = dict.fromkeys(shares, 0)
    while pending := [org for org in shares if done[org] < shares[org]]:
        org = min(pending, key=lambda o: done[o] / shares[o])
        size = min(batch, shares[org] - done[org])
        yield org, list(generators[org].rows(first + done[org], size))
        done[org] += size


def build_store(backend: str, records: int, *, log=print) -> dict[str, Any]:
    """Fill (or find) the store of `records` generated records through bulk_upsert; Django is set up on it
    when this returns. Returns facts about the build (empty when the store already existed)."""
    name = store_name(records)
    if store_ready(backend, records):
        common.setup_django(backend, name)
        log(f"store {name} on {backend} already built ({_marker(backend, records)})")
        return json.loads(_marker(backend, records).read_text())
    common.reset_database(backend, name)
    common.setup_django(backend, name)
    from bench.world import ensure_world
    from sitaware.records.bulk import bulk_upsert

    world = ensure_world()
    log(f"building store {name} on {backend}: {records:,} records (load {os.getloadavg()[0]:.1f})")
    started = time.perf_counter()
    written = 0
    next_report = max(records // 20, BATCH)
    for org, rows in batches(records):
        written += bulk_upsert(world.actor(f"{org}-importer"), rows).created
        if written >= next_report:
            took = time.perf_counter() - started
            log(f"  {written:>10,} written in {took:6.0f} s ({written / took:,.0f}/s, load {os.getloadavg()[0]:.1f})")
            next_report += max(records // 20, BATCH)
    facts = {"records": written, "seconds": round(time.perf_counter() - started, 1),
             "load_average_at_end": list(os.getloadavg()), "built_at": common.machine_facts()["taken_at"]}
    _marker(backend, records).write_text(json.dumps(facts) + "\n")
    log(f"store built: {written:,} records in {facts['seconds']:.0f} s")
    return facts


# ---------------------------------------------------------------- the indicators


def indicator_specs(count: int = 200) -> list[tuple[str, dict[str, Any]]]:
    """`count` (name, formula) pairs covering every formula type, over varied filters, as a plan holds."""
    from bench.generate import leaf_categories

    leaves = [code for code, _kind in leaf_categories()]
    parents = sorted({code.rsplit(".", 1)[0] for code in leaves if "." in code})
    kinds = ["incident", "event", "activity"]
    statuses = [["verified", "published"], ["published"], ["verified", "published", "archived"]]
    specs: list[tuple[str, dict[str, Any]]] = []
    i = 0
    while len(specs) < count:
        leaf = leaves[i % len(leaves)]
        parent = parents[i % len(parents)]
        kind = kinds[i % len(kinds)]
        status = statuses[i % len(statuses)]
        match i % 8:
            case 0:
                specs.append((f"Records of {leaf}", {"type": "count", "filter": {"categories": [leaf]}}))
            case 1:
                specs.append((f"Records under {parent}", {"type": "count", "filter": {"categories": [parent],
                                                                                      "statuses": status}}))
            case 2:
                specs.append((f"{kind} records", {"type": "count", "filter": {"kinds": [kind], "statuses": status}}))
            case 3:
                specs.append((f"Fatalities, {parent}", {"type": "sum", "field": "fatalities",
                                                         "filter": {"categories": [parent]}}))
            case 4:
                specs.append((f"Civilians injured, {kind}", {"type": "sum", "field": "casualties.civilians.injured",
                                                            "filter": {"kinds": [kind]}}))
            case 5:
                specs.append((f"Reporting delay, {parent}", {"type": "duration", "statistic": "median",
                                                              "unit": "hours", "filter": {"categories": [parent]}}))
            case 6:
                specs.append((f"Share of {leaf} verified", {
                    "type": "ratio", "factor": 100,
                    "numerator": {"type": "count", "filter": {"categories": [leaf], "statuses": ["verified"]}},
                    "denominator": {"type": "count", "filter": {"categories": [leaf]}}}))
            case 7:
                specs.append((f"Sensitive {kind} records", {"type": "count", "filter": {
                    "kinds": [kind], "sensitivity_max": 1, "statuses": status}}))
        i += 1
    return specs


def ensure_indicators(count: int) -> list[Any]:
    """A framework of `count` active computed monthly indicators broken down by area (made once per store)."""
    from django.contrib.auth import get_user_model

    from sitaware.assessment import services
    from sitaware.assessment.models import Indicator, ResultsFramework
    from sitaware.core.scope import actor_for

    fw = ResultsFramework.objects.filter(code="bench", version=1).first()
    if fw is not None and fw.indicators.count() == count:
        return list(fw.indicators.order_by("code"))
    if fw is not None:
        raise SystemExit(f"the store holds framework bench with {fw.indicators.count()} indicators, not {count}: "
                         "use the same --indicators as before")
    user = get_user_model().objects.get(username="unpol-commander")
    actor = actor_for(user)
    fw = services.create_framework(actor, {"code": "bench", "title": "Benchmark plan"})
    objective = services.add_objective(actor, fw.pk, {"code": "O1", "title": "Security"})
    outcome = services.add_outcome(actor, objective.pk, {"code": "OC1", "title": "Fewer incidents"})
    output = services.add_output(actor, outcome.pk, {"code": "OP1", "title": "Patrols"})
    for number, (name, formula) in enumerate(indicator_specs(count), start=1):
        ind = services.create_indicator(actor, fw.pk, {
            "output_id": output.pk, "code": f"I{number:03d}", "name": name, "unit": "records",
            "frequency": "monthly", "disaggregation": ["area"], "data_source": "computed",
            "baseline_value": 10, "baseline_period": "2024", "target_value": 5, "target_period": "2026",
            "direction": "decrease", "owner": user.username, "formula": formula})
        services.activate_indicator(actor, ind.pk)
    return list(Indicator.objects.filter(framework=fw).order_by("code"))


# ---------------------------------------------------------------- the measurement


def _months(count: int) -> tuple[Any, Any]:
    """The last `count` whole and current months: [first day, first day of next month)."""
    import datetime as dt

    today = dt.date.today()
    end = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    start = end
    for _ in range(count):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return start, end


def _rebuild(actor: Any, indicators: list[Any], start: Any, end: Any, backend: str) -> dict[str, Any]:
    from sitaware.assessment import engine, values
    from sitaware.assessment.models import IndicatorValue

    before = IndicatorValue.objects.filter(indicator__in=indicators).count()
    started = time.perf_counter()
    cutoff = engine.current_seq()
    plans = values.plan(actor, indicators, cutoff, span=(start, end))
    assert not plans.failed, plans.failed
    stages: dict[str, float] = {}

    def progress(stage: str, count: int) -> None:
        stages[stage] = time.perf_counter() - started
        if stage == "computed" and count % 50 == 0:
            print(f"  computed {count:>3} in {stages[stage]:6.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)

    outcomes = values.run(actor, plans.works, cutoff, progress)
    failures = [o for o in outcomes if isinstance(o, Exception)]
    assert not failures, failures[:3]
    took = time.perf_counter() - started
    created = sum(o.created for o in outcomes)
    stored = IndicatorValue.objects.filter(indicator__in=indicators).count()
    out = {"seconds": round(took, 1), "indicators_rebuilt": len(indicators), "values_before": before,
           "planned_read_and_computed_s": round(stages["computed"], 1), "stored_s": round(took - stages["computed"], 1),
           "values_stored": stored, "values_created": created, "load_average_at_end": list(os.getloadavg()),
           "target_s": 300 if backend == "sqlite" else 120}
    print(f"  => full rebuild of {len(indicators)} indicators {took:.1f} s (read and computed "
          f"{stages['computed']:.1f} s, stored {took - stages['computed']:.1f} s), {created:,} values created of "
          f"{stored:,} (target {out['target_s']} s)")
    return out


def run(backend: str, records: int, count: int, new_records: int, store: dict[str, Any]) -> dict[str, Any]:
    import datetime as dt

    from bench.world import ensure_world
    from sitaware.assessment import jobs, values
    from sitaware.assessment.models import IndicatorValue
    from sitaware.core.scope import system_actor
    from sitaware.records.bulk import bulk_upsert
    from sitaware.records.models import Record

    facts = common.machine_facts(backend)
    world = ensure_world()
    out: dict[str, Any] = {"benchmark": "assessment", "backend": backend, "machine": facts, "store": store,
                           "config": {"records": records, "indicators": count, "months": 36,
                                      "breakdown": "area (admin1)", "new_records": new_records}}
    started = time.perf_counter()
    indicators = ensure_indicators(count)
    out["setup_seconds"] = round(time.perf_counter() - started, 1)
    total_records = Record.objects.count()
    areas = Record.objects.values("admin1").distinct().count()
    print(f"assessment benchmark on {backend}: {total_records:,} records, {len(indicators)} indicators x 36 months "
          f"x {areas} areas (load {os.getloadavg()[0]:.1f})")
    actor = system_actor("bench")
    start, end = _months(36)
    # The product's full rebuild (`sitaware indicators recompute --from --to`): every indicator planned, then
    # computed from one read of the records and stored together. Measured twice: from nothing stored (every value
    # created and logged: the costly case, as after a formula change) and again at once (every value confirmed).
    from sitaware.assessment.models import ComputeWatermark

    ComputeWatermark.objects.filter(indicator__in=indicators).delete()
    IndicatorValue.objects.filter(indicator__in=indicators).delete()
    for label in ("full_rebuild", "full_rebuild_again"):
        out[label] = _rebuild(actor, indicators, start, end, backend)
        out[label].update(records=total_records, areas=areas)

    # One indicator alone, as a user asks for it in the API (its measures' records only).
    single = []
    for ind in indicators[:8]:
        t = time.perf_counter()
        values.compute(actor, ind, start, end)
        single.append(time.perf_counter() - t)
    out["one_indicator_rebuild"] = {"indicators": len(single), "p50_s": round(statistics.median(single), 3),
                                    "max_s": round(max(single), 3)}
    print(f"  => one indicator alone: p50 {statistics.median(single):.2f} s, max {max(single):.2f} s")

    # A day's intake: `new_records` reports of the last 30 days, through the same bulk path.
    started = time.perf_counter()
    # New ids and contents on every run against the same store (numbers above any earlier run's).
    seed = int(time.time())
    written = 0
    for org, rows in batches(new_records, seed=seed, days=30, first=10_000_000 + seed % 10**6 * 10**4,
                             batch=new_records):
        written += bulk_upsert(world.actor(f"{org}-importer"), rows).created
    assert written == new_records, f"{written} new records written, not {new_records}"
    out["new_records_write_seconds"] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    summary = jobs.refresh_all(Indicator_qs(indicators))
    refresh = time.perf_counter() - started
    out["incremental_refresh"] = {"seconds": round(refresh, 2), "refreshed": summary.refreshed,
                                  "per_indicator_mean_s": round(refresh / max(1, len(indicators)), 3),
                                  "current": summary.current, "failed": len(summary.failed),
                                  "load_average_at_end": list(os.getloadavg()), "target_s": 5}
    print(f"  => refresh after {new_records:,} new records: {refresh:.2f} s for {summary.refreshed} indicators "
          f"(target 5 s; load {os.getloadavg()[0]:.1f})")
    started = time.perf_counter()
    again = jobs.refresh_all(Indicator_qs(indicators))
    out["refresh_nothing_new_seconds"] = round(time.perf_counter() - started, 2)
    assert again.refreshed == 0, again

    # The refreshed figures are what a full rebuild gives (checked on a sample: reproduce recomputes all).
    sample = indicators[:: max(1, len(indicators) // 4)][:4]
    started = time.perf_counter()
    mismatches = {ind.code: len(values.reproduce(ind)) for ind in sample}
    out["check"] = {"indicators": len(sample), "mismatching": {k: v for k, v in mismatches.items() if v},
                    "seconds": round(time.perf_counter() - started, 1)}
    print(f"  incremental = full on {len(sample)} indicators: {not out['check']['mismatching']}")
    out["taken_at_end"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return out


def Indicator_qs(indicators: list[Any]) -> Any:
    from sitaware.assessment.models import Indicator

    return Indicator.objects.filter(pk__in=[i.pk for i in indicators])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=common.BACKENDS, default="sqlite")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--indicators", type=int, default=200)
    parser.add_argument("--new-records", type=int, default=1000)
    parser.add_argument("--build-only", action="store_true", help="only fill the store (or find it built)")
    args = parser.parse_args(argv)
    facts = build_store(args.backend, args.records)
    if args.build_only:
        return 0
    result = run(args.backend, args.records, args.indicators, args.new_records, facts)
    suffix = "" if args.records == 1_000_000 else f"-{args.records}"
    path = common.write_result("assessment" + suffix, args.backend, result)
    print(f"results: {path.relative_to(common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
