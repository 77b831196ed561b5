"""`sitaware export`: write records to CSV or GeoJSON as a named user, logged with recipient and purpose."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from sitaware.records import exporters, jobs
from sitaware.records.errors import RecordValidationError
from sitaware.records.models import JobStatus


class Command(BaseCommand):
    help = ("Export the records a user may see to CSV (with HXL hashtags) or GeoJSON. Every export is logged "
            "with who made it, the filter, the recipient, the purpose and the sharing agreement.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=exporters.FORMATS)
        parser.add_argument("--as", dest="as_user", required=True, metavar="USERNAME",
                            help="Export what this user may see, with their redactions.")
        parser.add_argument("--recipient", required=True,
                            help="Who the export is for: an organisation code (needs a sharing agreement), a "
                                 "unit or a person.")
        parser.add_argument("--purpose", required=True, help="What the export is for.")
        parser.add_argument("--agreement", metavar="REFERENCE", help="Sharing agreement reference.")
        parser.add_argument("-o", "--output", type=Path, required=True, help="The file to write.")
        filters = parser.add_argument_group("filters")
        filters.add_argument("--since", help="Occurred at or after: YYYY-MM-DD or an ISO time with zone.")
        filters.add_argument("--until", help="Occurred before: YYYY-MM-DD or an ISO time with zone.")
        filters.add_argument("--bbox", help="min_lon,min_lat,max_lon,max_lat")
        filters.add_argument("--category", action="append", default=[], help="A category code (its children "
                             "included); repeat for more.")
        filters.add_argument("--kind", action="append", default=[], help="incident, event or activity.")
        filters.add_argument("--status", action="append", default=[], help="A record status; repeat for more.")
        filters.add_argument("--sensitivity", action="append", default=[], help="A sensitivity level.")
        filters.add_argument("--source-type", action="append", default=[], help="A source type.")
        filters.add_argument("--unit", action="append", default=[], help="A reporting unit code.")
        filters.add_argument("--text", default="", help="Words the title, narrative or place must contain.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        output: Path = options["output"]
        if output.exists() and output.is_dir():
            raise CommandError(f"{output} is a folder; give a file name")
        filters = {
            "since": options["since"], "until": options["until"], "bbox": options["bbox"],
            "categories": options["category"], "kinds": options["kind"], "statuses": options["status"],
            "sensitivities": options["sensitivity"], "source_types": options["source_type"],
            "units": options["unit"], "text": options["text"],
        }
        try:
            actor = jobs.actor_by_username(options["as_user"])
            job = jobs.create_export_job(actor, format=options["format"], filters=filters,
                                         recipient=options["recipient"], purpose=options["purpose"],
                                         agreement=options["agreement"])
        except (PermissionDenied, RecordValidationError) as exc:
            raise CommandError(str(exc)) from None
        started = time.monotonic()
        with tqdm(unit=" records", desc="exporting", disable=True if options["no_progress"] else None,
                  leave=False) as bar:

            def update(done: int, total: int | None) -> None:
                if total is not None and bar.total != total:
                    bar.reset(total=total)
                bar.n = done
                bar.refresh()

            job = jobs.run_export(job.pk, output=output, progress=update)
        if job.status == JobStatus.FAILED:
            raise CommandError(f"export {job.pk} failed: {job.message}")
        self.stdout.write(self.style.SUCCESS(
            f"Exported {job.row_count} records to {output} in {time.monotonic() - started:.1f} s "
            f"(sha256 {job.sha256[:12]}..., logged as export {job.pk})."))
