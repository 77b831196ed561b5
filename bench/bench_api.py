"""Creating records through the HTTP API, 20 clients at once, on loopback.

Serves `sitaware.asgi:application` with uvicorn (what `sitaware serve` runs) on 127.0.0.1 and a free port,
against a fresh database, and drives it from this process with 20 keep-alive connections, each a different
reporter with their own API token, each POSTing new records (with a device-made id, as field clients do).

Two loads:
- closed loop: every client sends its next record as soon as the previous answer arrives. This saturates
  the server, so latency here is mostly queueing: p50 ~ clients / throughput.
- paced: every client sends at a fixed interval (with jitter) so the offered load is a fraction of the
  closed-loop throughput; this is the latency a user sees on a server that is busy but not overrun.

    python -m bench.bench_api --backend sqlite --clients 20 --requests 4000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench import common
from bench.generate import RecordGenerator

DB_NAME = "api"
PATH = "/api/v1/records"


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        ok = self.statuses.get(201, 0)
        return {
            **common.percentiles(self.latencies_ms),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "seconds": round(self.seconds, 2),
            "created_per_s": round(ok / self.seconds, 1) if self.seconds else None,
        }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare(backend: str, clients: int) -> list[str]:
    """A fresh database with the world and one reporter (and token) per client."""
    common.reset_database(backend, DB_NAME)
    common.setup_django(backend, DB_NAME)
    from django.contrib.auth import get_user_model

    from bench.world import ensure_world
    from sitaware.core.models import Membership, Unit
    from sitaware.core.services import create_token

    world = ensure_world()
    unit = Unit.objects.get(code="unpol-bangui")
    tokens = []
    for number in range(clients):
        user = get_user_model().objects.create_user(username=f"field-{number:02d}", password=None)
        Membership.objects.create(user=user, organisation=world.organisations["unpol"], unit=unit, role="reporter",
                                  clearance=1)
        tokens.append(create_token(user, "bench"))
    from django.db import connections

    connections.close_all()
    return tokens


def _start_server(backend: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, **common.configure_env(backend, DB_NAME),
           "PYTHONPATH": str(common.REPO / "src")}
    command = [sys.executable, "-m", "uvicorn", "sitaware.asgi:application", "--host", "127.0.0.1", "--port",
               str(port), "--workers", str(workers), "--lifespan", "off", "--log-level", "warning",
               "--no-access-log"]
    return subprocess.Popen(command, env=env, cwd=common.REPO, start_new_session=True)


def _stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)


class Client:
    """One keep-alive HTTP/1.1 connection; enough of the protocol for uvicorn's answers."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


def _bodies(count: int, seed: int) -> list[bytes]:
    generator = RecordGenerator("unpol", seed=seed)
    bodies = []
    for number in range(count):
        payload = generator.payload(number)
        # A reporter files a draft for their own unit; the device makes the id.
        payload.update(id=str(uuid.uuid4()), status="draft", reporting_unit="unpol-bangui",
                       sensitivity=min(1, payload["sensitivity"]))
        payload.pop("external_source")
        payload.pop("external_id")
        bodies.append(json.dumps(payload).encode())
    return bodies


async def _wait_ready(port: int, token: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            client = Client(port, token)
            await client.connect()
            status, _ = await client.request("GET", PATH + "?limit=1")
            await client.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise SystemExit("the server did not answer within 60 s")


async def _drive(port: int, tokens: list[str], bodies: list[bytes], *, interval: float | None,
                 deadline_s: float) -> Outcome:
    """Each client takes bodies from a shared queue; paced clients wait `interval` (±50 %) between sends."""
    outcome = Outcome()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    rng = random.Random(11)
    stop_at = time.monotonic() + deadline_s

    async def client_loop(token: str) -> None:
        client = Client(port, token)
        await client.connect()
        next_send = time.monotonic() + (rng.uniform(0, interval) if interval else 0)
        try:
            while not queue.empty() and time.monotonic() < stop_at:
                if interval:
                    await asyncio.sleep(max(0.0, next_send - time.monotonic()))
                    next_send += interval * rng.uniform(0.5, 1.5)
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:  # another client took the last one while this one slept
                    break
                started = time.perf_counter()
                status, _ = await client.request("POST", PATH, body)
                outcome.latencies_ms.append((time.perf_counter() - started) * 1000)
                outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
        finally:
            await client.close()

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(token) for token in tokens))
    outcome.seconds = time.perf_counter() - started
    return outcome


