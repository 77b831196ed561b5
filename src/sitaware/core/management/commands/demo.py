"""`sitaware demo`: load the demonstration scenario; deterministic for a seed, and safe to run twice."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from sitaware.core.choices import Sensitivity
from sitaware.core.demo import load
from sitaware.core.demo.generate import WINDOW, Generator
from sitaware.core.demo.places import UCDP_EVENTS, demo_places
from sitaware.core.demo.scenario import DEMO_PASSWORD, DEMO_SOURCE, ORG_BY_CODE, users
from sitaware.core.management.commands.createuser import console_actor_label
from sitaware.core.readiness import require_migrated
from sitaware.core.scope import system_actor
from sitaware.core.services import create_token
from sitaware.records.models import Record

WARNING = ("This is DEMONSTRATION data with a published password. Never enter real information into a demo "
           "installation; start a real one from an empty database.")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--until wants a date as YYYY-MM-DD, not {value!r}") from None


class Command(BaseCommand):
    help = ("Load the demo scenario: three organisations with their units, an account in every role, sharing "
            "agreements and records over two years at real places in the Central African Republic.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--records", type=int, default=5000, help="How many records (default: 5000).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed; the same seed gives the same demo.")
        parser.add_argument("--reset", action="store_true",
                            help="Empty the database first. Refused unless everything in it came from the demo.")
        parser.add_argument("--until", metavar="YYYY-MM-DD",
                            help="Last day of the two years covered (default: today, or the day of the first load).")
        parser.add_argument("--events", type=Path, metavar="CSV",
                            help="UCDP GED events file for places (default: ../shared/data/events/ucdp_ged_caf/"
                                 "ged231_caf_events.csv beside the repository; a built-in table when absent).")
        parser.add_argument("--no-ucdp", action="store_true",
                            help="Do not import the real UCDP events as records (done by default when the file is "
                                 "there).")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bars.")
        parser.add_argument("--token-for", metavar="USERNAME",
                            help="Only make an API token for this demo account and print it (once), e.g. "
                                 "unpol.analyst; send it as 'Authorization: Bearer <token>'.")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated()
        if options["token_for"]:
            self._token(options["token_for"])
            return
        started = time.monotonic()
        count, seed = options["records"], options["seed"]
        if count < 0:
            raise CommandError("--records must be 0 or more")
        if options["events"] is not None and not options["events"].exists():
            raise CommandError(f"no events file at {options['events']}")
        if options["reset"]:
            problems = load.foreign_data()
            if problems:
                raise CommandError("refusing to reset: the database holds more than the demo ("
                                   + "; ".join(problems) + "). Reset only a database that holds nothing but the "
                                   "demo; to start a demo afresh, remove its data directory (make clean).")
            load.reset()
            self.stdout.write("Database emptied.")
        elif not load.is_demo_database():
            # Demo accounts have a published password: they must never appear in a real installation.
            raise CommandError("refusing to load the demo into a database that holds other data ("
                               + "; ".join(load.foreign_data()) + "). Load it into an empty database, e.g. with "
                               "another SITAWARE_DATA_DIR or DATABASE_URL.")

        actor = system_actor(console_actor_label())
        world = load.ensure_world(actor)
        if world.created_anything():
            self.stdout.write(f"Created {world.organisations} organisations, {world.units} units, {world.users} "
                              f"accounts and {world.agreements} sharing agreements.")

        marker = load.last_marker(seed)
        anchor = self._anchor(options["until"], marker)
        loaded = Record.objects.filter(external_source=DEMO_SOURCE, external_id__startswith=f"seed{seed}-").count()
        if marker and marker.anchor == anchor and marker.records >= count and loaded >= count:
            # A demo loaded before the example framework existed gets it now.
            if not self._framework(anchor):
                self.stdout.write(f"The demo (seed {seed}, {loaded} records up to {anchor:%Y-%m-%d}) is already "
                                  "loaded; nothing to do.")
            self._logins()
            return

        places, place_source = demo_places(options["events"])
        generator = Generator(seed, anchor, places)
        self.stdout.write(f"Writing {count} demo records ({anchor - WINDOW:%Y-%m-%d} to "
                          f"{anchor:%Y-%m-%d}) at places from the {place_source}.")
        disable = True if options["no_progress"] else None
        with tqdm(total=count, unit=" records", desc="demo records", disable=disable) as bar:
            summary = load.load_records(generator, count, progress=bar.update)
        self.stdout.write(self.style.SUCCESS(
            f"Demo records: {summary.created} created, {summary.updated} updated, {summary.unchanged} unchanged, "
            f"{len(summary.errors)} refused."))
        for problem in summary.errors[:10]:
            self.stderr.write(f"  record {problem.get('row')}: {problem.get('field')}: {problem.get('message')}")
        self._breakdown(seed)
        imported = 0 if options["no_ucdp"] else self._import_ucdp(options["events"] or UCDP_EVENTS, disable)
        self._framework(anchor)
        load.write_marker(actor, load.Marker(seed, count, anchor, imported), place_source)
        self.stdout.write(f"Demo loaded in {time.monotonic() - started:.1f} s.")
        self._logins()

    def _framework(self, anchor: dt.datetime) -> bool:
        """The example results framework, written if missing; whether it was."""
        from sitaware.assessment import demo as assessment_demo

        framework = assessment_demo.ensure_framework(anchor)
        if framework is not None:
            self.stdout.write(f"Example results framework {framework.code!r} written, its figures computed, with a "
                              "dashboard (Results frameworks, Dashboards).")
        return framework is not None

    def _token(self, username: str) -> None:
        names = [spec.username for spec in users()]
        if username not in names:
            raise CommandError(f"{username!r} is not a demo account; use one of {', '.join(names)}")
        user = get_user_model().objects.filter(username=username).first()
        # Only in a demo database: a real installation may have an account of the same name.
        if user is None or not load.demo_loaded():
            raise CommandError("the demo is not loaded in this database: run `sitaware demo` first")
        secret = create_token(user, "demo")
        self.stdout.write(f"API token for {username} (shown once): {secret}")
        self.stdout.write(f"  curl -H 'Authorization: Bearer {secret}' http://127.0.0.1:8000/api/v1/me")

    def _import_ucdp(self, path: Path, disable: bool | None) -> int:
        if not path.exists():
            self.stdout.write(f"No UCDP events file at {path}: the real events are not imported.")
            return 0
        with tqdm(unit=" rows", desc="UCDP events", disable=disable) as bar:
            def progress(done: int, total: int | None) -> None:
                bar.total = total
                bar.update(done - bar.n)

            job = load.import_ucdp(path, progress)
        self.stdout.write(f"UCDP GED events imported as UNPOL records (import job {job.pk}): {job.message}")
        return job.created_count + job.updated_count + job.unchanged_count

    def _anchor(self, until: str | None, marker: load.Marker | None) -> dt.datetime:
        now = timezone.now().replace(second=0, microsecond=0)
        if until:
            end = dt.datetime.combine(_date(until), dt.time(23, 59), tzinfo=dt.UTC)
            return min(end, now)
        return marker.anchor if marker else now

    def _breakdown(self, seed: int) -> None:
        rows = Record.objects.filter(external_source=DEMO_SOURCE, external_id__startswith=f"seed{seed}-")
        by_org = Counter(rows.values_list("organisation__code", flat=True))
        by_status = Counter(rows.values_list("status", flat=True))
        by_sensitivity = Counter(rows.values_list("sensitivity", flat=True))
        self.stdout.write("  by organisation: " + ", ".join(f"{k} {v}" for k, v in sorted(by_org.items())))
        self.stdout.write("  by status: " + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))
        self.stdout.write("  by sensitivity: " + ", ".join(
            f"{Sensitivity.slug(k)} {v}" for k, v in sorted(by_sensitivity.items())))
        self.stdout.write(f"  categories used: {rows.values('category').distinct().count()}")

    def _logins(self) -> None:
        table = [("username", "password", "organisation", "unit", "role", "clearance")]
        for spec in users():
            table.append((spec.username, DEMO_PASSWORD, ORG_BY_CODE[spec.organisation].code, spec.unit, spec.role,
                          Sensitivity.slug(spec.clearance)))
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        self.stdout.write("")
        self.stdout.write("Demo logins:")
        for number, row in enumerate(table):
            self.stdout.write("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                              .rstrip())
            if number == 0:
                self.stdout.write("  " + "  ".join("-" * width for width in widths))
        self.stdout.write("")
        self.stdout.write(self.style.WARNING(f"WARNING: {WARNING}"))
