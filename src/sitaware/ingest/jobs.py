"""The periodic poll for the task worker. django-tasks has no scheduler: the task re-enqueues itself.

`ensure_scheduled()` (called by `sitaware ingest schedule` and safe to call at every start) queues the
task only when none is waiting, so restarts never multiply the loop.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from sitaware.ingest import services

log = logging.getLogger("sitaware.ingest")
# How often the loop wakes to poll the sources that are due (each source keeps its own interval).
TICK_SECONDS = int(getattr(settings, "SITAWARE_INGEST_TICK_SECONDS", 60))


@task()
def poll_sources_task(reschedule: bool = True) -> dict[str, Any]:
    """Poll due sources, check silences, and queue the next run."""
    try:
        results = services.poll_due()
    finally:
        if reschedule:
            # Queued even when this run failed: the loop must outlive a bad poll.
            poll_sources_task.using(run_after=timezone.now() + dt.timedelta(seconds=TICK_SECONDS)).enqueue(True)
    return {"polled": len(results), "failed": sum(1 for _, o in results if not o.ok),
            "stored": sum(o.stored for _, o in results)}


def waiting() -> bool:
    """Whether a poll task is already queued (database queue only; other backends: assume not)."""
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover - the project ships the database backend
        return False
    return DBTaskResult.objects.filter(task_path=poll_sources_task.module_path, status="READY").exists()


def ensure_scheduled() -> bool:
    """Queue the poll loop unless it is already queued; True when it queued it."""
    if waiting():
        return False
    poll_sources_task.enqueue(True)
    return True
