"""The live feed with 50 connected clients (issue 3): delay from the write to the client, over Server-Sent Events.

Serves `sitaware.asgi:application` with uvicorn (what `sitaware serve` runs) in its own process, on a fresh
database holding `--records` generated records, and opens `--clients` streams on `/live/stream`, each signed
in as its own analyst: 80 % UN Police analysts, 20 % host-state police analysts. This process then writes
records through the records services (half by each organisation, as the importers) at `--rate` per second
and every client notes when each event arrives. The delay of an event is its arrival time minus the change
log's `at` of the write (stamped before the transaction, so the figure includes the commit). Target: median
at most 1 s. The anchor, run first in the same process, is the same server with every viewer reading for itself
(web/services.GROUP_READ_SECONDS = 0): what the feed did before viewers of one scope group shared reads.

It also checks what each client was sent against scope: a host-state analyst must never receive a UN Police
record (the sharing agreement runs only from the host-state police to the UN Police), and every client must
receive each record it may see exactly once.

    python -m bench.bench_live --backend sqlite --clients 50 --seconds 60 --rate 2
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bench import common
from bench.bench_api import _free_port, _stop_server

DB_NAME = "live"
TARGET_MEDIAN_S = 1.0
DRAIN_SECONDS = 60.0
UNPOL_SHARE = 0.8


@dataclass
class Stream:
    """One client's connection and what it received: record id -> arrival times (epoch seconds)."""

    user: str
    organisation: str
    received: dict[str, list[float]] = field(default_factory=dict)
    delays_s: list[float] = field(default_factory=list)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None


def _prepare(backend: str, clients: int, records: int, seed: int) -> list[tuple[str, str, str]]:
    """A fresh database with the world, `records` records and one analyst per client: (user, org, session)."""
    common.reset_database(backend, DB_NAME)
    common.setup_django(backend, DB_NAME)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from bench.bench_import import _batches
    from bench.world import ensure_world
    from sitaware.core.models import Membership, Unit
    from sitaware.records.bulk import bulk_upsert

    world = ensure_world()
    if records:
        for org, rows in _batches(records, 5000, seed):
            bulk_upsert(world.actor(f"{org}-importer"), rows)
        print(f"  {records:,} records loaded")
    units = {"unpol": Unit.objects.get(code="unpol-bangui"), "hsp": Unit.objects.get(code="cnp-bambari")}
    sessions = []
    for number in range(clients):
        org = "unpol" if number < round(clients * UNPOL_SHARE) else "hsp"
        user = get_user_model().objects.create_user(username=f"watch-{number:02d}", password=None)
        Membership.objects.create(user=user, organisation=world.organisations[org], unit=units[org],
                                  role="analyst", clearance=2)
        browser = Client()
        browser.force_login(user)
        sessions.append((user.username, org, browser.cookies["sessionid"].value))
    from django.db import connection, connections

    if connection.vendor == "sqlite":
        # Start both runs from a checkpointed database, not behind a write-ahead log of the whole load.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connections.close_all()
    return sessions


