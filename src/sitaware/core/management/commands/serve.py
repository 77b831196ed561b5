"""`sitaware serve`: check migrations, collect static files, serve ASGI with uvicorn, and (by default) run one
task worker in a background thread so a single box needs a single process."""

from __future__ import annotations

import logging
import threading
import time
import warnings
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections
from django.utils.crypto import get_random_string
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS
from django_tasks_db.management.commands.db_worker import Worker

from sitaware.core.demo.scenario import DEMO_PASSWORD, MARKER_ACTION
from sitaware.core.models import ChangeEntry
from sitaware.core.readiness import database_label, require_migrated

logger = logging.getLogger("sitaware.serve")


class InProcessWorker:
    """django-tasks-db's Worker in a daemon thread. Stopping clears its `running` flag, so it finishes the task
    in hand (if any) and leaves its loop at the next poll instead of being killed mid-task."""

    def __init__(self, *, interval: float = 1.0) -> None:
        self.worker = Worker(
            queue_names=["*"],
            interval=interval,
            batch=False,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=False,
            max_tasks=None,
            worker_id=f"serve-{get_random_string(12)}",
            excluded_queue_names=[],
        )
        self.thread = threading.Thread(target=self._run, name="sitaware-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            while self.worker.running:
                try:
                    self.worker.run()
                except Exception:
                    # A database hiccup must not leave the server without a worker: log, wait, go on.
                    logger.exception("in-process worker failed; restarting in 5 s")
                    time.sleep(5)
        finally:
            connections.close_all()

    def stop(self, timeout: float = 30.0) -> bool:
        self.worker.running = False
        self.thread.join(timeout)
        return not self.thread.is_alive()


class Command(BaseCommand):
    help = "Serve sitaware over HTTP (ASGI, uvicorn). Refuses to start while migrations are unapplied."
    requires_system_checks = "__all__"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default: 8000).")
        parser.add_argument("--workers", type=int, default=1, help="HTTP worker processes (default: 1).")
        parser.add_argument("--no-worker", action="store_true",
                            help="Do not run a task worker in-process even if SITAWARE_INPROCESS_WORKER is on.")
        parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])

    def handle(self, *args: Any, **options: Any) -> None:
        import uvicorn

        require_migrated()
        call_command("collectstatic", interactive=False, verbosity=0)
        # The shipped AI components must be registered (with their kill switch) before anyone can call them.
        from sitaware.oversight.services import ensure_builtin_components

        ensure_builtin_components()
        host, port = options["host"], options["port"]
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - only to print a usable URL
        url = f"http://{shown}:{port}/"
        in_process = settings.SITAWARE_INPROCESS_WORKER and not options["no_worker"]
        self.stdout.write(self.style.SUCCESS(f"sitaware is serving {url}"))
        self.stdout.write(f"  sign in: {url}accounts/login/    API docs: {url}api/v1/docs    admin: {url}admin/")
        self.stdout.write(f"  database: {database_label()}    data dir: {settings.DATA_DIR}")
        self.stdout.write("  task worker: " + ("in-process" if in_process else "none here (run `sitaware worker`)"))
        if ChangeEntry.objects.filter(action=MARKER_ACTION).exists():
            self.stdout.write(f"  demo data: every demo account's password is {DEMO_PASSWORD} (`sitaware demo` lists "
                              "them); an API token: `sitaware demo --token-for unpol.analyst`")
        if host not in ("127.0.0.1", "localhost", "::1"):
            self.stdout.write(f"  reachable beyond this machine: set SITAWARE_ALLOWED_HOSTS to the names clients use "
                              f"(now {', '.join(settings.ALLOWED_HOSTS)})")
        self.stdout.write("  Ctrl+C to stop.")
        # The server opens its own connections; the ones used by the checks above must not linger in this thread.
        connections.close_all()
        # WhiteNoise 6 hands static files to Django as synchronous iterators, which the ASGI handler warns about on
        # every file; they are small and served from memory-mapped files, so the warning is noise here.
        warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
        background = InProcessWorker() if in_process else None
        if background is not None:
            background.start()
        try:
            uvicorn.run(
                "sitaware.asgi:application",
                host=host,
                port=port,
                workers=max(1, options["workers"]),
                log_level=options["log_level"],
                lifespan="off",  # Django's ASGI handler speaks HTTP only
            )
        finally:
            if background is not None and not background.stop():
                logger.warning("the in-process worker did not stop within 30 s; its task is abandoned")
