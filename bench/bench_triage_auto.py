"""Automatic triage on arrival, measured end to end: items stored through intake queue their triage task, and
django-tasks-db's own worker (one process) runs them.

    .venv/bin/python bench/bench_triage_auto.py [--items 300] [--out bench/results/triage_auto.json]

Reports: the intake cost per item with triage switched off and on (what queueing adds), the worker's items per
second, and per item the delay from arrival (task queued) to triage done (task finished) when a burst arrives
at once. A fresh SQLite database under SITAWARE_BENCH_DIR (or /tmp), or DATABASE_URL. Reads ../shared/data
(UCDP gazetteer, GeoVirus texts) like bench_triage.py. The machine's load average is recorded with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * q) - 1)]


def run(n: int) -> dict[str, Any]:
    base = os.environ.get("SITAWARE_BENCH_DIR") or tempfile.gettempdir()
    Path(base).mkdir(parents=True, exist_ok=True)
    from bench.bench_triage import _bench_texts, django_store

    roles = (("otto", "oversight_officer"), ("adam", "administrator"), ("sam", "supervisor"))
    _, people, source = django_store("sw-triage-auto-", roles, base)
    from django.conf import settings
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from sitaware.ingest import services as ingest
    from sitaware.ingest.adapters.base import Incoming
    from sitaware.oversight import services as oversight
    from sitaware.triage import jobs, services
    from sitaware.triage.models import TriageResult

    texts = _bench_texts(2 * n + 1)
    services.resources()  # load the models and the gazetteer before timing, as a running worker has them

    def store(offset: int, on: bool) -> list[float]:
        oversight.set_enabled(people["adam" if on else "otto"], services.COMPONENT_KEY, on, reason="bench")
        costs = []
        for i in range(n):
            title, text = texts[offset + i]
            start = time.perf_counter()
            ingest.store_item(source, Incoming(external_id=f"{'on' if on else 'off'}{i}", raw=text.encode(),
                                               content_type="text/plain", title=title[:200], text=text))
            costs.append(time.perf_counter() - start)
        return costs

    off = store(0, False)
    assert not DBTaskResult.objects.filter(task_path=jobs.triage_item_task.module_path).exists()
    on = store(n, True)
    load_before = os.getloadavg()
    wall = time.perf_counter()
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    wall = time.perf_counter() - wall
    tasks = list(DBTaskResult.objects.filter(task_path=jobs.triage_item_task.module_path))
    done = [t for t in tasks if t.status == "SUCCESSFUL"]
    delays = [(t.finished_at - t.enqueued_at).total_seconds() for t in done]
    runs = [(t.finished_at - t.started_at).total_seconds() for t in done]
    return {
        "items": n,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "intake_ms_per_item_triage_off": {"median": round(1000 * statistics.median(off), 2),
                                          "p95": round(1000 * _pct(off, 0.95), 2)},
        "intake_ms_per_item_triage_on": {"median": round(1000 * statistics.median(on), 2),
                                         "p95": round(1000 * _pct(on, 0.95), 2)},
        "worker": {"tasks": len(tasks), "succeeded": len(done), "triaged": TriageResult.objects.count(),
                   "wall_s": round(wall, 1), "items_per_s": round(len(done) / wall, 1),
                   "task_run_ms_median": round(1000 * statistics.median(runs), 1),
                   "task_run_ms_p95": round(1000 * _pct(runs, 0.95), 1)},
        "burst_arrival_to_triaged_s": {"median": round(statistics.median(delays), 1),
                                       "p95": round(_pct(delays, 0.95), 1), "max": round(max(delays), 1)},
        "load_average_1_5_15_before_worker": [round(x, 2) for x in load_before],
        "load_average_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "triage_auto.json"))
    args = parser.parse_args()
    result = run(args.items)
    print(json.dumps(result, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
