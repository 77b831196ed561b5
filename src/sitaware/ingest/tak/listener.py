"""The CoT listener: an asyncio TCP server for TAK clients (ATAK, WinTAK, iTAK, pytak).

Each client's stream is cut into events (`framing`), each event read safely (`cot`). Unit positions (a-…)
whose uid the operator mapped to a patrol are collected and stored every `batch_seconds` through planning's
tracking service, one call (and one change-log entry) per patrol; an unknown uid is logged and counted, never
guessed. Pings are tolerated. Accepted alerts are pushed to every client as CoT, each version once, and to a
client that connects later while they are current.

All database work runs on one thread of its own (one connection, writes in order, no "database is locked"),
so the event loop never blocks on it. A client fails alone: a bad event is rejected with its reason and the
connection goes on; a client that stops reading is dropped when its queue is full; a crash in one client's
handler closes that client only.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import datetime as dt
import ipaddress
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sitaware.ingest.tak import bridge, cot
from sitaware.ingest.tak.framing import Framer

log = logging.getLogger("sitaware.ingest.tak")
T = TypeVar("T")
READ_CHUNK = 64 * 1024
SEND_QUEUE = 200  # events waiting for one client; beyond that the client is too slow and is dropped
WRITE_TIMEOUT = 10.0
MAX_UNKNOWN_UIDS = 1000
MAX_HELD = 10_000  # positions kept per patrol while the database is away


@dataclass
class Client:
    number: int
    peer: str
    writer: asyncio.StreamWriter
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(SEND_QUEUE))
    sent: set[str] = field(default_factory=set)  # alert versions already pushed to this client
    uids: set[str] = field(default_factory=set)
    connected_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    closing: bool = False

    def offer(self, key: str, event: bytes) -> bool:
        """Queue an alert version unless this client already has it; False when the client cannot keep up."""
        if key in self.sent or self.closing:
            return True
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        self.sent.add(key)
        return True


@dataclass
class Stats:
    events: int = 0
    pings: int = 0
    positions: int = 0
    ignored: int = 0
    rejected: int = 0
    unknown_uids: dict[str, int] = field(default_factory=dict)
    alerts_pushed: int = 0
    clients_dropped: int = 0
    refused_connections: int = 0
    last_position_at: dt.datetime | None = None
    last_error: str = ""


class TakListener:
    def __init__(self, source: str, host: str = "127.0.0.1", port: int = 8087, *, poll_seconds: float = 2.0,
                 batch_seconds: float = 2.0, health_seconds: float = 10.0, allow: list[str] | None = None,
                 clock: Callable[[], dt.datetime] | None = None):
        self.source_ref, self.host, self.port = source, host, port
        # Client networks let in (plain CoT has no authentication); empty: any address that can reach us.
        self.allow = [ipaddress.ip_network(n, strict=False) for n in (allow or [])]
        self.poll_seconds, self.batch_seconds, self.health_seconds = poll_seconds, batch_seconds, health_seconds
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.clients: dict[int, Client] = {}
        self.stats = Stats()
        self.tally = bridge.Tally()
        self.pending: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
        self.last_at: dict[str, dt.datetime] = {}  # per uid: a repeated or older report is not stored twice
        self.hour: collections.deque[float] = collections.deque()
        self.current: dict[str, bytes] = {}  # alert version → CoT event
        self.settings: bridge.Settings | None = None
        self.actor: Any = None
        self.ready = asyncio.Event()
        self._numbers = itertools.count(1)
        self._db_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tak-db")
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task] = []
        self.refused = bridge.refusals()
        self.running = False

    # ---------------------------------------------------------------- database thread

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        def call() -> T:
            from django.db import close_old_connections

            close_old_connections()  # a connection the database dropped is replaced, not reused
            return fn(*args)

        return await asyncio.get_running_loop().run_in_executor(self._db_pool, call)

    def _setup(self) -> tuple[bridge.Settings, Any]:
        source = bridge.find_source(self.source_ref)
        return bridge.settings_of(source), bridge.listener_actor(source)

    # ---------------------------------------------------------------- life

    async def start(self) -> None:
        self.settings, self.actor = await self.db(self._setup)
        self._server = await asyncio.start_server(self._serve_client, self.host, self.port, limit=READ_CHUNK)
        self.port = self._server.sockets[0].getsockname()[1]
        await self._refresh_alerts()
        self._tasks = [asyncio.create_task(self._every(self.poll_seconds, self._refresh_alerts), name="tak-alerts"),
                       asyncio.create_task(self._every(self.batch_seconds, self._flush), name="tak-positions"),
                       asyncio.create_task(self._every(self.health_seconds, self._save_health), name="tak-health")]
        self.running = True
        log.info("TAK listener for source %s on %s:%d (CoT over TCP, plain)", self.settings.name, self.host, self.port)
        self.ready.set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Start, serve until `stop` is set (or forever), then stop cleanly."""
        try:
            await self.start()
            if stop is None:
                await asyncio.Event().wait()
            else:
                await stop.wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        self.running = False
        if self._server is not None:
            self._server.close()
        for client in list(self.clients.values()):
            self._drop(client, "listener stopping")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            if self.settings is not None:  # started: keep what was collected and say we stopped
                await self._flush()
                await self._save_health()
        finally:
            from django.db import connections

            # The database thread's own connection (the proxy must be resolved on that thread).
            await self.db(connections.close_all)
            self._db_pool.shutdown(wait=True)
        log.info("TAK listener stopped")

    async def _every(self, seconds: float, job: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception as exc:  # the database away for a moment must not end the listener
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("TAK listener: %s failed", getattr(job, "__name__", job))

    # ---------------------------------------------------------------- clients

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self.allow and not (peer and any(ipaddress.ip_address(peer[0]) in net for net in self.allow)):
            self.stats.refused_connections += 1
            log.warning("TAK listener: connection from %s refused (not in the allowed networks)",
                        peer[0] if peer else "?")
            writer.close()
            return
        client = Client(next(self._numbers), f"{peer[0]}:{peer[1]}" if peer else "?", writer)
        self.clients[client.number] = client
        log.info("TAK client %d connected from %s (%d connected)", client.number, client.peer, len(self.clients))
        sender = asyncio.create_task(self._send_loop(client))
        for key, event in self.current.items():
            if not client.offer(key, event):
                break
        framer = Framer(self.settings.max_event_bytes if self.settings else cot.MAX_EVENT_BYTES)
        try:
            while not client.closing:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                for frame in framer.feed(data):
                    self._frame(client, frame)
        except (ConnectionError, OSError) as exc:
            log.info("TAK client %d: connection lost: %s", client.number, exc)
        except Exception:
            log.exception("TAK client %d: handler failed; closing this client only", client.number)
        finally:
            self._drop(client, "disconnected")
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _send_loop(self, client: Client) -> None:
        try:
            while True:
                event = await client.queue.get()
                client.writer.write(event)
                await asyncio.wait_for(client.writer.drain(), WRITE_TIMEOUT)
                self.stats.alerts_pushed += 1
        except asyncio.CancelledError:
            raise
        except (ConnectionError, OSError, TimeoutError) as exc:
            self._drop(client, f"cannot write: {exc or type(exc).__name__}")

    def _drop(self, client: Client, why: str) -> None:
        if self.clients.pop(client.number, None) is None:
            return
        client.closing = True
        try:
            client.writer.close()
        except Exception:  # closing an already broken transport
            log.debug("TAK client %d: close failed", client.number, exc_info=True)
        log.info("TAK client %d %s (%d connected)", client.number, why, len(self.clients))

    # ---------------------------------------------------------------- events in

    def _reject(self, client: Client, reason: str) -> None:
        self.stats.rejected += 1
        self.tally.rejected += 1
        self.tally.reasons.append(reason)
        log.warning("TAK client %d (%s): rejected: %s", client.number, client.peer, reason)

    def _frame(self, client: Client, frame: Any) -> None:
        if frame.kind == "garbage":
            self._reject(client, f"{frame.size} bytes that are not a CoT event: {frame.data[:60]!r}")
            return
        if frame.kind == "oversize":
            self._reject(client, f"an event larger than {self.settings.max_event_bytes:,} bytes was dropped")
            return
        self.stats.events += 1
        try:
            event = cot.parse_event(frame.data, now=self.clock(), max_bytes=self.settings.max_event_bytes)
        except cot.CotError as exc:
            self._reject(client, str(exc))
            return
        if event.is_ping:
            self.stats.pings += 1
            return
        if not event.is_position:
            self.stats.ignored += 1  # chat, markers, drawings: not for us
            log.debug("TAK client %d: ignored %s event from %s", client.number, event.type, event.uid)
            return
        client.uids.add(event.uid)
        if not self.settings.enabled:
            self._reject(client, f"position from {event.uid!r} refused: the source {self.settings.name} is disabled")
            return
        target = self.settings.uids.get(event.uid)
        if target is None:
            known = event.uid in self.stats.unknown_uids or len(self.stats.unknown_uids) < MAX_UNKNOWN_UIDS
            key = event.uid if known else "(others)"  # a client inventing uids cannot grow this without end
            self.stats.unknown_uids[key] = self.stats.unknown_uids.get(key, 0) + 1
            self._reject(client, f"unknown uid {event.uid!r} (callsign {event.callsign!r}): map it to a patrol "
                                 f"with `sitaware tak map`")
            return
        last = self.last_at.get(event.uid)
        if last is not None and event.time <= last:
            return  # the same report again (or an older one): already taken
        self.last_at[event.uid] = event.time
        self.pending[(target["plan"], target["patrol"])].append(
            {"at": event.time.isoformat(), "lat": event.lat, "lon": event.lon, "uid": event.uid})

    async def _flush(self) -> None:
        """Store what came since the last flush: one tracking call per patrol."""
        batches, self.pending = self.pending, collections.defaultdict(list)
        for (plan, patrol), points in batches.items():
            uids = sorted({p.pop("uid") for p in points})
            try:
                stored = await self.db(bridge.store_positions, self.actor, plan, patrol, points)
            except self.refused as exc:  # the plan ended, was rejected, or the account lost its rights
                reason = f"positions of {', '.join(uids)} for patrol {patrol} of plan {plan} refused: {exc}"
                self.tally.rejected += len(points)
                self.tally.reasons.append(reason)
                self.tally.errors.append(reason)
                self.stats.rejected += len(points)
                self.stats.last_error = reason
                log.warning("TAK listener: %s", reason)
                continue
            except Exception as exc:  # the database away: keep the points for the next flush (bounded)
                kept = self.pending[(plan, patrol)]
                kept[:0] = [{**p, "uid": uids[0]} for p in points][-MAX_HELD:]
                del kept[:-MAX_HELD]
                self.stats.last_error = f"storing positions failed, will retry: {type(exc).__name__}: {exc}"
                self.tally.errors.append(self.stats.last_error)
                log.warning("TAK listener: %s", self.stats.last_error)
                continue
            self.stats.positions += stored
            self.tally.positions += stored
            now = time.monotonic()
            self.hour.extend([now] * stored)
            self.stats.last_position_at = max(dt.datetime.fromisoformat(p["at"]) for p in points)

    # ---------------------------------------------------------------- alerts out, health

    async def _refresh_alerts(self) -> None:
        self.settings = await self.db(bridge.reload, self.settings.source_id)  # the mapping may have changed
        self.current = (await self.db(bridge.current_alerts, self.actor, self.settings, self.clock())
                        if self.settings.enabled else {})
        for client in list(self.clients.values()):
            for key, event in self.current.items():
                if not client.offer(key, event):
                    self.stats.clients_dropped += 1
                    self._drop(client, "dropped: it does not read what is sent to it")
                    break

    def live(self) -> dict[str, Any]:
        cutoff = time.monotonic() - 3600
        while self.hour and self.hour[0] < cutoff:
            self.hour.popleft()
        s = self.stats
        return {"running": self.running, "listening": f"{self.host}:{self.port}", "clients": len(self.clients),
                "client_uids": sorted({u for c in self.clients.values() for u in c.uids}),
                "last_position_at": s.last_position_at.isoformat() if s.last_position_at else None,
                "positions": s.positions, "positions_last_hour": len(self.hour), "events": s.events,
                "pings": s.pings, "ignored": s.ignored, "rejected": s.rejected,
                "unknown_uids": dict(sorted(s.unknown_uids.items())[:50]), "alerts_current": len(self.current),
                "alerts_pushed": s.alerts_pushed, "clients_dropped": s.clients_dropped,
                "refused_connections": s.refused_connections, "last_error": s.last_error,
                "updated_at": self.clock().isoformat()}

    async def _save_health(self) -> None:
        tally, self.tally = self.tally, bridge.Tally()
        await self.db(bridge.save_health, self.settings.source_id, tally, self.live())
