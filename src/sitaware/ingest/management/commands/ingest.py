"""`sitaware ingest poll|status|schedule|form`: run the intake adapters from the console."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitaware.ingest import jobs, services
from sitaware.ingest.forms import FormError, xlsform_to_xform
from sitaware.ingest.models import Source


class Command(BaseCommand):
    help = ("Field intake: poll the sources that are due (feeds, exports, MQTT), show their health, queue the "
            "periodic poll for the task worker, or turn an XLSForm into an XForm.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{poll,status,schedule,form}")
        poll = sub.add_parser("poll", help="Poll the enabled pull sources that are due, each alone, then check "
                                           "for silent sources.")
        poll.add_argument("--source", action="append", metavar="NAME", help="Only this source (repeatable).")
        poll.add_argument("--all", action="store_true", help="Poll every enabled source now, due or not.")
        poll.add_argument("--loop", type=int, metavar="SECONDS",
                          help="Keep polling every SECONDS until stopped (without a task worker).")
        sub.add_parser("status", help="Each source's health: state, last success, last error, items per hour.")
        sub.add_parser("schedule", help="Queue the periodic poll for `sitaware worker` (once; safe to repeat).")
        form = sub.add_parser("form", help="Convert an XLSForm (.xlsx, .xls, .csv, .md) to an XForm with pyxform.")
        form.add_argument("xlsform", type=Path)
        form.add_argument("--json", action="store_true",
                          help="Print the source config (form_id, version, title, xform) as JSON instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _poll(self, options: dict[str, Any]) -> None:
        while True:
            results = services.poll_due(only=options["source"], force=options["all"])
            for source, outcome in results:
                if outcome.ok:
                    extra = " (not modified)" if outcome.not_modified else ""
                    self.stdout.write(f"{source.name}: {outcome.stored} new, {outcome.duplicates} already known, "
                                      f"{outcome.rejected} rejected{extra}")
                else:
                    self.stdout.write(self.style.WARNING(f"{source.name}: FAILED {outcome.error}"))
            silent = Source.objects.filter(enabled=True, silent_since__isnull=False).order_by("name")
            for source in silent:
                self.stdout.write(self.style.WARNING(f"{source.name}: SILENT since {source.silent_since:%Y-%m-%d %H:%M}"
                                                     " UTC"))
            if not results:
                self.stdout.write("no source was due")
            if not options["loop"]:
                return
            time.sleep(options["loop"])

    def _status(self, options: dict[str, Any]) -> None:
        for source in Source.objects.select_related("organisation").order_by("organisation__code", "name"):
            h = services.health(source)
            last = h["last_success_at"].strftime("%Y-%m-%d %H:%M") if h["last_success_at"] else "never"
            line = (f"{source.organisation.code}/{source.name} [{source.kind}] {h['state']}; last success {last}; "
                    f"{h['items_per_hour']:.0f} items/h")
            if h["last_error"] and h["state"] == "failing":
                line += f"; error: {h['last_error'][:120]}"
            self.stdout.write(line)

    def _schedule(self, options: dict[str, Any]) -> None:
        queued = jobs.ensure_scheduled()
        self.stdout.write("periodic intake poll queued" if queued else "the periodic intake poll is already queued")

    def _form(self, options: dict[str, Any]) -> None:
        try:
            form = xlsform_to_xform(options["xlsform"])
        except FormError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps({"form_id": form.form_id, "version": form.version, "title": form.title,
                                          "xform": form.xml}, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(form.xml)
