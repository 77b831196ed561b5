"""Indicators kept current by the task worker. django-tasks has no scheduler: the task re-enqueues itself.

Each tick refreshes every active computed indicator from its change-log watermark (only the periods touched
since then are recomputed). An indicator never computed gets a full rebuild from its baseline period to the
current period. A failing indicator is logged and skipped; the others still refresh, and it is tried again
at the next tick. `ensure_scheduled()` queues the loop only when none is waiting, so restarts never multiply it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from sitaware.assessment import engine, values
from sitaware.assessment.models import DataSource, Indicator, IndicatorStatus
from sitaware.assessment.periods import period_of
from sitaware.core.scope import system_actor

log = logging.getLogger("sitaware.assessment")
TICK_SECONDS = int(getattr(settings, "SITAWARE_INDICATOR_TICK_SECONDS", 300))
ACTOR_LABEL = "indicator refresh"


@dataclass
class RefreshSummary:
    refreshed: int = 0  # recomputed some periods
    current: int = 0  # nothing changed since the watermark
    rebuilt: int = 0  # first computation, in full
    failed: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"refreshed": self.refreshed, "current": self.current, "rebuilt": self.rebuilt,
                "failed": self.failed}


def _first_build_range(ind: Indicator, today: dt.date) -> tuple[dt.date, dt.date]:
    # From the baseline (the plan's reference point) to the end of the current period.
    end = period_of(today, ind.frequency).end
    start = ind.baseline_period_start or period_of(today, ind.frequency).start
    return min(start, end - dt.timedelta(days=1)), end


def refresh_all(indicators: Any = None) -> RefreshSummary:
    """Bring every active computed indicator (or those given) up to the change log's head: plan them all (a
    first build from the baseline, or a refresh from the watermark), then compute them from one read of the
    records per organisation and store them together (`values.plan`, `values.run`)."""
    actor = system_actor(ACTOR_LABEL)
    if indicators is None:
        indicators = Indicator.objects.filter(data_source=DataSource.COMPUTED, status=IndicatorStatus.ACTIVE)
    chosen = list(indicators.select_related("framework__organisation").order_by("framework_id", "code"))
    head = engine.current_seq()
    today = timezone.now().date()
    summary = RefreshSummary()
    plans = values.plan(actor, chosen, head, first_build=lambda ind: _first_build_range(ind, today),
                        skip_current=True)
    summary.current += len(plans.current)
    for ind, exc in plans.failed:
        _failed(summary, ind, exc)
    for work, outcome in zip(plans.works, values.run(actor, plans.works, head), strict=True):
        if isinstance(outcome, Exception):
            _failed(summary, work.indicator, outcome)
        elif work.mode == "full":
            summary.rebuilt += 1
        elif outcome.periods:
            summary.refreshed += 1
        else:  # only other kinds of entries since the watermark (e.g. this job's own runs)
            summary.current += 1
    return summary


def _failed(summary: RefreshSummary, ind: Indicator, exc: Exception) -> None:
    log.error("refresh of indicator %s (%s) failed", ind.code, ind.pk, exc_info=exc)
    summary.failed.append({"indicator": str(ind.pk), "code": ind.code, "error": str(exc)})


@task()
def refresh_indicators_task(reschedule: bool = True) -> dict[str, Any]:
    """Refresh the indicators, then queue the next tick."""
    try:
        return refresh_all().as_dict()
    finally:
        if reschedule:
            # Queued even when this tick failed: the loop must outlive a bad run.
            refresh_indicators_task.using(run_after=timezone.now() + dt.timedelta(seconds=TICK_SECONDS)).enqueue(True)


def waiting() -> bool:
    """Whether a refresh task is already queued (database queue only; other backends: assume not)."""
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover - the project ships the database backend
        return False
    return DBTaskResult.objects.filter(task_path=refresh_indicators_task.module_path, status="READY").exists()


def ensure_scheduled() -> bool:
    """Queue the refresh loop unless it is already queued; True when it queued it."""
    if waiting():
        return False
    refresh_indicators_task.enqueue(True)
    return True