async def _read_stream(port: int, stream: Stream, session: str, stop: asyncio.Event) -> None:
    """GET /live/stream and parse Server-Sent Events from uvicorn's chunked body, noting each arrival."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        stream.error = f"connect: {exc}"
        stream.opened.set()
        return
    writer.write((f"GET /live/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                  f"Cookie: sessionid={session}\r\n\r\n").encode())
    await writer.drain()
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        if status != 200:
            stream.error = f"HTTP {status}"
            return
        chunked = "transfer-encoding: chunked" in head.lower()
        buffer = ""
        while not stop.is_set():
            if chunked:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.strip().split(b";")[0], 16)
                if size == 0:
                    break  # the server ended the stream (its lifetime): fine for a run shorter than that
                data = await reader.readexactly(size + 2)
                buffer += data[:-2].decode()
            else:
                data = await reader.read(65536)
                if not data:
                    break
                buffer += data.decode()
            arrived = time.time()
            while "\n\n" in buffer:
                message, buffer = buffer.split("\n\n", 1)
                if message.startswith("id:") or "\nid:" in message:
                    # The stream has its cursor (the `id:` after `retry:`): from here on nothing can be missed.
                    # Writing before it would let a slow stream start after the first records, by design.
                    stream.opened.set()
                _note(stream, message, arrived)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        if not stop.is_set():
            stream.error = f"stream broke: {exc!r}"
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a reader that dies is reported, not counted as missed events
        stream.error = f"reader failed: {exc!r}"
    finally:
        stream.opened.set()
        writer.close()


def _note(stream: Stream, message: str, arrived: float) -> None:
    data = "".join(line[5:].strip() for line in message.split("\n") if line.startswith("data:"))
    if not data:
        return
    event = json.loads(data)
    record_id = event["record"]["id"]
    stream.received.setdefault(record_id, []).append(arrived)
    written = dt.datetime.fromisoformat(event["at"]).timestamp()
    stream.delays_s.append(arrived - written)


def _writer(rate: float, seconds: float, seed: int, written: list[tuple[str, str]], stop: threading.Event) -> None:
    """Create records at `rate` per second, alternating the two organisations' importers."""
    from bench.generate import RecordGenerator
    from bench.world import ensure_world
    from sitaware.records import services

    world = ensure_world()
    generators = {org: RecordGenerator(org, seed=seed + 1) for org in ("unpol", "hsp")}
    interval = 1.0 / rate
    next_at = time.monotonic()
    number = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop.is_set():
        time.sleep(max(0.0, next_at - time.monotonic()))
        org = ("unpol", "hsp")[number % 2]
        payload = generators[org].payload(10_000_000 + number)
        # Visible under the bench's agreement (HSP -> UNPOL: verified/published, sensitivity <= 1).
        payload.update(status="verified", sensitivity=1, reporting_unit="unpol-bangui" if org == "unpol"
                       else "cnp-bangui")
        payload.pop("external_source", None)
        payload.pop("external_id", None)
        record = services.create_record(world.actor(f"{org}-importer"), payload)
        written.append((str(record.id), org))
        number += 1
        next_at += interval
    from django.db import connections

    connections.close_all()


def _all_delivered(streams: list[Stream], written: list[tuple[str, str]]) -> bool:
    return all(record_id in s.received for s in streams for record_id, org in written
               if _expected(s.organisation, org))


def _expected(org_of_client: str, org_of_record: str) -> bool:
    # UN Police analysts see their own organisation's records and the host-state police's shared ones; the
    # host-state analysts see only their own (no agreement runs the other way).
    return org_of_client == "unpol" or org_of_record == "hsp"


async def _run(port: int, sessions: list[tuple[str, str, str]], rate: float, seconds: float,
               seed: int) -> tuple[list[Stream], list[tuple[str, str]], float]:
    stop = asyncio.Event()
    streams = [Stream(user, org) for user, org, _ in sessions]
    readers = [asyncio.create_task(_read_stream(port, s, session, stop)) for s, (_, _, session) in
               zip(streams, sessions, strict=True)]
    await asyncio.wait_for(asyncio.gather(*(s.opened.wait() for s in streams)), 60)
    opened_at = time.monotonic()
    written: list[tuple[str, str]] = []
    halt = threading.Event()
    await asyncio.to_thread(_writer, rate, seconds, seed, written, halt)
    # Wait for the last deliveries (at most DRAIN_SECONDS): an event that never comes counts as missing.
    drain_until = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < drain_until and not _all_delivered(streams, written):
        await asyncio.sleep(0.25)
    stop.set()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return streams, written, time.monotonic() - opened_at


