"""`sitaware worker`: django-tasks-db's worker, with our defaults and a clear startup line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from sitaware.core.readiness import database_label


class Command(DbWorkerCommand):
    help = ("Run a background task worker (imports, exports, analytics). Several may run at once; "
            "each takes tasks from the database queue.")

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        # One box usually runs one worker for everything: take every queue unless told otherwise.
        parser.set_defaults(queue_name="*")
        for action in parser._actions:
            if action.dest == "queue_name":
                action.help = "Queues to take tasks from, comma-separated; '*' takes them all (default: '*')."
            if action.dest == "batch":
                action.help = "Run the waiting tasks, then exit (for cron or a one-off catch-up)."

    def handle(self, *args: Any, **options: Any) -> None:
        mode = "until the queue is empty" if options["batch"] else "until stopped (Ctrl+C)"
        self.stdout.write(
            f"sitaware worker {options['worker_id'][:8]}: queues {options['queue_name']}, "
            f"database {database_label()}, running {mode}."
        )
        super().handle(*args, **options)
