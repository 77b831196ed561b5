"""A plan being computed: `/plans/proposals/<id>/`, where `/plans/new` sends the planner (issue 6).

Presentation only: the proposal is read through `planning.jobs` (the viewer's scope: the organisation's
planners; anyone else gets 404). While the task worker has it, the page says where it is (waiting, with the tasks
ahead; checking; searching, with the time searched against the time asked for; storing) and reloads itself every
few seconds without JavaScript (a refresh inside `<noscript>`, which the planner may switch off); with
JavaScript, `plan.js` fetches the page instead and replaces the progress in place. Once the plan is made the page
answers with a redirect to it, so a reload or a page opened again later lands on the plan. A failed proposal
says why, lists the problems by field, and links back to the form as it was typed (`/plans/new?from=<id>`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from sitaware.core.scope import actor_for
from sitaware.planning import jobs
from sitaware.planning.errors import ProposalNotFound
from sitaware.planning.models import PlanProposal, ProposalPhase, ProposalStatus
from sitaware.web import views_plan_new

REFRESH_S = 3  # how often the page reloads itself (no script) or is fetched again (script)


def _utc(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _shift(payload: Any) -> str:
    shift = payload.get("shift") if isinstance(payload, dict) else None
    if not isinstance(shift, dict):
        return ""
    start, end = str(shift.get("start") or ""), str(shift.get("end") or "")
    return f"{start[:16].replace('T', ' ')} \u2013 {end[11:16]}"


def row(job: PlanProposal) -> dict[str, Any]:
    """A proposal as the plans page lists it."""
    return {"id": job.pk, "created": _utc(job.created_at)[:16], "by": job.requested_by.get_username(),
            "shift": _shift(job.payload), "status": job.status,
            "status_label": dict(ProposalStatus.choices).get(job.status, job.status)}


def _context(job: PlanProposal, auto: bool) -> dict[str, Any]:
    now = timezone.now()
    searched = jobs.searched_s(job, now)
    elapsed = jobs.elapsed_s(job, now)
    budget = job.time_budget_s
    units = job.payload.get("units") if isinstance(job.payload, dict) else None
    running = job.status in jobs.OPEN
    return {
        "job": job, "running": running, "auto": auto and running, "refresh_s": REFRESH_S,
        "status_label": dict(ProposalStatus.choices).get(job.status, job.status),
        "phase_label": dict(ProposalPhase.choices).get(job.phase, "") if job.status == ProposalStatus.RUNNING else "",
        "created": _utc(job.created_at), "started": _utc(job.started_at), "finished": _utc(job.finished_at),
        "shift": _shift(job.payload), "units": len(units) if isinstance(units, list) else None,
        "budget_s": round(budget), "elapsed_s": None if elapsed is None else round(elapsed),
        "searched_s": None if searched is None else round(min(searched, budget)),
        "over_budget": searched is not None and searched > budget,
        "tasks_ahead": jobs.tasks_ahead(job), "stuck": jobs.looks_stuck(job, now),
        "problems": views_plan_new.problem_list(job.problems, job.form),
        "retry": views_plan_new.stored_form(job.form) is not None,
    }


@login_required
@require_GET
def proposal(request: HttpRequest, proposal_id: str) -> HttpResponse:
    actor = actor_for(request.user)
    try:
        job = jobs.get_proposal(actor, proposal_id)
    except ProposalNotFound:
        raise Http404(_("no plan proposal %(id)s") % {"id": proposal_id}) from None
    if job.status == ProposalStatus.SUCCEEDED and job.plan_id:
        # plan.js's poll only learns that it is done (it then loads the page): the message is for that load.
        if request.headers.get("X-Sitaware-Poll") != "1":
            messages.success(request, _("Plan proposed. It changes nothing until a supervisor or commander "
                                        "approves it."))
        return HttpResponseRedirect(reverse("web:plan", args=[job.plan_id]))
    response = render(request, "web/plan_proposal.html", _context(job, request.GET.get("auto") != "0"))
    # Always asked again: a cached copy would show progress that has moved on.
    response["Cache-Control"] = "no-store"
    return response