def measure(backend: str, sessions: list[tuple[str, str, str]], rate: float, seconds: float, seed: int, *,
            shared: bool, quiet: bool = False) -> dict[str, Any]:
    port = _free_port()
    server = _start_server(backend, port, shared=shared)
    started_load = [round(x, 2) for x in os.getloadavg()]
    try:
        _wait_listening(port, server)
        streams, written, took = asyncio.run(_run(port, sessions, rate, seconds, seed))
    finally:
        _stop_server(server)
    errors = [f"{s.user}: {s.error}" for s in streams if s.error]
    delays = [d for s in streams for d in s.delays_s]
    origin = dict(written)
    missing = duplicated = leaked = 0
    missed: list[str] = []
    for s in streams:
        for record_id, org in written:
            times = s.received.get(record_id, [])
            if _expected(s.organisation, org):
                missing += not times
                if not times and len(missed) < 20:
                    missed.append(f"{s.user} ({s.organisation}) never got {org} record {record_id}")
                duplicated += len(times) > 1
            else:
                leaked += bool(times)
        leaked += sum(1 for record_id in s.received if record_id not in origin)  # nothing else was written
    summary = common.percentiles([d * 1000 for d in delays])
    label = "shared reads (now)" if shared else "per-viewer reads (anchor)"
    if not quiet:
        print(f"  {label}: {len(written)} writes, {len(delays)} deliveries: delay p50 {summary.get('p50_ms')} ms, "
              f"p95 {summary.get('p95_ms')} ms, max {summary.get('max_ms')} ms; missing {missing}, duplicated "
              f"{duplicated}, leaked {leaked}, client errors {len(errors)} (load {started_load})")
    return {
        "shared_reads": shared, "writes": len(written), "deliveries": len(delays), "delay_ms": summary,
        "median_delay_s": round(statistics.median(delays), 3) if delays else None,
        "within_target": bool(delays) and statistics.median(delays) <= TARGET_MEDIAN_S,
        "missing": missing, "missed_examples": missed, "duplicated": duplicated, "leaked": leaked,
        "client_errors": errors,
        "run_seconds": round(took, 1), "load_average_at_start": started_load,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def run(backend: str, clients: int, records: int, rate: float, seconds: float, seed: int,
        anchor: bool, warmup: float) -> dict[str, Any]:
    facts = common.machine_facts(backend)
    print(f"live feed benchmark on {backend}: {clients} clients, {records:,} records, {rate:g} writes/s for "
          f"{seconds:g} s (load {facts['load_average_at_start']})")
    sessions = _prepare(backend, clients, records, seed)
    out: dict[str, Any] = {
        "benchmark": "live_feed", "backend": backend, "machine": facts,
        "config": {"clients": clients, "unpol_clients": round(clients * UNPOL_SHARE), "records_in_store": records,
                   "writes_per_s": rate, "seconds": seconds, "server": "uvicorn x1", "poll_seconds": 0.5},
    }
    # A first run after the load pays for the load (SQLite's write-ahead log, PostgreSQL's autovacuum and cold
    # caches: measured 10-20x slower, whichever mode came first). An unmeasured warm-up takes that cost.
    if warmup > 0:
        print(f"  warm-up ({warmup:g} s, not measured)")
        measure(backend, sessions, rate, warmup, seed + 200, shared=True, quiet=True)
    if anchor:
        out["per_viewer"] = measure(backend, sessions, rate, seconds, seed + 100, shared=False)
    out["shared"] = measure(backend, sessions, rate, seconds, seed, shared=True)
    return out


# The anchor: the same server with every viewer reading for itself (reuse of shared reads switched off).
PER_VIEWER_SERVER = (
    "import sys, uvicorn; from sitaware.asgi import application; import sitaware.web.services as s; "
    "s.GROUP_READ_SECONDS = 0.0; uvicorn.run(application, host='127.0.0.1', port=int(sys.argv[1]), "
    "lifespan='off', log_level='warning', access_log=False)"
)


def _start_server(backend: str, port: int, *, shared: bool) -> subprocess.Popen:
    env = {**os.environ, **common.configure_env(backend, DB_NAME), "PYTHONPATH": str(common.REPO / "src")}
    if shared:  # what `sitaware serve` runs
        command = [sys.executable, "-m", "uvicorn", "sitaware.asgi:application", "--host", "127.0.0.1", "--port",
                   str(port), "--lifespan", "off", "--log-level", "warning", "--no-access-log"]
    else:
        env["DJANGO_SETTINGS_MODULE"] = "sitaware.settings"
        command = [sys.executable, "-c", PER_VIEWER_SERVER, str(port)]
    return subprocess.Popen(command, env=env, cwd=common.REPO, start_new_session=True)


def _wait_listening(port: int, server: Any, timeout: float = 60.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not listen within 60 s")


def _drop_pg_database() -> None:
    import psycopg

    with psycopg.connect(f"{common.PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{common.pg_database(DB_NAME)}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=common.BACKENDS, default="sqlite")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--records", type=int, default=100_000, help="records in the store before the run")
    parser.add_argument("--rate", type=float, default=2.0, help="writes per second during the run")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-anchor", action="store_true", help="skip the per-viewer-reads anchor run")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of unmeasured run first")
    args = parser.parse_args(argv)
    payload = run(args.backend, args.clients, args.records, args.rate, args.seconds, args.seed, not args.no_anchor,
                  args.warmup)
    print(f"written {common.write_result('live', args.backend, payload)}")
    if args.backend == "postgresql":
        _drop_pg_database()
    now = payload["shared"]
    return 0 if now["within_target"] and not (now["missing"] or now["duplicated"] or now["leaked"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