def run(backend: str, clients: int, requests: int, workers: int, paced_fraction: float, max_seconds: float,
        seed: int, field_interval: float = 1.0) -> dict[str, Any]:
    facts = common.machine_facts(backend)
    tokens = _prepare(backend, clients)
    port = _free_port()
    server = _start_server(backend, port, workers)
    print(f"API create benchmark on {backend}: uvicorn x{workers} on 127.0.0.1:{port}, {clients} clients "
          f"(load {facts['load_average_at_start']})")
    out: dict[str, Any] = {"benchmark": "api_create", "backend": backend, "machine": facts,
                           "config": {"clients": clients, "requests": requests, "server": "uvicorn",
                                      "server_workers": workers, "paced_fraction": paced_fraction,
                                      "field_interval_s": field_interval}}
    try:
        bodies = _bodies(requests * 2 + 200 + int(clients * min(max_seconds, 60.0) / field_interval * 1.6), seed)
        asyncio.run(_wait_ready(port, tokens[0], server))
        asyncio.run(_drive(port, tokens, bodies[:200], interval=None, deadline_s=max_seconds))  # warm-up
        closed = asyncio.run(_drive(port, tokens, bodies[200:200 + requests], interval=None,
                                    deadline_s=max_seconds))
        summary = closed.summary()
        out["closed_loop"] = summary
        print(f"  closed loop: {summary['n']} requests, p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, "
              f"p99 {summary['p99_ms']} ms, {summary['created_per_s']} created/s, statuses {summary['statuses']}")
        rate = (summary["created_per_s"] or 1) * paced_fraction
        interval = clients / rate
        paced = asyncio.run(_drive(port, tokens, bodies[200 + requests:200 + 2 * requests], interval=interval,
                                   deadline_s=max_seconds))
        summary = paced.summary()
        summary["offered_per_s"] = round(rate, 1)
        out["paced"] = summary
        print(f"  paced at {rate:.0f}/s offered ({paced_fraction:.0%} of closed-loop): {summary['n']} requests, "
              f"p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms, "
              f"statuses {summary['statuses']}")
        # Field pace: every client sends one record every `field_interval` seconds on average, the rhythm of
        # twenty posts reporting at once; latency here is service time plus little queueing.
        field = asyncio.run(_drive(port, tokens, bodies[200 + 2 * requests:], interval=field_interval,
                                   deadline_s=min(max_seconds, 60.0)))
        summary = field.summary()
        summary["offered_per_s"] = round(clients / field_interval, 1)
        out["field_pace"] = summary
        print(f"  field pace ({clients} clients, one record each per {field_interval:g} s): {summary['n']} requests, "
              f"p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms")
    finally:
        _stop_server(server)
    out["load_average_at_end"] = list(os.getloadavg())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=common.BACKENDS, default="sqlite")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=4000, help="per load (closed loop, then paced)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (sitaware serve: 1)")
    parser.add_argument("--paced-fraction", type=float, default=0.5,
                        help="paced load as a fraction of the closed-loop throughput")
    parser.add_argument("--max-seconds", type=float, default=240.0, help="time limit per load")
    parser.add_argument("--field-interval", type=float, default=1.0,
                        help="seconds between one client's records in the field-pace load")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 400 requests per load, 20 s limit")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.max_seconds = min(args.requests, 400), min(args.max_seconds, 20.0)
    result = run(args.backend, args.clients, args.requests, args.workers, args.paced_fraction, args.max_seconds,
                 args.seed, args.field_interval)
    result["mode"] = "quick" if args.quick else "full"
    suffix = ("-quick" if args.quick else "") + (f"-w{args.workers}" if args.workers != 1 else "")
    path = common.write_result("api" + suffix, args.backend, result)
    print(f"results: {path.relative_to(common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
