"""`sitaware detect run|list|schedule`: run early-warning detectors from the console."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitaware.alerts import jobs
from sitaware.alerts.models import Detector, DetectorRun, RunStatus
from sitaware.alerts.runner import run_detector
from sitaware.core.scope import actor_for
from sitaware.oversight.errors import OversightError


class Command(BaseCommand):
    help = ("Early warning: run detectors now (each as the analyst who configured it, or as --user), list them, "
            "or queue the scheduled runs for `sitaware worker`.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{run,list,schedule}")
        run = sub.add_parser("run", help="Run one detector (by id) or every enabled one (--all) now.")
        run.add_argument("detector", nargs="?", help="Detector id (see `sitaware detect list`).")
        run.add_argument("--all", action="store_true", help="Every enabled detector, scheduled or not.")
        run.add_argument("--user", help="Run as this user (default: the detector's creator).")
        run.add_argument("--progress", action="store_true", help="Show each stage as it happens.")
        sub.add_parser("list", help="Detectors with their method, schedule and last run.")
        sub.add_parser("schedule", help="Queue the scheduled detector runs for the task worker (safe to repeat).")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _run(self, options: dict[str, Any]) -> None:
        if bool(options["detector"]) == bool(options["all"]):
            raise CommandError("name one detector id or give --all")
        if options["all"]:
            detectors = list(Detector.objects.filter(enabled=True).select_related("created_by").order_by("name"))
        else:
            detectors = list(Detector.objects.filter(pk=_uuid(options["detector"])).select_related("created_by"))
            if not detectors:
                raise CommandError(f"no detector {options['detector']}; see `sitaware detect list`")
        failed = 0
        for detector in detectors:
            user = detector.created_by
            if options["user"]:
                user = get_user_model().objects.filter(username=options["user"]).first()
                if user is None:
                    raise CommandError(f"no user {options['user']!r}")
            progress = self._progress(detector.name) if options["progress"] else None
            try:
                run = run_detector(actor_for(user), detector.id, trigger="cli", progress=progress)
            except (OversightError, PermissionDenied) as exc:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{detector.name}: refused: {exc}"))
                continue
            c = run.counts
            if run.status == RunStatus.SUCCEEDED:
                self.stdout.write(f"{detector.name}: {c['records']} records in {c['cells']} cells; "
                                  f"{c['significant']} significant cluster(s): {c['raised']} raised, {c['updated']} "
                                  f"updates, {c['reraised']} raised again, {c['unchanged']} unchanged, "
                                  f"{c['suppressed']} not raised again after rejection (run {run.id})")
            else:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{detector.name}: FAILED: {run.error} (run {run.id})"))
        if failed:
            raise CommandError(f"{failed} detector run(s) failed or were refused")

    def _progress(self, name: str):
        def report(stage: str, done: int, total: int | None) -> None:
            of = f" {done}/{total}" if total else ""
            self.stdout.write(f"  {name}: {stage}{of}")
            self.stdout.flush()

        return report

    def _list(self, options: dict[str, Any]) -> None:
        rows = Detector.objects.select_related("organisation").order_by("organisation__code", "name")
        if not rows:
            self.stdout.write("no detector configured (POST /api/v1/alerts/detectors)")
        for d in rows:
            last = DetectorRun.objects.filter(detector=d).order_by("-started_at").first()
            schedule = f"every {d.schedule_hours} h" if d.schedule_hours else "on demand"
            state = "on" if d.enabled else "OFF"
            last_text = f"last run {last.started_at:%Y-%m-%d %H:%M} {last.status}" if last else "never run"
            self.stdout.write(f"{d.id}  {d.organisation.code}  {d.name}  [{d.method}, {state}, {schedule}]  "
                              f"{last_text}")

    def _schedule(self, options: dict[str, Any]) -> None:
        queued = jobs.ensure_scheduled()
        self.stdout.write("queued the scheduled detector runs" if queued else "already queued")


def _uuid(text: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise CommandError(f"{text!r} is not a detector id; see `sitaware detect list`") from None
