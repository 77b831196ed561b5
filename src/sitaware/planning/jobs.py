"""Proposing a plan in the background: checked when asked, solved by the task worker, followed on a page.

A search may take minutes (the planner chooses its time), which no web request should hold. `ask` makes, in the
request, every check `propose_plan` makes before it solves (`services.check_request`: role, request, the
solver's validation, travel times) and the kill switch, so bad input is still answered at once with every
problem named; it then stores a `PlanProposal`, logs `plan.proposal.create` and queues `propose_plan_task`,
in one transaction. The worker's `run_proposal` calls `services.propose_plan` with the asker's rights as they
are then (a role withdrawn meanwhile is honoured), in the asker's language and under the asking request's id,
and records the plan made or why there is none (`plan.proposal.finish`). The plan itself is logged by
`propose_plan` (`plan.propose`) and is in the plans and the review queue like any other.

The synchronous `propose_plan` (and `POST /api/v1/planning/plans`) are unchanged.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_tasks import task

from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.context import current_request_id, request_context
from sitaware.core.scope import Actor, actor_for, restrict
from sitaware.oversight import services as oversight
from sitaware.oversight.errors import OversightError, OversightValidationError
from sitaware.planning import services
from sitaware.planning.errors import ProposalNotFound
from sitaware.planning.models import PlanProposal, ProposalPhase, ProposalStatus

log = logging.getLogger("sitaware.planning")
OBJECT_TYPE = "plan_proposal"
OPEN = (ProposalStatus.QUEUED, ProposalStatus.RUNNING)
# A job nobody took within this time may have no worker to take it; one running far longer than its search time
# can explain may have lost its worker (a stopped worker leaves it running). The page then says so.
QUEUED_PATIENCE_S = 60
RUNNING_SLACK_S = 120


# ---------------------------------------------------------------- reading


def scoped_proposals(actor: Actor) -> QuerySet:
    """Proposals of the actor's organisation, within clearance, for those who may propose plans; for everyone
    else none (out of scope is absent: 404)."""
    if not services.may_propose(actor):
        return PlanProposal.objects.none()
    qs = restrict(PlanProposal.objects.all(), actor)
    if not actor.system:
        qs = qs.filter(organisation_id=actor.organisation_id)
    return qs.select_related("requested_by")


def get_proposal(actor: Actor, proposal_id: Any) -> PlanProposal:
    try:
        key = uuid.UUID(str(proposal_id))
    except ValueError:
        raise ProposalNotFound(_("no plan proposal %(id)s") % {"id": proposal_id}) from None
    job = scoped_proposals(actor).filter(pk=key).first()
    if job is None:
        raise ProposalNotFound(_("no plan proposal %(id)s") % {"id": proposal_id})
    return job


def recent_proposals(actor: Actor, *, hours: int = 24, limit: int = 20) -> list[PlanProposal]:
    """What the plans page lists: proposals still open, and those that failed in the last `hours` (a closed tab
    must not hide a failure); a successful one is its plan."""
    since = timezone.now() - dt.timedelta(hours=hours)
    shown = Q(status__in=OPEN) | Q(status=ProposalStatus.FAILED, finished_at__gte=since)
    return list(scoped_proposals(actor).filter(shown).order_by("-created_at")[:limit])


def elapsed_s(job: PlanProposal, now: dt.datetime | None = None) -> float | None:
    """Seconds since the worker took the job (to its end once finished); None while queued."""
    if job.started_at is None:
        return None
    end = job.finished_at or now or timezone.now()
    return max(0.0, (end - job.started_at).total_seconds())


def searched_s(job: PlanProposal, now: dt.datetime | None = None) -> float | None:
    """Seconds of search so far (what the time budget measures); None before the search starts."""
    if job.solving_at is None:
        return None
    end = job.finished_at or now or timezone.now()
    return max(0.0, (end - job.solving_at).total_seconds())


def looks_stuck(job: PlanProposal, now: dt.datetime | None = None) -> str | None:
    """"queued" or "running" when the job has waited or run longer than it should; None otherwise."""
    now = now or timezone.now()
    if job.status == ProposalStatus.QUEUED and (now - job.created_at).total_seconds() > QUEUED_PATIENCE_S:
        return "queued"
    ran = elapsed_s(job, now)
    if job.status == ProposalStatus.RUNNING and ran is not None and ran > 3 * job.time_budget_s + RUNNING_SLACK_S:
        return "running"
    return None


def tasks_ahead(job: PlanProposal) -> int | None:
    """Background tasks running or waiting before this one (database queue only; None when unknown)."""
    if job.status != ProposalStatus.QUEUED or not job.task_id:
        return None
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover - the project ships the database backend
        return None
    mine = DBTaskResult.objects.filter(pk=job.task_id).values_list("enqueued_at", flat=True).first()
    if mine is None:
        return None
    return (DBTaskResult.objects.running().count()
            + DBTaskResult.objects.ready().filter(enqueued_at__lt=mine).count())


def serialize_proposal(job: PlanProposal) -> dict[str, Any]:
    now = timezone.now()
    return {
        "id": str(job.pk), "status": job.status, "phase": job.phase or None,
        "requested_by": job.requested_by.get_username(), "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "time_budget_s": job.time_budget_s, "elapsed_s": _round(elapsed_s(job, now)),
        "searched_s": _round(searched_s(job, now)), "tasks_ahead": tasks_ahead(job),
        "plan": str(job.plan_id) if job.plan_id else None, "error": job.error or None, "errors": job.problems,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ---------------------------------------------------------------- asking


def ask(actor: Actor, data: Any, *, form: dict[str, Any] | None = None) -> PlanProposal:
    """Check the request as `propose_plan` would, then queue it. PlanInputError (400) names every problem and
    ComponentDisabled (423) says the planner is switched off; in either case nothing is stored or queued.
    `form` is what the asking page needs to show its form again (kept with the job, never sent to the solver)."""
    checked = services.check_request(actor, data)
    services.require_switched_on(actor)
    job_id = uuid.uuid4()
    # Asked outside a web request (the console, tests): the job's own id names the work instead.
    request_id = current_request_id() or f"proposal-{job_id.hex}"
    with request_context(request_id), transaction.atomic():
        job = PlanProposal.objects.create(
            id=job_id, organisation_id=actor.organisation_id, requested_by_id=actor.user_id, payload=data,
            form=form or {}, time_budget_s=checked.request.time_budget_s, request_id=request_id,
            language=translation.get_language() or "")
        # Queued in the same transaction (the database queue): no job without its task, nor the reverse.
        job.task_id = str(propose_plan_task.enqueue(str(job.pk)).id)
        job.save(update_fields=["task_id"])
        parsed = checked.parsed
        _log(job, actor.user_id, actor.label, "plan.proposal.create", None, {
            "status": job.status, "shift": [parsed.shift_start.isoformat(), parsed.shift_end.isoformat()],
            "units": len(parsed.units), "cells": len(parsed.cells), "time_budget_s": job.time_budget_s,
            "payload_sha256": oversight.input_hash(data), "task": job.task_id})
    return job


# ---------------------------------------------------------------- running


def run_proposal(proposal_id: uuid.UUID | str) -> PlanProposal:
    """Make the plan of one queued proposal (the task worker's work; tests call it directly). A proposal
    already taken or finished is left alone, so a task run twice makes one plan."""
    taken = PlanProposal.objects.filter(pk=proposal_id, status=ProposalStatus.QUEUED).update(
        status=ProposalStatus.RUNNING, phase=ProposalPhase.CHECKING, started_at=timezone.now())
    job = PlanProposal.objects.select_related("requested_by").get(pk=proposal_id)
    if not taken:
        return job
    user = job.requested_by
    with request_context(job.request_id), translation.override(job.language or None):
        try:
            actor = actor_for(user)
            if actor.organisation_id != job.organisation_id:
                raise PermissionDenied(_("you no longer belong to the organisation this plan was asked for"))
            plan = services.propose_plan(actor, job.payload, on_phase=lambda phase: _phase(job, phase))
        except OversightValidationError as exc:
            n = len(exc.problems)
            return _fail(job, ngettext("The request was refused: %(n)d problem to correct.",
                                       "The request was refused: %(n)d problems to correct.", n) % {"n": n},
                         exc.problems)
        except (OversightError, PermissionDenied) as exc:
            return _fail(job, str(exc))
        except Exception as exc:
            log.exception("plan proposal %s failed", job.pk)
            _fail(job, _("The search stopped unexpectedly: %(error)s. Ask again; if it happens again, tell the "
                         "administrator (proposal %(id)s).") % {"error": exc, "id": job.pk})
            raise
        return _finish(job, actor.user_id, actor.label, ProposalStatus.SUCCEEDED, plan_id=plan.pk)


def _phase(job: PlanProposal, phase: str) -> None:
    fields: dict[str, Any] = {"phase": phase}
    if phase == ProposalPhase.SOLVING:
        fields["solving_at"] = timezone.now()
    PlanProposal.objects.filter(pk=job.pk).update(**fields)


def _fail(job: PlanProposal, error: str, problems: list[dict[str, str]] | None = None) -> PlanProposal:
    user = job.requested_by
    problems = [{"field": str(p["field"]), "message": str(p["message"])} for p in problems or []]
    return _finish(job, user.pk, user.get_username(), ProposalStatus.FAILED, error=error, problems=problems)


def _finish(job: PlanProposal, actor_id: int, actor_label: str, status: str, *, plan_id: Any = None,
            error: str = "", problems: list[dict[str, str]] | None = None) -> PlanProposal:
    finished = timezone.now()
    with transaction.atomic():
        PlanProposal.objects.filter(pk=job.pk).update(status=status, plan_id=plan_id, error=error,
                                                      problems=problems or [], finished_at=finished)
        _log(job, actor_id, actor_label, "plan.proposal.finish", {"status": ProposalStatus.RUNNING},
             {"status": status, "plan": str(plan_id) if plan_id else None, "error": error or None,
              "problems": problems or []}, at=finished)
    return PlanProposal.objects.select_related("requested_by").get(pk=job.pk)


def _log(job: PlanProposal, actor_id: int | None, actor_label: str, action: str, before: Any, after: Any,
         at: dt.datetime | None = None) -> None:
    changelog.append(
        [PendingEntry(action=action, object_type=OBJECT_TYPE, object_id=str(job.pk), before=before, after=after,
                      organisation_id=job.organisation_id, sensitivity=job.sensitivity)],
        actor_id=actor_id, actor_label=actor_label, at=at,
    )


@task()
def propose_plan_task(proposal_id: str) -> dict[str, Any]:
    """Task-worker entry point for a plan proposal."""
    job = run_proposal(proposal_id)
    return {"status": job.status, "plan": str(job.plan_id) if job.plan_id else None}
