"""TAK listener throughput (issue 8): unit positions from many TAK clients through the real listener into
patrol tracking, and the pure CoT path alone.

A fresh database with one approved plan of `--clients` patrols (each its own mapped uid); the listener runs in
this process on a loopback port (as `sitaware tak serve`), `--clients` raw TCP clients each send `--positions`
position events as fast as the socket takes them. Measured: events/s framed and parsed by the pure code, and
end to end the time until every position is stored (positions/s), with the change-log entries written (one
per patrol and batch) and the delay from the last send to the last store.

    python -m bench.bench_tak --backend sqlite --clients 20 --positions 200
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import threading
import time
from typing import Any

from bench import common

NAME = "tak"
BANGUI = (4.3612, 18.5550)


def position(uid: str, at: dt.datetime, lat: float, lon: float) -> bytes:
    from sitaware.ingest.tak.cot import cot_time

    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<event version="2.0" uid="{uid}" '
            f'type="a-f-G-U-C" how="m-g" time="{cot_time(at)}" start="{cot_time(at)}" '
            f'stale="{cot_time(at + dt.timedelta(minutes=10))}"><point lat="{lat:.6f}" lon="{lon:.6f}" hae="380" '
            f'ce="9.0" le="12.0"/><detail><contact callsign="{uid}"/><__group name="Cyan" role="Team Member"/>'
            f'<track course="90.0" speed="3.2"/></detail></event>').encode()


def pure(n: int) -> dict[str, Any]:
    from sitaware.ingest.tak import cot
    from sitaware.ingest.tak.framing import Framer

    now = dt.datetime.now(dt.UTC)
    stream = b"".join(position(f"u{i % 50}", now, BANGUI[0], BANGUI[1]) for i in range(n))
    started = time.perf_counter()
    framer = Framer()
    count = 0
    for i in range(0, len(stream), 1400):  # TCP-segment-sized pieces
        for frame in framer.feed(stream[i:i + 1400]):
            cot.parse_event(frame.data, now=now)
            count += 1
    seconds = time.perf_counter() - started
    assert count == n
    return {"events": n, "bytes_per_event": len(stream) // n, "seconds": round(seconds, 3),
            "events_per_s": round(n / seconds)}


def world(clients: int) -> tuple[Any, list[str]]:
    from django.contrib.auth import get_user_model

    from sitaware.core.models import Membership, Organisation, Unit
    from sitaware.core.scope import actor_for, system_actor
    from sitaware.ingest import services as ingest
    from sitaware.oversight import services as oversight
    from sitaware.planning import services as planning

    org = Organisation.objects.create(code="unpol", name="UN Police", kind="un_police")
    unit = Unit.objects.create(organisation=org, code="bangui-hq", name="Bangui HQ")
    users = {}
    for name, role in (("ana", "analyst"), ("sam", "supervisor"), ("adam", "administrator"), ("tak-gw", "analyst")):
        # No usable password: nobody signs in as these accounts.
        users[name] = get_user_model().objects.create_user(username=name, password=None)
        Membership.objects.create(user=users[name], organisation=org, unit=unit, role=role, clearance=3)
    oversight.ensure_builtin_components()
    oversight.set_enabled(actor_for(users["adam"]), "patrol-plan", True, reason="benchmark")
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    import h3

    cells = sorted(h3.grid_disk(h3.latlng_to_cell(*BANGUI, 8), 2))
    request = {
        "shift": {"start": start.isoformat(), "end": (start + dt.timedelta(hours=6)).isoformat()},
        "units": [{"id": f"p{i}", "unit": "bangui-hq", "base": [BANGUI[0] - 0.01, BANGUI[1] - 0.01],
                   "mode": "vehicle", "speed_kmh": 20, "crew": 2} for i in range(clients)],
        "cells": [{"id": c, "priority": 1.0 + i % 5} for i, c in enumerate(cells)],
        "constraints": {"dwell_s": 600, "exploration_share": 0.0, "area": {"bbox": [18.3, 4.2, 18.8, 4.6]}},
        "solver": {"seed": 1, "max_iterations": 100, "num_seeds": 1, "time_budget_s": 5},
    }
    plan = planning.propose_plan(actor_for(users["ana"]), request)
    plan = planning.decide_plan(actor_for(users["sam"]), plan.id, "approve", "benchmark")
    uids = [f"ANDROID-bench-{i:03d}" for i in range(clients)]
    ingest.create_source(system_actor("bench"), kind="tak", name="tak-bench", organisation_id=org.pk, config={
        "actor": "tak-gw", "uids": {u: {"plan": str(plan.id), "patrol": f"p{i}"} for i, u in enumerate(uids)}})
    return plan, uids


def end_to_end(plan: Any, uids: list[str], per_client: int, batch_seconds: float) -> dict[str, Any]:
    from sitaware.core.models import ChangeEntry
    from sitaware.ingest.tak.listener import TakListener
    from sitaware.planning.models import PositionReport

    listener = TakListener("tak-bench", "127.0.0.1", 0, poll_seconds=2.0, batch_seconds=batch_seconds,
                           health_seconds=5.0)
    loop = asyncio.new_event_loop()
    stop: list[asyncio.Event] = []

    async def main() -> None:
        stop.append(asyncio.Event())
        await listener.run(stop[0])

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    while not listener.ready.is_set():
        time.sleep(0.05)
    entries_before = ChangeEntry.objects.filter(action="plan.positions").count()
    # Reports one second apart, the last one now (each stays fresh for its 10-minute stale time).
    base = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=per_client)
    total = len(uids) * per_client

    def send(i: int, uid: str) -> None:
        with socket.create_connection(("127.0.0.1", listener.port)) as sock:
            for k in range(per_client):
                at = base + dt.timedelta(seconds=k)  # a new, later report each time
                sock.sendall(position(uid, at, BANGUI[0] + 0.0001 * k, BANGUI[1] + 0.0001 * i))
            time.sleep(batch_seconds * 3)  # stay connected until stored

    started = time.perf_counter()
    senders = [threading.Thread(target=send, args=(i, u)) for i, u in enumerate(uids)]
    for s in senders:
        s.start()
    while any(s.is_alive() for s in senders) and listener.stats.events < total:
        time.sleep(0.01)
    sent = time.perf_counter() - started
    while (PositionReport.objects.filter(plan=plan).count() + listener.stats.rejected < total
           and time.perf_counter() - started < 300):
        time.sleep(0.05)
    stored_at = time.perf_counter() - started
    stored = PositionReport.objects.filter(plan=plan).count()
    for s in senders:
        s.join()
    loop.call_soon_threadsafe(stop[0].set)
    thread.join(timeout=30)
    return {"clients": len(uids), "positions_per_client": per_client, "positions": total, "stored": stored,
            "batch_seconds": batch_seconds, "seconds_until_all_received": round(sent, 3),
            "seconds_until_all_stored": round(stored_at, 3), "positions_per_s": round(stored / stored_at, 1),
            "change_log_entries": ChangeEntry.objects.filter(action="plan.positions").count() - entries_before,
            "rejected": listener.stats.rejected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=common.BACKENDS, default="sqlite")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--positions", type=int, default=200, help="positions per client")
    parser.add_argument("--batch-seconds", type=float, default=2.0)
    parser.add_argument("--pure-events", type=int, default=20000)
    args = parser.parse_args()
    common.reset_database(args.backend, NAME)
    common.setup_django(args.backend, NAME)
    facts = common.machine_facts(args.backend)
    result = {"benchmark": NAME, "backend": args.backend, "machine": facts, "pure": pure(args.pure_events)}
    plan, uids = world(args.clients)
    result["end_to_end"] = end_to_end(plan, uids, args.positions, args.batch_seconds)
    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    path = common.write_result(NAME, args.backend, result)
    print(result["pure"], result["end_to_end"], sep="\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
