"""Bulk import: generated records through bulk_upsert, end to end (validation, H3 cells, revisions, change log).

First a sample of the same rows is written three ways into the emptied database, so the ratios hold on any
machine: the ORM's bulk_create of bare records (validation and H3 but no revisions and no change log), the
first committed bulk_upsert (the "before"), and today's. Then the full run fills the database (kept for the
list benchmark), re-imports a sample to time the idempotent path, and verifies the whole chain.

    python -m bench.bench_import --backend sqlite --records 1000000
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import common
from bench.generate import RecordGenerator, split_by_organisation

DB_NAME = "store"
# The first version of bulk_upsert, as committed before this work, is the "before" figure.
BEFORE_COMMIT = "3bba36670b2e218253c56cb5b11ab438d6cba1c6"


def _empty_tables() -> None:
    """Remove records, revisions and the change log (the world stays), as if the store were new."""
    from django.db import connection

    from sitaware.core.models import AccessEvent, ChainHead, ChangeEntry
    from sitaware.records.models import Record, RecordRevision

    tables = [m._meta.db_table for m in (RecordRevision, Record, ChangeEntry, AccessEvent)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # CASCADE: other apps (intake, alerts, plans, indicators) hold references to records.
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f'DELETE FROM "{table}"')
    ChainHead.objects.update(seq=0, last_hash="0" * 64)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM")
    else:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def _load_before() -> Callable[..., Any] | None:
    """bulk_upsert as first committed; None (with a note) if git or its imports are not available."""
    source = subprocess.run(["git", "show", f"{BEFORE_COMMIT}:src/sitaware/records/bulk.py"], cwd=common.REPO,
                            capture_output=True, text=True, check=False)
    if source.returncode != 0:
        print(f"  (no 'before' figure: {source.stderr.strip()[:200]})")
        return None
    spec = importlib.util.spec_from_loader("bench_before_bulk", loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        exec(compile(source.stdout, "bulk.py@" + BEFORE_COMMIT[:8], "exec"), module.__dict__)  # noqa: S102
    except ImportError as exc:
        print(f"  (no 'before' figure: the old module no longer imports: {exc})")
        return None
    return module.bulk_upsert


def _orm_anchor(actor, rows) -> int:
    """The naive way without the history: validate, build models, bulk_create. No revisions, no log."""
    from django.db import transaction
    from django.utils import timezone

    from sitaware.records.models import Record
    from sitaware.records.services import _Context, build_record, validate_create

    ctx = _Context.for_actor(actor)
    now = timezone.now()
    built = [build_record(ctx, validate_create(payload), now=now) for _, payload in rows]
    with transaction.atomic():
        Record.objects.bulk_create(built, batch_size=1000)
    return len(built)


def _batches(total: int, batch: int, seed: int):
    """(organisation, rows) batches, the organisations interleaved in proportion to their share."""
    shares = {org: count for org, count in split_by_organisation(total).items() if count}
    generators = {org: RecordGenerator(org, seed=seed) for org in shares}
    done = dict.fromkeys(shares, 0)
    while pending := [org for org in shares if done[org] < shares[org]]:
        org = min(pending, key=lambda o: done[o] / shares[o])
        size = min(batch, shares[org] - done[org])
        yield org, list(generators[org].rows(done[org], size))
        done[org] += size


def _run_sample(label: str, fn: Callable[..., Any], world, sample: int, batch: int, seed: int) -> dict[str, Any]:
    _empty_tables()
    elapsed = 0.0
    written = 0
    for org, rows in _batches(sample, batch, seed):
        actor = world.actor(f"{org}-importer")
        started = time.perf_counter()
        outcome = fn(actor, rows)
        elapsed += time.perf_counter() - started
        written += outcome if isinstance(outcome, int) else outcome.created
    rate = written / elapsed if elapsed else 0.0
    print(f"  {label:<28} {written:>9,} records in {elapsed:7.2f} s = {rate:>8,.0f} records/s")
    return {"records": written, "seconds": round(elapsed, 3), "records_per_s": round(rate)}


def run(backend: str, records: int, batch: int, sample: int, seed: int, skip_before: bool) -> dict[str, Any]:
    common.reset_database(backend, DB_NAME)
    facts = common.machine_facts(backend)
    common.setup_django(backend, DB_NAME)
    from bench.world import ensure_world
    from sitaware.core import changelog
    from sitaware.core.models import ChangeEntry
    from sitaware.records.bulk import bulk_upsert
    from sitaware.records.models import Record, RecordRevision

    world = ensure_world()
    print(f"import benchmark on {backend}: {records:,} records in batches of {batch:,} "
          f"(load {facts['load_average_at_start']})")
    out: dict[str, Any] = {"benchmark": "import", "backend": backend, "machine": facts,
                           "config": {"records": records, "batch": batch, "sample": sample, "seed": seed}}

    print(f"same {sample:,} rows into an empty store, three ways:")
    samples: dict[str, Any] = {"orm_bulk_create_without_history": _run_sample(
        "ORM bulk_create, no history", _orm_anchor, world, sample, batch, seed)}
    before = None if skip_before else _load_before()
    if before is not None:
        samples["bulk_upsert_before"] = _run_sample("bulk_upsert (before)", before, world, sample, batch, seed)
    samples["bulk_upsert"] = _run_sample("bulk_upsert (now)", bulk_upsert, world, sample, batch, seed)
    anchor = samples["orm_bulk_create_without_history"]["records_per_s"]
    for value in samples.values():
        value["vs_orm_anchor"] = round(value["records_per_s"] / anchor, 2) if anchor else None
    out["sample"] = samples

    print(f"full run: {records:,} records")
    _empty_tables()
    batch_seconds: list[float] = []
    progress: list[dict[str, Any]] = []
    generated = 0.0
    written = 0
    errors = 0
    wall_start = time.perf_counter()
    step_written, step_elapsed = 0, 0.0
    generate_start = time.perf_counter()
    for org, rows in _batches(records, batch, seed):
        generated += time.perf_counter() - generate_start
        actor = world.actor(f"{org}-importer")
        started = time.perf_counter()
        result = bulk_upsert(actor, rows)
        took = time.perf_counter() - started
        batch_seconds.append(took)
        written += result.created
        errors += len(result.errors)
        step_written += result.created
        step_elapsed += took
        if step_written >= max(records // 10, batch):
            rate = step_written / step_elapsed
            progress.append({"records_so_far": written, "records_per_s": round(rate)})
            print(f"  {written:>10,} written; last {step_written:,} at {rate:,.0f} records/s "
                  f"(load {os.getloadavg()[0]:.1f})")
            step_written, step_elapsed = 0, 0.0
        generate_start = time.perf_counter()
    wall = time.perf_counter() - wall_start
    in_bulk = sum(batch_seconds)
    full = {
        "records": written,
        "row_errors": errors,
        "seconds_in_bulk_upsert": round(in_bulk, 2),
        "records_per_s": round(written / in_bulk),
        "seconds_generating_rows": round(generated, 2),
        "wall_seconds_including_generation": round(wall, 2),
        "batch_seconds_p50": round(statistics.median(batch_seconds), 3),
        "batch_seconds_max": round(max(batch_seconds), 3),
        "progress": progress,
        "load_average_at_end": list(os.getloadavg()),
    }
    print(f"  => {written:,} records in {in_bulk:.1f} s inside bulk_upsert = {full['records_per_s']:,} records/s "
          f"(target 50,000 on SQLite); wall with row generation {wall:.1f} s")

    reimport = min(sample, records)
    started = time.perf_counter()
    unchanged = 0
    for org, rows in _batches(reimport, batch, seed):
        unchanged += bulk_upsert(world.actor(f"{org}-importer"), rows).unchanged
    took = time.perf_counter() - started
    full["reimport"] = {"records": reimport, "unchanged": unchanged, "seconds": round(took, 2),
                        "records_per_s": round(reimport / took)}
    print(f"  re-import of {reimport:,} existing rows: {unchanged:,} unchanged at {reimport / took:,.0f} rows/s")

    started = time.perf_counter()
    verdict = changelog.verify()
    took = time.perf_counter() - started
    counts = (Record.objects.count(), RecordRevision.objects.count(), ChangeEntry.objects.count())
    full["verify"] = {"ok": verdict.ok, "checked": verdict.checked, "seconds": round(took, 2),
                      "entries_per_s": round(verdict.checked / took) if took else None}
    full["counts"] = {"records": counts[0], "revisions": counts[1], "change_entries": counts[2]}
    full["database_bytes"] = _database_bytes(backend)
    print(f"  chain verify: ok={verdict.ok}, {verdict.checked:,} entries in {took:.1f} s; "
          f"records/revisions/entries = {counts}")
    if not verdict.ok or counts != (written, written, written):
        raise SystemExit(f"import benchmark failed its own checks: {verdict}, counts {counts}")
    out["full"] = full
    return out


def _database_bytes(backend: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if backend == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
            return int(cursor.fetchone()[0])
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        return int(pages * cursor.fetchone()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=common.BACKENDS, default="sqlite")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000, help="rows per bulk_upsert call (one transaction)")
    parser.add_argument("--sample", type=int, default=20_000, help="rows for the three-way comparison")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-before", action="store_true", help="leave out the first-commit comparison")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,000 records, 5,000 sample")
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.sample = min(args.records, 20_000), min(args.sample, 5_000)
    result = run(args.backend, args.records, args.batch, min(args.sample, args.records), args.seed, args.skip_before)
    result["mode"] = "quick" if args.quick else "full"
    path = common.write_result("import" + ("-quick" if args.quick else ""), args.backend, result)
    print(f"results: {path.relative_to(common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
