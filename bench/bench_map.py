"""The map with 100,000 records in scope (issue 3): `/map/data` time and size per view, and the first map render
in headless Chromium.

Server side, the view function itself is timed (query, aggregation in SQL, JSON), called with a request as the
browser sends it, for several personas and for views a duty officer uses: the whole country, a region, a city,
a neighbourhood close enough for points, and each of them panned by half its width. Targets: 300 ms and
200 kB an answer. The browser part serves the ASGI app with uvicorn, signs a persona in and measures, in a
fresh profile (nothing cached), the time from navigation to the first map data drawn (the status line says
how many records are shown); target 1.5 s.

It reads a store made by `sitaware demo --records 100000` (default /tmp/sw-h4-perf) and works on a copy, so the
store is not changed (signing in writes a session):

    python -m bench.bench_map --source /tmp/sw-h4-perf --repeat 3

On PostgreSQL the demo scenario is loaded once into the database `sw_bench_map` (drop it when done):

    python -m bench.bench_map --backend postgresql --records 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import common

DEMO_STORE = Path(os.environ.get("SITAWARE_DEMO_DIR") or Path(tempfile.gettempdir()) / "sw-h4-perf")
TARGET_MS = 300
TARGET_BYTES = 200_000
TARGET_RENDER_MS = 1500
PERSONAS = ("unpol.analyst", "unpol.reporter.bria", "hsp.analyst")
# (name, centre lon, centre lat, half width in degrees, zoom): Bangui and the country around it.
VIEWS = (
    ("country z6", 20.5, 6.5, 7.0, 6.0),
    ("region z8", 18.6, 4.5, 1.1, 8.0),
    ("city z11", 18.56, 4.37, 0.12, 11.0),
    ("neighbourhood z14 (points)", 18.555, 4.365, 0.015, 14.0),
)
CHROMIUM = os.environ.get("SITAWARE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]


def prepare_postgresql(records: int) -> None:
    """The demo scenario with `records` records in the benchmark's own PostgreSQL database (made once, reused)."""
    import psycopg

    name = common.pg_database("map")
    with psycopg.connect(f"{common.PG_URL}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    common.setup_django("postgresql", "map")
    from django.core.management import call_command

    from sitaware.records.models import Record

    if Record.objects.count() < records:
        print(f"loading the demo scenario with {records:,} records into {name} (once)")
        call_command("demo", "--records", str(records), "--reset", verbosity=0)


def prepare(source: Path, work: Path) -> None:
    """A private copy of the demo store (the copy is reused by later runs)."""
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "sitaware.sqlite3").exists():
        shutil.copy2(source / "sitaware.sqlite3", work / "sitaware.sqlite3")
    if (source / "secret_key").exists() and not (work / "secret_key").exists():
        shutil.copy2(source / "secret_key", work / "secret_key")
    os.environ.update({"SITAWARE_DATA_DIR": str(work), "DJANGO_SETTINGS_MODULE": "sitaware.settings",
                       "SITAWARE_INPROCESS_WORKER": "0", "SITAWARE_LOG_LEVEL": "WARNING"})
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(common.REPO / "src"))
    import django

    django.setup()


def _views() -> list[tuple[str, str, float]]:
    """Each view and the same view panned east by half its width: (name, bbox, zoom)."""
    out = []
    for name, lon, lat, half, zoom in VIEWS:
        for label, shift in (("", 0.0), (" panned", half)):
            box = (lon - half + shift, lat - half * 0.6, lon + half + shift, lat + half * 0.6)
            out.append((name + label, ",".join(f"{v:.5f}" for v in box), zoom))
    return out


