"""Plans asked for in the background (`planning.jobs`): checked when asked (bad input is refused at once and
nothing is queued), made by the task worker with the asker's rights as they are then and in their language,
logged at both ends (`plan.proposal.create`, `plan.proposal.finish`, the plan's own `plan.propose` in between,
all under the asking request's id), seen by the organisation's planners only; the API's background variant
(202, then the proposal's status and its plan) beside the synchronous `POST /plans`, which is unchanged."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from tests.test_planning_plans_support import END, START, payload, switch_on

BASE = "/api/v1/planning"


@pytest.fixture
def on(world, actor):
    switch_on(actor)


def _entries(job_id):
    from sitaware.core.models import ChangeEntry

    return list(ChangeEntry.objects.filter(object_type="plan_proposal", object_id=str(job_id)).order_by("seq"))


# ---------------------------------------------------------------- asking


def test_a_wrong_request_is_refused_when_asked_and_nothing_is_queued(on, actor):
    from django_tasks_db.models import DBTaskResult

    from sitaware.planning import jobs
    from sitaware.planning.errors import PlanInputError
    from sitaware.planning.models import PlanProposal

    with pytest.raises(PlanInputError) as refused:
        jobs.ask(actor("ana"), payload(shift={"start": END.isoformat(), "end": START.isoformat()},
                                       units=[{"id": "x", "unit": "bangui-hq", "base": None}]))
    assert "shift.end" in {p["field"] for p in refused.value.problems}
    # The solver's own validation too (it runs before the search, in the request).
    with pytest.raises(PlanInputError) as refused:
        jobs.ask(actor("ana"), payload(solver={"time_budget_s": -1}))
    assert [p["field"] for p in refused.value.problems] == ["time_budget_s"]
    with pytest.raises(PermissionDenied):
        jobs.ask(actor("rita"), payload())  # reporters do not plan
    assert not PlanProposal.objects.exists() and not DBTaskResult.objects.exists()


def test_asking_queues_one_task_and_logs_it(on, actor, world):
    from django_tasks_db.models import DBTaskResult

    from sitaware.oversight.services import input_hash
    from sitaware.planning import jobs
    from sitaware.planning.models import Plan

    job = jobs.ask(actor("ana"), payload())
    task = DBTaskResult.objects.get()
    assert (str(task.pk), task.status, task.task_path) == (job.task_id, "READY", jobs.propose_plan_task.module_path)
    assert json.loads(json.dumps(task.args_kwargs))["args"] == [str(job.pk)]
    assert (job.status, job.time_budget_s, job.organisation_id) == ("queued", 5.0, world.unpol.pk)
    assert not Plan.objects.exists()
    [created] = _entries(job.pk)
    after = json.loads(created.data)["after"]
    assert created.action == "plan.proposal.create" and created.actor_id == world.users["ana"].pk
    assert (after["units"], after["cells"], after["payload_sha256"]) == (2, 37, input_hash(payload()))


# ---------------------------------------------------------------- running


def test_the_task_worker_makes_the_plan(transactional_db, world, actor):
    # transactional: the worker closes and reopens its connection, as a real worker between tasks.
    from django_tasks_db.models import DBTaskResult

    from sitaware.core.context import request_context
    from sitaware.core.models import ChangeEntry
    from sitaware.oversight.models import RecommendationStatus
    from sitaware.planning import jobs
    from sitaware.planning.models import PlanProposal

    switch_on(actor)
    with request_context("asking-request"):
        job = jobs.ask(actor("ana"), payload())

    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    job = PlanProposal.objects.get(pk=job.pk)
    assert job.status == "succeeded" and job.started_at <= job.solving_at <= job.finished_at
    plan = job.plan
    assert plan.status == "proposed" and plan.recommendation.status == RecommendationStatus.PENDING
    assert plan.recommendation.requested_by == world.users["ana"]
    assert DBTaskResult.objects.get(pk=job.task_id).status == "SUCCESSFUL"
    assert job.request_id == "asking-request"
    mine = ChangeEntry.objects.filter(request_id="asking-request").order_by("seq").values_list("action", flat=True)
    assert list(mine) == ["plan.proposal.create", "recommendation.create", "plan.propose",
                                    "plan.proposal.finish"]


def test_a_task_run_twice_makes_one_plan(on, actor):
    from sitaware.planning import jobs
    from sitaware.planning.models import Plan

    job = jobs.ask(actor("ana"), payload())
    first = jobs.run_proposal(job.pk)
    again = jobs.run_proposal(job.pk)
    assert first.status == again.status == "succeeded" and again.plan_id == first.plan_id
    assert Plan.objects.count() == 1 and len(_entries(job.pk)) == 2


def test_the_worker_uses_the_askers_rights_as_they_are_then(on, actor, world):
    from sitaware.planning import jobs
    from sitaware.planning.models import Plan

    job = jobs.ask(actor("ana"), payload())
    membership = world.users["ana"].membership
    membership.role = "reporter"
    membership.save()
    job = jobs.run_proposal(job.pk)
    assert job.status == "failed" and "analysts, supervisors and commanders" in job.error
    assert not Plan.objects.exists()
    finish = json.loads(_entries(job.pk)[-1].data)
    assert finish["before"] == {"status": "running"} and finish["after"]["status"] == "failed"


def test_a_planner_switched_off_while_queued_fails_the_proposal_in_words(on, actor):
    from sitaware.oversight import services as oversight
    from sitaware.planning import jobs
    from tests.test_planning_plans_support import KEY

    job = jobs.ask(actor("ana"), payload())
    oversight.set_enabled(actor("adam"), KEY, False, reason="under review")
    job = jobs.run_proposal(job.pk)
    assert job.status == "failed" and "switched off by an administrator" in job.error and job.plan_id is None


def test_a_plan_failing_the_recheck_is_not_stored_and_the_proposal_says_so(on, actor, monkeypatch):
    from sitaware.planning import jobs
    from sitaware.planning import services as planning_services
    from sitaware.planning.models import Plan

    job = jobs.ask(actor("ana"), payload())
    monkeypatch.setattr(planning_services, "check_plan", lambda *a, **k: ["hq-1 arrives after its shift"])
    job = jobs.run_proposal(job.pk)
    assert job.status == "failed" and "failed the independent re-check: hq-1 arrives after its shift" in job.error
    assert not Plan.objects.exists()


def test_the_worker_answers_in_the_askers_language(on, actor):
    from django.utils import translation

    from sitaware.core.models import Unit
    from sitaware.planning import jobs

    with translation.override("fr"):
        job = jobs.ask(actor("ana"), payload())
    Unit.objects.filter(code="bangui-hq").update(code="bangui-centre")  # renamed before the worker takes it
    job = jobs.run_proposal(job.pk)
    assert job.language == "fr" and job.error == "La demande a été refusée : 2 problèmes à corriger."
    assert job.problems[0] == {"field": "units[0].unit", "message": "aucune unité bangui-hq dans votre organisation"}


# ---------------------------------------------------------------- scope


def test_a_proposal_is_seen_by_its_organisations_planners_only(on, actor):
    from sitaware.planning import jobs
    from sitaware.planning.errors import ProposalNotFound

    job = jobs.ask(actor("ana"), payload())
    assert jobs.get_proposal(actor("sam"), job.pk) == job
    assert [j.pk for j in jobs.recent_proposals(actor("cora"))] == [job.pk]
    for outsider in ("hugo", "sara", "rita", "otto", "adam"):
        with pytest.raises(ProposalNotFound):
            jobs.get_proposal(actor(outsider), job.pk)
        assert jobs.recent_proposals(actor(outsider)) == []
    with pytest.raises(ProposalNotFound):
        jobs.get_proposal(actor("ana"), "not-an-id")


# ---------------------------------------------------------------- API


def test_the_api_asks_in_the_background_and_follows_the_proposal_to_its_plan(on, client, tokens):
    from sitaware.planning import jobs

    response = client.post(f"{BASE}/plans/proposals", data=json.dumps(payload()), content_type="application/json",
                           **tokens("ana"))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["plan"] is None and body["tasks_ahead"] == 0
    assert body["url"] == f"{BASE}/plans/proposals/{body['id']}" and body["page"] == f"/plans/proposals/{body['id']}/"
    assert client.get(body["url"], **tokens("sam")).json()["status"] == "queued"
    assert client.get(body["url"], **tokens("hugo")).status_code == 404
    assert client.get(body["url"], **tokens("rita")).status_code == 404

    jobs.run_proposal(body["id"])
    done = client.get(body["url"], **tokens("ana")).json()
    assert done["status"] == "succeeded" and done["plan_url"] == f"{BASE}/plans/{done['plan']}"
    assert done["elapsed_s"] is not None and done["error"] is None
    plan = client.get(done["plan_url"], **tokens("ana"))
    assert plan.status_code == 200 and plan.json()["status"] == "proposed"


def test_the_api_refuses_a_wrong_request_at_once_and_still_solves_synchronously(on, client, tokens):
    from sitaware.planning.models import PlanProposal

    bad = payload(shift={"start": END.isoformat(), "end": START.isoformat()})
    response = client.post(f"{BASE}/plans/proposals", data=json.dumps(bad), content_type="application/json",
                           **tokens("ana"))
    assert response.status_code == 400 and "shift.end" in {e["field"] for e in response.json()["errors"]}
    assert not PlanProposal.objects.exists()
    # The synchronous route is unchanged: the plan in the answer, no proposal.
    made = client.post(f"{BASE}/plans", data=json.dumps(payload()), content_type="application/json",
                       **tokens("ana"))
    assert made.status_code == 201 and made.json()["status"] == "proposed"
    assert not PlanProposal.objects.exists()
