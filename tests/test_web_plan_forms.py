"""Asking for and changing a patrol plan in the browser (issue 6): `/plans/new` checks the form with the checks of
`planning.services.propose_plan` (each service problem next to its field, nothing typed lost, no JavaScript
needed) and has the task worker make the plan: the browser goes to the proposal's page, which follows it to the
plan (or says why there is none, and leads back to the form as typed); the plan page's edit form previews a change
with `edit_plan(dry_run=True)` (nothing stored or logged) and saves it for real (version + 1, `plan.edit` logged),
after which the review queue still has the plan and offers its changed routes; the organisation's default travel
provider is set on `/plans/`. EN/FR; a browser walks propose → the proposal's page → plan page → preview a drop →
save, and axe-core finds no critical or serious violation."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests import test_planning_plans_service as plans_service_tests
from tests.test_planning_plans_support import BANGUI, cells, payload
from tests.web_browser_support import (  # noqa: F401
    PASSWORD,
    browser_fixture,
    live_server_fixture,
    new_page,
    screenshots_dir,
    serious_axe_violations,
    sign_in,
)


def form(**overrides) -> dict:
    """The propose form as a browser sends it: two patrols, the cells by hand, default constraints."""
    data = {
        "shift_start": "2026-11-20T06:00", "shift_end": "2026-11-20T09:00", "rows": "3",
        "u0_id": "hq-1", "u0_unit": "bangui-hq", "u0_lat": str(BANGUI[0] - 0.01), "u0_lon": str(BANGUI[1] - 0.01),
        "u0_mode": "vehicle", "u0_speed": "20", "u0_crew": "4",
        "u1_id": "hq-2", "u1_unit": "bangui-hq", "u1_lat": str(BANGUI[0] + 0.01), "u1_lon": str(BANGUI[1]),
        "u1_mode": "foot", "u1_speed": "4", "u1_crew": "2",
        "u2_id": "", "u2_unit": "bangui-hq", "u2_lat": "", "u2_lon": "", "u2_mode": "vehicle", "u2_speed": "",
        "u2_crew": "",
        "cells_from": "hand", "cells": "\n".join(f"{c['id']} {c['priority']:g}" for c in cells(2)),
        "mandatory": "", "no_go": "", "dwell_min": "15", "exploration_share": "0", "max_consecutive": "",
        "bbox": "18.3, 4.2, 18.8, 4.6", "travel": "default", "time_budget_s": "1", "seed": "1",
    }
    data.update(overrides)
    return data


on = plans_service_tests.on  # the fixtures: the planning component on, and a plan proposed by ana
plan = plans_service_tests.plan


@pytest.fixture
def proposed(plan):
    return plan


def run_queued(response):
    """The task worker's part, run here explicitly: the form's POST only checked and queued the request."""
    from sitaware.planning import jobs

    assert response.status_code == 302, response.content.decode()[:3000]
    found = re.fullmatch(r"/plans/proposals/([0-9a-f-]{36})/", response["Location"])
    assert found, response["Location"]
    job = jobs.run_proposal(found.group(1))
    assert job.status == "succeeded", (job.error, job.problems)
    return job


def _error(html: str, element_id: str) -> str:
    found = re.search(rf'<p id="{element_id}" class="field-error"[^>]*>(.*?)</p>', html, re.S)
    assert found, element_id
    return found.group(1)


# ---------------------------------------------------------------- proposing


def test_the_form_proposes_a_plan_through_the_service(client, world, on, monkeypatch):
    from django_tasks_db.models import DBTaskResult

    from sitaware.core.models import ChangeEntry
    from sitaware.planning import jobs
    from sitaware.planning import services as planning_services
    from sitaware.planning.models import Plan, PlanProposal

    searches = []
    solve = planning_services.plan_shift
    monkeypatch.setattr(planning_services, "plan_shift", lambda *a, **k: searches.append(1) or solve(*a, **k))
    client.force_login(world.users["ana"])
    listing = client.get("/plans/").content.decode()
    assert 'href="/plans/new"' in listing
    page = client.get("/plans/new")
    assert page.status_code == 200 and 'name="u1_lat"' in page.content.decode()
    response = client.post("/plans/new", form(mandatory=f"{cells(2)[0]['id']} 2"))
    # The request was checked and queued; no search ran in it, and there is no plan yet.
    assert response.status_code == 302, response.content.decode()[:3000]
    job = PlanProposal.objects.get()
    assert response["Location"] == f"/plans/proposals/{job.id}/"
    assert searches == [] and not Plan.objects.exists()
    assert (job.status, job.requested_by, job.time_budget_s) == ("queued", world.users["ana"], 1.0)
    assert DBTaskResult.objects.get(pk=job.task_id).status == "READY"
    assert ChangeEntry.objects.filter(action="plan.proposal.create", object_id=str(job.id)).exists()
    waiting = client.get(response["Location"])
    html = waiting.content.decode()
    assert waiting.status_code == 200 and waiting["Cache-Control"] == "no-store"
    assert "Waiting for the task worker" in html and '<meta http-equiv="refresh" content="3">' in html
    assert "2026-11-20 06:00 \u2013 09:00" in html and 'data-poll="3"' in html
    assert 'href="/plans/proposals/' in client.get("/plans/").content.decode()  # listed as not made yet

    job = jobs.run_proposal(job.id)  # the task worker's part
    assert searches == [1] and job.status == "succeeded"
    plan = Plan.objects.get()
    assert job.plan_id == plan.id and job.finished_at and job.phase == "storing"
    done = client.get(f"/plans/proposals/{job.id}/")
    assert done.status_code == 302 and done["Location"] == f"/plans/{plan.id}/"
    assert plan.status == "proposed" and plan.recommendation.status == "pending"
    assert plan.recommendation.requested_by == world.users["ana"]
    pr = plan.request
    assert pr.shift_start.isoformat() == "2026-11-20T06:00:00+00:00"
    assert [(u["id"], u["unit"], u["base"], u["mode"], u["speed_kmh"], u["crew"]) for u in pr.units] == [
        ("hq-1", "bangui-hq", [BANGUI[0] - 0.01, BANGUI[1] - 0.01], "vehicle", 20.0, 4),
        ("hq-2", "bangui-hq", [BANGUI[0] + 0.01, BANGUI[1]], "foot", 4.0, 2)]  # the empty third row is ignored
    by_id = {c["id"]: c for c in pr.cells}
    assert {c: by_id[c]["priority"] for c in by_id} == {c["id"]: c["priority"] for c in cells(2)}
    assert by_id[cells(2)[0]["id"]]["required_visits"] == 2
    assert pr.constraints["dwell_s"] == 900 and pr.constraints["area"] == {"bbox": [18.3, 4.2, 18.8, 4.6]}
    assert pr.travel["chosen"] == "site" and pr.travel["described"]["provider"] == "straight_line"
    assert ChangeEntry.objects.filter(action="plan.propose", object_id=str(plan.id)).exists()
    entry = ChangeEntry.objects.get(action="plan.proposal.finish", object_id=str(job.id))
    assert json.loads(entry.data)["after"]["plan"] == str(plan.id) and entry.actor_id == world.users["ana"].pk
    # The plan's own entries name the request that asked for it, as when it was made in the request.
    assert ChangeEntry.objects.get(action="plan.propose").request_id == job.request_id != ""
    shown = client.get(done["Location"]).content.decode()
    assert "Plan proposed." in shown and "decide in the review queue" in shown
    assert 'href="/plans/proposals/' not in client.get("/plans/").content.decode()  # made: it is its plan now


def test_bad_input_is_named_next_to_each_field_and_nothing_typed_is_lost(client, world, on):
    from sitaware.planning.models import Plan, PlanProposal

    client.force_login(world.users["ana"])
    # What the form itself can tell: a priority that is not a number.
    typed = form(cells="886b9aa0a7fffff three")
    html = client.post("/plans/new", typed).content.decode()
    assert "give a number" in _error(html, "e-cells")
    # The service's problems, each beside its field: the shift ...
    response = client.post("/plans/new", form(shift_end="2026-11-20T05:00"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "the shift ends before it starts" in _error(html, "e-shift_end")
    assert 'id="pf-shift_end" name="shift_end" type="datetime-local" value="2026-11-20T05:00"' in html
    # ... a unit without a base (second row), a cell line that is not a cell (second line) ...
    lines = form()["cells"].splitlines()
    lines[1] = "pk5-market 2"
    response = client.post("/plans/new", form(u1_lat="", u1_lon="", cells="\n".join(lines)))
    html = response.content.decode()
    assert response.status_code == 400
    assert "has no lat/lon and is not an H3 cell" in _error(html, "e-cells")
    assert _error(html, "e-cells").startswith("line 2: ")
    # (the solver checks bases once the request parses)
    response = client.post("/plans/new", form(u1_lat="", u1_lon=""))
    html = response.content.decode()
    assert "has no base" in _error(html, "e-u1") and 'id="e-u0"' not in html
    assert 'id="pf-u1_lat" name="u1_lat" value=""' in html and 'aria-invalid="true"' in html
    assert 'value="hq-2"' in html and 'value="hq-1"' in html and "foot" in html
    assert form()["cells"].splitlines()[0] in html  # the cells typed are still there
    assert '<a href="#pf-u1_lat">' in html  # the summary leads to the field
    # ... and an unknown no-go cell.
    html = client.post("/plans/new", form(no_go="nowhere")).content.decode()
    assert "unknown cell ids: nowhere" in _error(html, "e-no_go")
    assert not Plan.objects.exists() and not PlanProposal.objects.exists()  # nothing queued either


def test_a_request_the_worker_refuses_says_why_and_leads_back_to_the_form_as_typed(client, world, on):
    from sitaware.core.models import ChangeEntry, Unit
    from sitaware.planning import jobs
    from sitaware.planning.models import Plan

    client.force_login(world.users["ana"])
    response = client.post("/plans/new", form())
    status_page = response["Location"]
    # Checked when asked; by the time the worker takes it, the unit has been renamed.
    Unit.objects.filter(code="bangui-hq").update(code="bangui-central")
    job = jobs.run_proposal(status_page.split("/")[-2])
    assert job.status == "failed" and not Plan.objects.exists()
    assert [p["field"] for p in job.problems] == ["units[0].unit", "units[1].unit"]
    finish = json.loads(ChangeEntry.objects.get(action="plan.proposal.finish", object_id=str(job.id)).data)
    assert finish["after"]["status"] == "failed" and len(finish["after"]["problems"]) == 2

    page = client.get(status_page)
    html = page.content.decode()
    assert page.status_code == 200 and "No plan made" in html and "http-equiv" not in html
    assert "The request was refused: 2 problems to correct." in html
    assert "<strong>Patrol 2</strong>: no unit bangui-hq in your organisation" in html
    retry = re.search(r'<a href="([^"]+)" id="proposal-retry">', html).group(1)
    assert retry == f"/plans/new?from={job.id}"
    again = client.get(retry).content.decode()
    assert "no unit bangui-hq in your organisation" in _error(again, "e-u1")
    assert 'value="hq-2"' in again and form()["cells"].splitlines()[0] in again  # as it was typed
    assert 'href="/plans/proposals/' in client.get("/plans/").content.decode()  # a failure stays in view a day


def test_a_search_that_breaks_shows_the_error_in_words(client, world, on, monkeypatch):
    from sitaware.planning import jobs
    from sitaware.planning import services as planning_services

    client.force_login(world.users["ana"])
    status_page = client.post("/plans/new", form())["Location"]

    def broken(*args, **kwargs):
        raise RuntimeError("the routing library ran out of memory")

    monkeypatch.setattr(planning_services, "plan_shift", broken)
    with pytest.raises(RuntimeError):  # re-raised, so the task queue records it as failed too
        jobs.run_proposal(status_page.split("/")[-2])
    html = client.get(status_page).content.decode()
    assert "The search stopped unexpectedly: the routing library ran out of memory." in html
    assert 'id="proposal-retry"' in html and "Waiting for the task worker" not in html


def test_a_proposal_is_seen_by_the_organisations_planners_only(client, world, on):
    from django.contrib.auth import get_user_model

    client.force_login(world.users["ana"])
    status_page = client.post("/plans/new", form())["Location"]
    proposal_id = status_page.split("/")[-2]
    client.force_login(world.users["sam"])  # a supervisor of the same organisation
    assert client.get(status_page).status_code == 200
    assert 'href="/plans/proposals/' in client.get("/plans/").content.decode()
    for outsider in ("hugo", "sara", "rita", "otto"):  # another organisation's analyst and supervisor; a reporter
        client.force_login(world.users[outsider])
        assert client.get(status_page).status_code == 404, outsider
        assert client.get(f"/plans/new?from={proposal_id}").status_code in (403, 404), outsider
        assert status_page not in client.get("/plans/").content.decode()
    client.force_login(get_user_model().objects.create_user(username="stranger", password=PASSWORD))
    assert client.get(status_page).status_code in (403, 404)
    client.logout()
    assert client.get(status_page).status_code == 302  # sign in first


def test_a_switched_off_planner_is_said_at_once_and_nothing_is_queued(client, world, on, actor):
    from sitaware.oversight import services as oversight
    from sitaware.planning.models import PlanProposal
    from tests.test_planning_plans_support import KEY

    oversight.set_enabled(actor("adam"), KEY, False, reason="under review")
    client.force_login(world.users["ana"])
    response = client.post("/plans/new", form())
    assert response.status_code == 423 and "switched off" in _error(response.content.decode(), "e-form")
    assert not PlanProposal.objects.exists()


def test_the_proposal_page_says_how_far_the_search_is(client, world, on):
    import datetime as dt

    from django.utils import timezone

    from sitaware.planning.models import PlanProposal

    client.force_login(world.users["ana"])
    status_page = client.post("/plans/new", form(time_budget_s="30"))["Location"]
    now = timezone.now()
    PlanProposal.objects.update(status="running", phase="solving", started_at=now - dt.timedelta(seconds=14),
                                solving_at=now - dt.timedelta(seconds=12))
    html = client.get(status_page).content.decode()
    assert "Searching for the best routes." in html
    assert re.search(r'<progress id="proposal-bar" max="30" value="1[23]">', html)
    assert re.search(r"Searched for 1[23] s of the 30 s asked for \(1[45] s since the worker started on it\)", html)
    # Without a script the page reloads itself, unless asked not to.
    assert '<meta http-equiv="refresh"' in html and 'href="?auto=0"' in html
    quiet = client.get(f"{status_page}?auto=0").content.decode()
    assert "http-equiv" not in quiet and "data-poll" not in quiet and 'id="proposal-check"' in quiet
    # Long past its search time: the worker may have stopped, and the page says so.
    PlanProposal.objects.update(started_at=now - dt.timedelta(minutes=10), solving_at=now - dt.timedelta(minutes=10))
    assert 'id="proposal-stuck"' in client.get(status_page).content.decode()


def test_time_windows_and_curfews_are_asked_for_in_the_form(client, world, on):
    from sitaware.planning.models import Plan

    client.force_login(world.users["ana"])
    first, second = [c["id"] for c in cells(2)][:2]
    typed = form(windows=f"{first} 07:00-08:00 08:30-08:45", curfews=f"08:40-10:00 {second}\n05:00-05:30",
                 mandatory=f"{first} 1\n{second} 1")
    run_queued(client.post("/plans/new", typed))
    pr = Plan.objects.get().request
    by_id = {c["id"]: c for c in pr.cells}
    assert by_id[first]["windows"] == [["2026-11-20T07:00:00+00:00", "2026-11-20T08:00:00+00:00"],
                                       ["2026-11-20T08:30:00+00:00", "2026-11-20T08:45:00+00:00"]]
    # A time earlier than the shift's start is on the next day (the form's times are within the shift).
    assert pr.constraints["curfews"] == [
        {"start": "2026-11-20T08:40:00+00:00", "end": "2026-11-20T10:00:00+00:00", "cells": [second]},
        {"start": "2026-11-21T05:00:00+00:00", "end": "2026-11-21T05:30:00+00:00"}]
    plan = Plan.objects.get()
    assert plan.feasible
    [visit] = plan.visits.filter(cell=first)  # mandatory: it is made, and starts inside one of its windows
    start = visit.planned_start.astimezone(dt.UTC).strftime("%H:%M")
    assert "07:00" <= start <= "08:00" or "08:30" <= start <= "08:45", start
    [visit] = plan.visits.filter(cell=second)  # it ends before its curfew
    assert visit.planned_departure.astimezone(dt.UTC).strftime("%H:%M") <= "08:40"

    html = client.post("/plans/new", form(windows=f"{first} 7h-8h", curfews="tonight")).content.decode()
    assert "line 1: give a cell id and one or more times HH:MM-HH:MM (UTC)" in _error(html, "e-windows")
    assert "line 1: give a time HH:MM-HH:MM (UTC)" in _error(html, "e-curfews")
    assert f"{first} 7h-8h" in html and "tonight" in html  # what was typed stays
    assert Plan.objects.count() == 1


def test_add_a_unit_shows_one_more_row_and_sends_nothing(client, world, on):
    from sitaware.planning.models import Plan

    client.force_login(world.users["ana"])
    response = client.post("/plans/new", {**form(), "add_unit": "1"})
    html = response.content.decode()
    assert response.status_code == 200 and 'name="rows" value="4"' in html
    assert 'name="u3_id"' in html and 'name="u4_id"' not in html
    assert 'value="hq-2"' in html and 'value="foot" selected' in html
    assert not Plan.objects.exists()


def test_only_planners_get_the_form(client, world, on):
    from django.contrib.auth import get_user_model

    assert client.get("/plans/new").status_code == 302  # anonymous → sign in
    client.force_login(world.users["rita"])  # a reporter
    assert client.get("/plans/new").status_code == 403
    assert client.post("/plans/new", form()).status_code == 403
    listing = client.get("/plans/").content.decode()
    assert "/plans/new" not in listing and 'id="travel-form"' not in listing
    client.force_login(get_user_model().objects.create_user(username="stranger", password=PASSWORD))
    assert client.get("/plans/new").status_code == 403
    client.force_login(world.users["cora"])  # commanders plan too
    assert client.get("/plans/new").status_code == 200


def test_cells_can_come_from_an_accepted_risk_map(client, world, on, actor):
    from sitaware.analytics.models import RiskMap
    from sitaware.oversight import services as oversight
    from sitaware.planning.models import Plan
    from tests.test_analytics_forecast_service import HOT, KEY, _load
    from tests.test_web_risk_map import FORM as RISK_FORM
    from tests.test_web_risk_map import _recent

    oversight.set_enabled(actor("adam"), KEY, True, reason="model card read")
    _load(actor, "sam", _recent(45, HOT, 1))
    client.force_login(world.users["ana"])
    assert client.post("/risk-maps/", RISK_FORM).status_code == 302
    risk_map = RiskMap.objects.get()
    # Not accepted yet: not offered.
    assert str(risk_map.id) not in client.get("/plans/new").content.decode()
    oversight.decide(actor("sam"), risk_map.recommendation_id, "accept", "matches the sector's view")
    assert f'<option value="{risk_map.id}"' in client.get("/plans/new").content.decode()
    html = client.post("/plans/new", form(cells_from="risk_map", risk_map="", cells="")).content.decode()
    assert "choose an accepted risk map" in _error(html, "e-risk_map")
    run_queued(client.post("/plans/new", form(cells_from="risk_map", risk_map=str(risk_map.id), top="15",
                                              cells="")))
    plan = Plan.objects.get()
    assert {c["source"]["type"] for c in plan.request.cells} == {"forecast"}
    assert {c["source"]["ref"] for c in plan.request.cells} == {str(risk_map.id)}
    assert len(plan.request.cells) == min(15, sum(1 for c in risk_map.cells if c.get("expected")))


# ---------------------------------------------------------------- editing


def _changes(client, plan, **fields):
    data = {"edits": "[]", "version": str(plan.version), "op": "", "visit": "", "cell": "", "to_unit": "", "at": "",
            "action": "preview"}
    data.update(fields)
    return client.post(f"/plans/{plan.id}/edit", data)


def _hidden(html: str, name: str) -> str:
    import html as html_lib

    return html_lib.unescape(re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html).group(1))


def test_a_preview_stores_nothing_and_save_stores_the_edit(client, world, proposed):
    from sitaware.core.models import ChangeEntry
    from sitaware.planning import services

    client.force_login(world.users["ana"])
    page = client.get(f"/plans/{proposed.id}/").content.decode()
    assert 'id="edit-form"' in page and 'value="hq-1:0"' in page
    before = services.current_routes(proposed)
    dropped = before["hq-1"][0]
    response = _changes(client, proposed, op="drop", visit="hq-1:0")
    html = response.content.decode()
    assert response.status_code == 200 and "Preview — not saved" in html
    expected = services.edit_plan(world_actor(world, "ana"), proposed.id, [{"op": "drop", "unit": "hq-1", "index": 0}],
                                  dry_run=True)
    facts = html.split('id="preview-facts"')[1].split("</table>")[0]
    assert f"{proposed.coverage['total_priority']:.2f}" in facts
    assert f"{expected['coverage']['total_priority']:.2f}" in facts
    assert "drop visit 1 of hq-1" in html and f"<code>{dropped}</code>" in html.split('id="edit-preview"')[1]
    # A drop moves no other visit: the rest keep their order (their numbers shift, they are not "new position").
    preview = html.split('id="edit-preview"')[1].split("</section>")[0]
    assert "new position" not in preview and "added" not in preview
    # Nothing stored, nothing logged.
    proposed.refresh_from_db()
    assert proposed.version == 1 and proposed.status == "proposed" and services.current_routes(proposed) == before
    assert not ChangeEntry.objects.filter(action="plan.edit").exists()
    pending = _hidden(html, "edits")
    assert json.loads(pending) == [{"op": "drop", "unit": "hq-1", "index": 0}]

    response = _changes(client, proposed, edits=pending, action="save")
    assert response.status_code == 302 and response["Location"] == f"/plans/{proposed.id}/"
    proposed.refresh_from_db()
    assert proposed.version == 2 and proposed.status == "edited"
    assert services.current_routes(proposed) == expected["routes"]
    entry = ChangeEntry.objects.get(action="plan.edit", object_id=str(proposed.id))
    assert json.loads(entry.data)["extra"]["edits"] == [{"op": "drop", "unit": "hq-1", "index": 0}]
    shown = client.get(response["Location"]).content.decode()
    assert "Plan saved (version 2)" in shown and f"/review/#rec-{proposed.recommendation_id}" in shown

    # The review queue still has it, says it was changed and offers the changed routes as the modification.
    client.force_login(world.users["sam"])
    queue = client.get("/review/").content.decode()
    assert f'id="rec-{proposed.recommendation_id}"' in queue
    assert f'id="plan-edited-{proposed.recommendation_id}"' in queue
    import html as html_lib

    article = queue.split(f'id="rec-{proposed.recommendation_id}"')[1].split("</article>")[0]
    offered = json.loads(html_lib.unescape(article.split('name="modified_output"')[1].split(">", 1)[1]
                                           .split("</textarea>")[0]))
    assert offered == {"plan": str(proposed.id), "routes": expected["routes"]}
    decided = client.post(f"/review/{proposed.recommendation_id}/decide",
                          {"outcome": "modify", "reason": "as the planner changed it", "modified_output":
                           json.dumps(offered), "next": f"/plans/{proposed.id}/"})
    assert decided.status_code == 302
    proposed.refresh_from_db()
    assert proposed.status == "approved" and services.current_routes(proposed) == expected["routes"]
    assert 'id="edit-form"' not in client.get(f"/plans/{proposed.id}/").content.decode()  # closed for edits
    late = _changes(client, proposed, op="drop", visit="hq-1:0", action="save", version="2")
    assert late.status_code == 302
    assert "no longer open for changes (Approved)" in client.get(late["Location"]).content.decode()
    proposed.refresh_from_db()
    assert proposed.version == 2 and proposed.status == "approved"


def world_actor(world, name):
    from sitaware.core.scope import actor_for

    return actor_for(world.users[name])


def test_changes_add_up_and_each_problem_is_named(client, world, proposed):
    from sitaware.planning import services

    client.force_login(world.users["sam"])  # supervisors edit too
    first = _changes(client, proposed, op="drop", visit="hq-1:0").content.decode()
    pending = _hidden(first, "edits")
    spare = next(c["id"] for c in proposed.request.cells if c["id"] not in services.current_routes(proposed)["hq-2"])
    second = _changes(client, proposed, edits=pending, op="add", cell=spare, to_unit="hq-2", at="1").content.decode()
    assert json.loads(_hidden(second, "edits")) == [{"op": "drop", "unit": "hq-1", "index": 0},
                                                    {"op": "add", "unit": "hq-2", "cell": spare, "at": 0}]
    unit2 = second.split('id="edit-preview"')[1].split("hq-2</h4>")[1].split("</table>")[0]
    assert f"<code>{spare}</code></td>" in unit2.split("<tr>")[2] and "added" in unit2.split("<tr>")[2]
    # A change the form cannot complete, and one the service refuses: named beside their fields, the list kept.
    missing = _changes(client, proposed, edits=pending, op="add", to_unit="hq-2")
    assert missing.status_code == 400 and "choose the cell" in _error(missing.content.decode(), "e-cell")
    far = _changes(client, proposed, edits=pending, op="move", visit="hq-2:0", to_unit="hq-1", at="99")
    html = far.content.decode()
    assert far.status_code == 400 and "no position 98 in this route" in _error(html, "e-at")
    assert json.loads(_hidden(html, "edits")) == json.loads(pending)  # the drop is still there, previewed
    assert "Preview — not saved" in html
    nothing = _changes(client, proposed)
    assert nothing.status_code == 400 and "choose a change first" in _error(nothing.content.decode(), "e-op")
    proposed.refresh_from_db()
    assert proposed.version == 1


def test_a_save_after_someone_else_changed_the_plan_is_refused(client, world, proposed, actor):
    from sitaware.planning import services

    services.edit_plan(actor("cora"), proposed.id, [{"op": "drop", "unit": "hq-2", "index": 0}])
    client.force_login(world.users["ana"])
    response = _changes(client, proposed, op="drop", visit="hq-1:0", action="save", version="1")
    assert response.status_code == 400
    assert "changed since you opened it (now version 2)" in response.content.decode()
    proposed.refresh_from_db()
    assert proposed.version == 2


def test_only_planners_edit(client, world, proposed):
    client.force_login(world.users["rita"])
    page = client.get(f"/plans/{proposed.id}/").content.decode()
    assert 'id="edit-form"' not in page
    assert _changes(client, proposed, op="drop", visit="hq-1:0", action="save").status_code == 403
    client.force_login(world.users["hugo"])  # another organisation
    assert _changes(client, proposed, op="drop", visit="hq-1:0", action="save").status_code == 404
    proposed.refresh_from_db()
    assert proposed.version == 1


# ---------------------------------------------------------------- default travel provider


def test_the_default_travel_provider_is_set_on_the_plans_page(client, world, on, actor, tmp_path, monkeypatch):
    from sitaware.planning import services

    monkeypatch.delenv("SITAWARE_PLANNING_TRAVEL", raising=False)
    monkeypatch.setenv("SITAWARE_OSM_DIR", str(tmp_path))
    client.force_login(world.users["ana"])
    page = client.get("/plans/").content.decode()
    assert "Straight line x detour factor" in page.split('id="travel-current"')[1] and 'id="travel-form"' not in page
    assert client.post("/plans/travel", {"travel": "speed_grid"}).status_code == 403
    client.force_login(world.users["sam"])
    assert 'id="travel-form"' in client.get("/plans/").content.decode()
    response = client.post("/plans/travel", {"travel": "speed_grid"})
    assert response.status_code == 302
    assert services.default_travel(actor("ana"))["spec"]["provider"] == "speed_grid"
    page = client.get("/plans/").content.decode()
    assert "Default travel times saved." in page and "Set by sam" in page
    assert '<option value="speed_grid" selected>' in page
    bad = client.post("/plans/travel", {"travel": "osm:gone.osm.pbf"})
    assert bad.status_code == 400
    assert "no OSM extract named gone.osm.pbf" in _error(bad.content.decode(), "e-travel-default")
    assert services.default_travel(actor("ana"))["spec"]["provider"] == "speed_grid"
    assert client.post("/plans/travel", {"travel": ""}).status_code == 400  # not a way to clear it
    assert services.default_travel(actor("ana"))["spec"]["provider"] == "speed_grid"
    client.post("/plans/travel", {"travel": "site"})
    assert services.default_travel(actor("ana"))["source"] == "built_in"
    # The propose form says which default applies.
    client.force_login(world.users["ana"])
    assert "Default: Straight line x detour factor" in client.get("/plans/new").content.decode()


# ---------------------------------------------------------------- French


def test_the_forms_speak_french(client, world, proposed):
    client.force_login(world.users["ana"])
    client.post("/i18n/setlang/", {"language": "fr", "next": "/plans/"})
    listing = client.get("/plans/").content.decode()
    assert "Demander un plan" in listing and "Temps de trajet par défaut" in listing
    new = client.get("/plans/new").content.decode()
    for french in ("Demander un plan de patrouille", "Unités en service", "Ajouter une unité", "Visites obligatoires",
                   "Cellules interdites", "Proposer un plan", "Ligne droite"):
        assert french in new, french
    html = client.post("/plans/new", form(shift_end="2026-11-20T05:00")).content.decode()
    assert "À corriger" in html and "le service se termine avant de commencer" in html
    preview = _changes(client, proposed, op="drop", visit="hq-1:0").content.decode()
    for french in ("Modifier le plan", "Aperçu — non enregistré", "Après les modifications", "Enregistrer",
                   "retirer la visite 1 de hq-1"):
        assert french in preview, french
    waiting = client.get(client.post("/plans/new", form())["Location"]).content.decode()
    for french in ("En attente du processus de tâches de fond", "La demande est correcte", "Temps de recherche demandé",
                   "Vous pouvez quitter cette page"):
        assert french in waiting, french


# ---------------------------------------------------------------- browser


def run_worker():
    """What `sitaware worker` does, once: run every queued task, then stop."""
    from django.core.management import call_command

    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def test_without_javascript_the_proposal_page_reloads_itself_to_the_plan(live_server_url, world, on, browser):
    from sitaware.planning.models import Plan

    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1:")
                  else route.abort())
    page = context.new_page()
    sign_in(page, live_server_url, "ana", "/plans/new")
    # The form's fields filled by hand would take long here; the same POST a browser sends, with its cookies.
    csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    answer = page.request.post(f"{live_server_url}/plans/new", form={**form(), "csrfmiddlewaretoken": csrf},
                               headers={"Referer": f"{live_server_url}/plans/new"}, max_redirects=0)
    assert answer.status == 302, answer.text()[:2000]
    page.goto(f"{live_server_url}{answer.headers['location']}")
    assert page.locator("#proposal-stop").is_visible()  # the planner may stop the reloading
    run_worker()
    page.wait_for_url(re.compile(r"/plans/[0-9a-f-]{36}/$"), timeout=30_000)
    assert page.url.endswith(f"/plans/{Plan.objects.get().id}/")
    context.close()


def test_a_proposal_searching_and_one_that_failed_are_accessible(live_server_url, world, on, browser, actor):
    import datetime as dt

    from django.utils import timezone

    from sitaware.core.models import Unit
    from sitaware.planning import jobs
    from sitaware.planning.models import PlanProposal

    typed = form()
    searching = jobs.ask(actor("sam"), payload())
    now = timezone.now()
    PlanProposal.objects.filter(pk=searching.pk).update(status="running", phase="solving", started_at=now,
                                                        solving_at=now - dt.timedelta(seconds=2))
    client_form = {"form": {k: typed[k] for k in typed if not k.startswith("u") and k != "rows"},
                   "rows": [{f: typed[f"u{i}_{f}"] for f in ("id", "unit", "lat", "lon", "mode", "speed", "crew")}
                            for i in range(3)]}
    failed = jobs.ask(actor("sam"), payload(), form=client_form)
    Unit.objects.filter(code="bangui-hq").update(code="bangui-centre")
    assert jobs.run_proposal(failed.pk).status == "failed"
    for language in ("en", "fr"):
        page = new_page(browser, locale="fr-FR" if language == "fr" else "en-GB")
        sign_in(page, live_server_url, "sam", f"/plans/proposals/{searching.pk}/?auto=0")
        if language == "fr":
            with page.expect_navigation():
                page.select_option("select[name=language]", "fr")
        assert page.locator("#proposal-bar").count() == 1
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(screenshots_dir() / f"plan-proposal-searching-{language}.png"), full_page=True)
        page.goto(f"{live_server_url}/plans/proposals/{failed.pk}/")
        assert page.locator("#proposal-problems li").count() == 2
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(screenshots_dir() / f"plan-proposal-failed-{language}.png"), full_page=True)
        with page.expect_navigation():
            page.click("#proposal-retry")
        assert page.locator("#e-u1").is_visible()  # the problem beside its row, the form as typed
        assert serious_axe_violations(page) == []
        page.context.close()


def test_the_browser_proposes_follows_the_search_previews_a_drop_and_saves(live_server_url, world, on, browser):
    from sitaware.planning.models import Plan

    out = screenshots_dir()
    typed = form()
    for language in ("en", "fr"):
        page = new_page(browser, locale="fr-FR" if language == "fr" else "en-GB")
        sign_in(page, live_server_url, "sam", "/plans/")  # a supervisor: also the travel form
        if language == "fr":
            with page.expect_navigation():
                page.select_option("select[name=language]", "fr")
            assert page.locator("html").get_attribute("lang") == "fr"
        assert serious_axe_violations(page) == []
        with page.expect_navigation():
            page.click("#plan-new-link")
        for name in ("shift_start", "shift_end"):
            page.fill(f"#pf-{name}", typed[name])
        for i in (0, 1):
            for f in ("id", "lat", "lon", "speed", "crew"):
                page.fill(f"#pf-u{i}_{f}", typed[f"u{i}_{f}"])
            page.select_option(f"#pf-u{i}_mode", typed[f"u{i}_mode"])
        page.fill("#pf-cells", typed["cells"])
        page.fill("#pf-bbox", typed["bbox"])
        page.click("#plan-form details > summary")
        page.fill("#pf-time_budget_s", "1")
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(out / f"plan-new-{language}.png"), full_page=True)
        with page.expect_navigation(timeout=60_000):
            page.click("#pf-submit")
        # The request is checked and queued: the proposal's page, which follows the task worker.
        assert re.search(r"/plans/proposals/[0-9a-f-]{36}/$", page.url), page.url
        assert page.locator("#proposal[data-poll]").count() == 1
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(out / f"plan-proposal-{language}.png"), full_page=True)
        run_worker()  # the worker's part, here, while the page polls
        page.wait_for_url(re.compile(r"/plans/[0-9a-f-]{36}/$"), timeout=30_000)
        plan = Plan.objects.order_by("-created_at").first()
        assert page.url == f"{live_server_url}/plans/{plan.id}/"
        assert page.locator("[role=status] .notice").count() == 1  # "Plan proposed.", once
        page.select_option("#ef-visit", "hq-1:0")
        page.check("input[name=op][value=drop]")
        page.click("#ef-preview")  # with the script: sent with fetch, the edit section replaced in place
        page.wait_for_selector("#edit-preview", timeout=30_000)
        assert page.url == f"{live_server_url}/plans/{plan.id}/"  # no reload: the map stays as it was
        assert page.evaluate("document.activeElement.id") == "edit-preview"
        assert len(json.loads(page.input_value("#edit-form input[name=edits]"))) == 1
        page.locator("#edit-preview").scroll_into_view_if_needed()
        page.screenshot(path=str(out / f"plan-edit-{language}.png"))
        assert serious_axe_violations(page) == []
        plan.refresh_from_db()
        assert plan.version == 1
        with page.expect_navigation():
            page.click("#ef-save")
        plan.refresh_from_db()
        assert plan.version == 2 and plan.status == "edited"
        assert page.locator("#plan-facts").is_visible()
        assert page.outside_requests == []
        page.context.close()