def server_side(repeat: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    from sitaware.core.scope import actor_for
    from sitaware.records import services as records
    from sitaware.web import views

    factory = RequestFactory()
    users = {u.username: u for u in get_user_model().objects.filter(username__in=PERSONAS)}
    results: list[dict[str, Any]] = []
    for persona in PERSONAS:
        user = users[persona]
        in_scope = records.scoped_records(actor_for(user)).count()
        for name, bbox, zoom in _views():
            samples, body = [], b""
            for _ in range(repeat + 1):  # the first call warms the page cache and is not counted
                request = factory.get("/map/data", {"bbox": bbox, "zoom": f"{zoom:.2f}"})
                request.user = user
                started = time.perf_counter()
                response = views.map_data(request)
                samples.append((time.perf_counter() - started) * 1000)
                body = response.content
            samples = samples[1:]
            data = json.loads(body)
            row = {
                "persona": persona, "records_in_scope": in_scope, "view": name, "bbox": bbox, "zoom": zoom,
                "mode": data.get("mode"), "total": data.get("total"), "truncated": data.get("truncated"),
                "bytes": len(body), "gzip_bytes": len(gzip.compress(body)),
                **common.percentiles(samples),
            }
            row["within_time"] = row["p50_ms"] <= TARGET_MS
            row["within_size"] = row["bytes"] <= TARGET_BYTES
            results.append(row)
            print(f"  {persona:22} {name:34} {row['mode']:6} total={row['total']!s:>6} "
                  f"{row['bytes']:>7} B  p50 {row['p50_ms']:7.1f} ms  max {row['max_ms']:7.1f} ms")
    return {"rows": results,
            "p50_of_p50_ms": round(statistics.median(r["p50_ms"] for r in results), 1),
            "worst_p50_ms": max(r["p50_ms"] for r in results),
            "largest_bytes": max(r["bytes"] for r in results),
            "views_within_time": sum(r["within_time"] for r in results),
            "views_within_size": sum(r["within_size"] for r in results),
            "views": len(results)}


def _serve() -> tuple[Any, threading.Thread, str]:
    import uvicorn
    from django.conf import settings
    from django.core.handlers.asgi import ASGIHandler

    settings.WHITENOISE_USE_FINDERS = True  # static files from the apps, as in the browser tests
    settings.WHITENOISE_AUTOREFRESH = True
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(ASGIHandler(), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


# Where the first render's time goes: when the page, each script and the first map data arrived (responseEnd
# since navigation start, ms), when the first map data was asked for (`map_data_sent`) and how many bytes crossed
# the wire. The basemap is fetched by MapLibre's worker, so it is not in the page's resource timeline.
PHASES_JS = """() => {
  const out = {};
  const nav = performance.getEntriesByType('navigation')[0];
  out.page = Math.round(nav.responseEnd);
  for (const e of performance.getEntriesByType('resource')) {
    const name = e.name.includes('/map/data') ? 'map_data' : e.name.split('/').pop().split('?')[0];
    if (!(name in out)) {
      out[name] = Math.round(e.responseEnd); out[name + '_bytes'] = e.transferSize;
      if (name === 'map_data') out.map_data_sent = Math.round(e.startTime);
    }
  }
  return out;
}"""


def first_render(repeat: int, persona: str) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    client = Client()
    client.force_login(get_user_model().objects.get(username=persona))
    cookie = client.cookies["sessionid"].value
    server, thread, base = _serve()
    samples: list[float] = []
    statuses: list[str] = []
    phases: list[dict[str, Any]] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
                context.route("**/*", lambda route: route.abort() if not route.request.url.startswith(base)
                              else route.continue_())
                page = context.new_page()
                page.goto(f"{base}/map/")
                # The map's status line is written when the first /map/data answer has been drawn.
                page.wait_for_function("/\\d/.test(document.getElementById('map-status').textContent)",
                                       polling="raf", timeout=60_000)
                samples.append(page.evaluate("performance.now()"))
                statuses.append(page.text_content("#map-status"))
                phases.append(page.evaluate(PHASES_JS))
                context.close()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    return {"persona": persona, "statuses": statuses, "phases_ms": phases, **common.percentiles(samples),
            "within_target": statistics.median(samples) <= TARGET_RENDER_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEMO_STORE)
    parser.add_argument("--work", type=Path, default=common.DEFAULT_DATA_DIR / "map-sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--browser-only", action="store_true", help="keep the server-side figures of the last run")
    parser.add_argument("--backend", choices=common.BACKENDS, default="sqlite",
                        help="postgresql: the demo scenario in database sw_bench_map (made on first use)")
    parser.add_argument("--records", type=int, default=100_000, help="records of the PostgreSQL demo store")
    args = parser.parse_args()
    if args.backend == "postgresql":
        prepare_postgresql(args.records)
    else:
        prepare(args.source, args.work)
    from sitaware.records.models import Record

    payload: dict[str, Any] = {
        "benchmark": "map", "backend": args.backend, "machine": common.machine_facts(args.backend),
        "records": Record.objects.count(),
        "targets": {"map_data_ms": TARGET_MS, "map_data_bytes": TARGET_BYTES, "first_render_ms": TARGET_RENDER_MS},
    }
    print(f"map data over {payload['records']} records:")
    previous = common.RESULTS / f"map-{args.backend}.json"
    if args.browser_only and previous.exists():
        payload["map_data"] = json.loads(previous.read_text())["map_data"]
    else:
        payload["map_data"] = server_side(args.repeat)
    if not args.no_browser:
        print("first map render in Chromium:")
        payload["first_render"] = first_render(args.repeat, PERSONAS[0])
        print(f"  {payload['first_render']}")
    print(f"written {common.write_result('map', args.backend, payload)}")


if __name__ == "__main__":
    main()
