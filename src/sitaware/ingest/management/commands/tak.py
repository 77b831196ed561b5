"""`sitaware tak serve|map|unmap|status`: the TAK / Cursor-on-Target listener and its uid mapping."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitaware.core.management.commands.createuser import console_actor_label
from sitaware.core.scope import system_actor
from sitaware.ingest import services
from sitaware.ingest.tak import bridge
from sitaware.ingest.tak.listener import TakListener


class Command(BaseCommand):
    help = ("TAK / Cursor-on-Target: serve the CoT listener (unit positions in for patrol tracking, accepted "
            "alerts out to TAK clients), map TAK uids to patrols, and show the listener's health.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{serve,map,unmap,status}")
        serve = sub.add_parser("serve", help="Listen for TAK clients (CoT XML over TCP, plain) until stopped.")
        serve.add_argument("--source", required=True, help="Name or id of the intake source of kind \"tak\".")
        serve.add_argument("--host", default="127.0.0.1",
                           help="Address to listen on (default 127.0.0.1; 0.0.0.0 for the mission network).")
        serve.add_argument("--port", type=int, default=8087, help="TCP port (default 8087, TAK's plain CoT port).")
        serve.add_argument("--poll-seconds", type=float, default=2.0,
                           help="How often accepted alerts and the uid mapping are re-read (default 2).")
        serve.add_argument("--batch-seconds", type=float, default=2.0,
                           help="How often collected positions are stored, one call per patrol (default 2).")
        serve.add_argument("--allow", action="append", metavar="CIDR",
                           help="Only accept clients from this network (repeatable), e.g. 10.20.0.0/16. Plain CoT "
                                "has no authentication: use this, a VPN or a firewall on the mission network.")
        mapping = sub.add_parser("map", help="Map a TAK uid (a device) to a patrol of an approved plan.")
        mapping.add_argument("--source", required=True)
        mapping.add_argument("uid", help="The device's CoT uid (ATAK shows it as the device UID).")
        mapping.add_argument("plan", help="Plan id.")
        mapping.add_argument("patrol", help="The patrol's id within the plan (e.g. hq-1).")
        unmap = sub.add_parser("unmap", help="Remove a uid's mapping; its positions are then refused.")
        unmap.add_argument("--source", required=True)
        unmap.add_argument("uid")
        status = sub.add_parser("status", help="The listener's health: clients, last position, rejects, mapping.")
        status.add_argument("--source", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except (bridge.ListenerSetupError, PermissionDenied, ValueError, *bridge.refusals()) as exc:
            raise CommandError(str(exc)) from None

    def _source(self, options: dict[str, Any]):
        return bridge.find_source(options["source"])

    def _serve(self, options: dict[str, Any]) -> None:
        logging.getLogger("sitaware.ingest.tak").setLevel(logging.INFO)
        listener = TakListener(options["source"], options["host"], options["port"],
                               poll_seconds=options["poll_seconds"], batch_seconds=options["batch_seconds"],
                               allow=options["allow"])

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            task = asyncio.create_task(listener.run(stop))
            ready = asyncio.create_task(listener.ready.wait())
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
            if listener.ready.is_set():
                self.stdout.write(f"listening for TAK clients on {listener.host}:{listener.port} "
                                  f"(source {listener.settings.name}); Ctrl-C stops")
            ready.cancel()
            await task

        try:
            asyncio.run(main())
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from None

    def _map(self, options: dict[str, Any]) -> None:
        source = self._source(options)
        entry = bridge.set_mapping(system_actor(console_actor_label()), source, options["uid"], options["plan"],
                                   options["patrol"])
        self.stdout.write(f"{options['uid']} → plan {entry['plan']}, patrol {entry['patrol']}")

    def _unmap(self, options: dict[str, Any]) -> None:
        source = self._source(options)
        if not bridge.remove_mapping(system_actor(console_actor_label()), source, options["uid"]):
            raise CommandError(f"{options['uid']!r} is not mapped in source {source.name}")
        self.stdout.write(f"{options['uid']} unmapped")

    def _status(self, options: dict[str, Any]) -> None:
        source = self._source(options)
        health = services.health(source)
        live = (source.state or {}).get("live") or {}
        out = {"source": source.name, "state": health["state"], "last_success_at": health["last_success_at"],
               "last_item_at": health["last_item_at"], "last_error": health["last_error"],
               "rejected_count": health["rejected_count"], "live": live,
               "uids": (source.config or {}).get("uids") or {}}
        self.stdout.write(json.dumps(out, indent=2, default=str, ensure_ascii=False))
