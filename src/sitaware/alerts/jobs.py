"""Scheduled detector runs for the task worker. django-tasks has no scheduler: the task re-enqueues itself.

Each tick runs the detectors that are due (enabled, with a schedule, next_run_at passed), each as the analyst
who configured it, so a scheduled run sees exactly what its creator may see. `ensure_scheduled()` queues the
loop only when none is waiting, so restarts never multiply it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django_tasks import task

from sitaware.alerts.models import Detector
from sitaware.core.scope import actor_for
from sitaware.oversight.errors import OversightError

log = logging.getLogger("sitaware.alerts")
TICK_SECONDS = int(getattr(settings, "SITAWARE_DETECT_TICK_SECONDS", 300))


def run_due(now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Run every due detector once; a failing one is logged and the others still run."""
    from sitaware.alerts.runner import run_detector

    now = now or timezone.now()
    out = []
    due = Detector.objects.filter(enabled=True, schedule_hours__gt=0, next_run_at__lte=now).order_by("next_run_at")
    for detector in due.select_related("created_by"):
        try:
            run = run_detector(actor_for(detector.created_by), detector.id, trigger="schedule")
            out.append({"detector": str(detector.id), "status": run.status, "error": run.error})
        except (OversightError, PermissionDenied) as exc:
            # Switched off component, creator who left the organisation...: skip until the next interval.
            log.warning("scheduled run of detector %s refused: %s", detector.id, exc)
            Detector.objects.filter(pk=detector.pk).update(
                next_run_at=now + dt.timedelta(hours=detector.schedule_hours))
            out.append({"detector": str(detector.id), "status": "refused", "error": str(exc)})
    return out


@task()
def run_due_detectors_task(reschedule: bool = True) -> dict[str, Any]:
    try:
        results = run_due()
    finally:
        if reschedule:
            # Queued even when this tick failed: the loop must outlive a bad run.
            run_due_detectors_task.using(run_after=timezone.now() + dt.timedelta(seconds=TICK_SECONDS)).enqueue(True)
    return {"ran": len(results), "failed": sum(1 for r in results if r["status"] != "succeeded")}


def waiting() -> bool:
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover - the project ships the database backend
        return False
    return DBTaskResult.objects.filter(task_path=run_due_detectors_task.module_path, status="READY").exists()


def ensure_scheduled() -> bool:
    """Queue the detector loop unless it is already queued; True when it queued it."""
    if waiting():
        return False
    run_due_detectors_task.enqueue(True)
    return True
