"""`sitaware import FILE`: import records from our CSV or GeoJSON, UCDP GED or ACLED, as a named user."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from sitaware.records import jobs
from sitaware.records.errors import RecordValidationError
from sitaware.records.importers import FORMATS
from sitaware.records.models import ImportJob, JobStatus

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = ("Import records from a file. Bad rows are reported one by one and skipped; importing the same file "
            "again updates what changed and creates no duplicates.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The file to import.")
        parser.add_argument("--format", required=True, choices=FORMATS,
                            help="csv (sitaware CSV, HXL row optional), geojson, ucdp (UCDP GED CSV), "
                                 "acled (ACLED CSV).")
        parser.add_argument("--as", dest="as_user", required=True, metavar="USERNAME",
                            help="Import with this user's rights; records and the change log name them.")
        parser.add_argument("--sensitivity", help="For rows that give none: public, restricted, confidential, "
                            "strictly_confidential. UCDP and ACLED rows default to public.")
        parser.add_argument("--status", help="For rows that give none, e.g. verified (needs the rights to "
                            "verify). Default: draft.")
        parser.add_argument("--unit", metavar="CODE", help="Reporting unit for rows that give none. Default: "
                            "the user's unit.")
        parser.add_argument("--background", action="store_true",
                            help="Queue the job for the task worker (`sitaware worker`) and return at once.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no file {path}")
        try:
            actor = jobs.actor_by_username(options["as_user"])
            job_options = jobs.import_options(actor, options["format"], sensitivity=options["sensitivity"],
                                              status=options["status"], reporting_unit=options["unit"])
        except (PermissionDenied, RecordValidationError) as exc:
            raise CommandError(str(exc)) from None
        # The upload limit protects the web server; at the console the operator decides what is too large.
        stored, sha256 = jobs.store_file(path, max_bytes=sys.maxsize)
        job = jobs.create_import_job(actor, format=options["format"], filename=path.name, path=stored,
                                     sha256=sha256, options=job_options)
        if options["background"]:
            jobs.enqueue_import(job)
            self.stdout.write(f"Import job {job.pk} queued; `sitaware worker` runs it. "
                              f"Follow it at GET /api/v1/imports/{job.pk}.")
            return
        started = time.monotonic()
        with tqdm(unit=" rows", desc="importing", disable=True if options["no_progress"] else None,
                  leave=False) as bar:
            job = jobs.run_import(job.pk, progress=_updater(bar))
        self._report(job, time.monotonic() - started)

    def _report(self, job: ImportJob, seconds: float) -> None:
        # A problem with the whole file is the job's message, said once at the end.
        rows = [p for p in job.errors if p.get("message") != job.message]
        for problem in rows[:SHOWN_ERRORS]:
            where = f"row {problem['row']}" if problem.get("row") is not None else "file"
            self.stderr.write(f"{where}, {problem.get('field')}: {problem.get('message')}")
        if job.error_count > SHOWN_ERRORS:
            self.stderr.write(f"... and more; all are listed at GET /api/v1/imports/{job.pk}")
        if job.status == JobStatus.FAILED:
            raise CommandError(f"import {job.pk} failed: {job.message}")
        self.stdout.write(self.style.SUCCESS(
            f"Imported {job.processed_rows} rows from {job.filename} in {seconds:.1f} s: {job.created_count} "
            f"created, {job.updated_count} updated, {job.unchanged_count} unchanged, {job.error_count} with "
            f"errors (job {job.pk})."))


def _updater(bar: tqdm):
    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.reset(total=total)
        bar.n = done
        bar.refresh()

    return update
