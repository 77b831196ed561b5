"""Patrol plans in the product: proposals are recommendations with every R-AI-03 field, re-checked plans only,
clear errors for bad input, infeasibility explained, edits that never approve, approval only through a decision,
the change log, and scope between two organisations."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied

from tests.test_planning_plans_support import BANGUI, END, KEY, START, payload, solver_plan_from_db, switch_on


@pytest.fixture
def on(world, actor):
    switch_on(actor)


@pytest.fixture
def plan(on, actor):
    from sitaware.planning import services

    return services.propose_plan(actor("ana"), payload())


def _entries(plan, action=None):
    from sitaware.core.models import ChangeEntry

    qs = ChangeEntry.objects.filter(object_type="patrol_plan", object_id=str(plan.id)).order_by("seq")
    return [e for e in qs if action is None or e.action == action]


# ---------------------------------------------------------------- proposing


def test_a_proposal_is_a_recommendation_with_every_r_ai_03_field(plan, actor):
    from sitaware.oversight.models import RecommendationStatus

    rec = plan.recommendation
    assert plan.status == "proposed" and rec.status == RecommendationStatus.PENDING
    assert rec.component.key == KEY and rec.model_id == "planning/toptw-pyvrp"
    assert rec.model_version and len(rec.artefact_hash) == 64 and len(rec.input_hash) == 64
    assert rec.parameters["solver"]["seed"] == 1 and rec.parameters["solver_version"].startswith("planning-")
    assert rec.input_refs[0]["type"] == "plan_request" and rec.requested_role == "analyst"
    assert rec.uncertainty and rec.limitations and rec.purpose
    # Why each cell is in or out, for every candidate, and what the plan misses.
    cells = {c["id"] for c in plan.request.cells}
    assert set(rec.output["decisions"]) == cells == set(plan.decisions)
    reasons = {d["reason"] for d in plan.decisions.values()}
    assert "priority" in reasons and reasons & {"lower_priority", "no_time"}
    for cid in cells:
        assert cid in rec.explanation
    assert rec.output["missed"] == [] and plan.feasible
    # Per unit an ordered list with times, distance and priority covered.
    out = rec.output["units"]
    assert {u["unit"] for u in out} == {"hq-1", "hq-2"}
    assert all(u["distance_m"] > 0 and u["visits"] for u in out)
    assert plan.coverage["total_priority"] > 0 and 0 < plan.coverage["priority_share"] < 1


def test_every_stored_plan_passes_the_independent_recheck(plan):
    from sitaware.planning import services
    from sitaware.planning.solver.feasibility import check_plan

    assert check_plan(services.request_of(plan), solver_plan_from_db(plan)) == []
    visits = list(plan.visits.order_by("patrol", "order"))
    assert all(START <= v.planned_arrival <= v.planned_start < v.planned_departure <= END for v in visits)


def test_same_request_same_seed_same_plan(plan, actor):
    from sitaware.planning import services

    again = services.propose_plan(actor("ana"), payload())
    assert services.current_routes(again) == services.current_routes(plan)
    assert again.request.solver_version == plan.request.solver_version


def test_a_recheck_failure_is_never_stored(on, actor, monkeypatch):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanCheckFailed
    from sitaware.planning.models import Plan

    monkeypatch.setattr(services, "check_plan", lambda request, plan, provider=None: ["unit hq-1: tampered"])
    with pytest.raises(PlanCheckFailed):
        services.propose_plan(actor("ana"), payload())
    assert not Plan.objects.exists()


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"units": [{"id": "x", "unit": "bangui-hq", "base": None}]}, "units[0].base", "no base"),
    ({"shift": {"start": END.isoformat(), "end": START.isoformat()}}, "shift.end", "ends before it starts"),
    ({"cells": [{"id": "far", "lat": 6.5, "lon": 21.9, "priority": 1}]}, "cells[0].location", "outside"),
    ({"cells": [{"id": "a", "lat": 4.36, "lon": 18.55, "priority": 0},
                {"id": "b", "lat": 4.37, "lon": 18.56, "priority": 0}]}, "cells.priority", "all priorities are zero"),
    ({"units": [{"id": "x", "unit": "cnp-bangui", "base": list(BANGUI)}]}, "units[0].unit", "no unit"),
    ({"shift": {"start": "2026-11-20T06:00:00", "end": END.isoformat()}}, "shift.start", "time zone"),
])
def test_bad_input_gets_field_named_messages(on, actor, change, field, words):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError
    from sitaware.planning.models import Plan

    with pytest.raises(PlanInputError) as info:
        services.propose_plan(actor("ana"), payload(**change))
    assert any(p["field"] == field and words in p["message"] for p in info.value.problems), info.value.problems
    assert not Plan.objects.exists()


def test_every_problem_is_reported_at_once(on, actor):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    bad = payload(units=[{"id": "x", "unit": "bangui-hq", "base": None},
                         {"id": "y", "unit": "bangui-hq", "base": list(BANGUI), "speed_kmh": -3}],
                  cells=[{"id": "far", "lat": 6.5, "lon": 21.9, "priority": 0}])
    with pytest.raises(PlanInputError) as info:
        services.propose_plan(actor("ana"), bad)
    fields = {p["field"] for p in info.value.problems}
    assert {"units[0].base", "units[1].speed_kmh", "cells[0].location", "cells.priority"} <= fields


def test_an_impossible_constraint_is_explained(on, actor):
    from sitaware.planning import services

    far = {"id": "far-mandatory", "lat": 4.59, "lon": 18.79, "priority": 0, "required_visits": 1,
           "windows": [[START.isoformat(), (START.replace(hour=6, minute=20)).isoformat()]]}
    plan = services.propose_plan(actor("ana"), payload(cells=[*payload()["cells"], far]))
    assert plan.feasible is False
    assert plan.missed and plan.missed[0]["cell_id"] == "far-mandatory"
    assert plan.missed[0]["constraint"] == "no_unit_in_time"
    assert "NOT FEASIBLE" in plan.recommendation.explanation and "far-mandatory" in plan.recommendation.explanation
    assert plan.decisions["far-mandatory"]["reason"] == "mandatory_unmet"


def test_curfews_and_no_go_cells_are_respected(on, actor):
    from sitaware.planning import services

    data = payload()
    ids = [c["id"] for c in data["cells"]]
    curfew_end = START.replace(hour=8)
    data["constraints"].update(no_go=ids[:2], curfews=[{"start": START.isoformat(), "end": curfew_end.isoformat(),
                                                        "cells": ids[2:6]}])
    plan = services.propose_plan(actor("ana"), data)
    for v in plan.visits.all():
        assert v.cell not in ids[:2]
        if v.cell in ids[2:6]:
            assert v.planned_start >= curfew_end
    assert plan.decisions[ids[0]]["reason"] == "no_go"


def test_priorities_come_from_the_accepted_forecast_when_asked(on, actor, monkeypatch):
    import types

    from sitaware.analytics import services as analytics
    from sitaware.planning import services
    from tests.test_planning_plans_support import cells

    ranked = [{"cell": c["id"], "expected": c["priority"] / 10} for c in cells(1)]
    fake = types.SimpleNamespace(id="11111111-1111-1111-1111-111111111111", recommendation_id="r1", cells=ranked)
    seen = {}

    def accepted(actor, **kwargs):
        seen.update(kwargs, actor=actor.username)
        return fake

    monkeypatch.setattr(analytics, "accepted_risk_map", accepted)
    plan = services.propose_plan(actor("ana"), payload(cells=[], priorities={"forecast": "latest"}))
    assert seen["actor"] == "ana" and seen["at"] == START
    sources = {c["source"]["type"] for c in plan.request.cells}
    assert sources == {"forecast"} and len(plan.request.cells) == len(ranked)
    assert any(r["type"] == "risk_map" for r in plan.recommendation.input_refs)


def test_no_forecast_is_a_clear_error(on, actor):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    with pytest.raises(PlanInputError) as info:
        services.propose_plan(actor("ana"), payload(cells=[], priorities={"forecast": "latest"}))
    assert info.value.problems[0]["field"] == "priorities.forecast"


def test_switched_off_component_refuses(world, actor):
    from sitaware.oversight import services as oversight
    from sitaware.oversight.errors import ComponentDisabled
    from sitaware.planning import services

    oversight.ensure_builtin_components()
    with pytest.raises(ComponentDisabled):
        services.propose_plan(actor("ana"), payload())


# ---------------------------------------------------------------- edits and approval


def test_an_edit_recomputes_feasibility_and_coverage_and_never_approves(plan, actor):
    from sitaware.planning import services

    before = services.current_routes(plan)
    preview = services.edit_plan(actor("ana"), plan.id, [{"op": "drop", "unit": "hq-1", "index": 0}], dry_run=True)
    assert preview["stored"] is False and preview["violations"] == []
    assert preview["coverage"]["total_priority"] < plan.coverage["total_priority"]
    assert services.current_routes(plan) == before  # a preview changes nothing
    moved = before["hq-1"][-1]
    result = services.edit_plan(actor("ana"), plan.id, [{"op": "move", "unit": "hq-1", "index": len(before["hq-1"]) - 1,
                                                         "to_unit": "hq-1", "at": 0}])
    plan.refresh_from_db()
    assert plan.status == "edited" and plan.version == 2 and result["version"] == 2
    assert services.current_routes(plan)["hq-1"][0] == moved
    assert plan.recommendation.status == "pending" and plan.approved_at is None


def test_an_infeasible_edit_shows_violations_and_cannot_be_approved(plan, actor):
    from sitaware.oversight.errors import OversightValidationError
    from sitaware.planning import services

    unvisited = [c for c, d in plan.decisions.items() if not d["planned"]]
    # Walking hq-2 to every unvisited cell first cannot fit in a 3-hour shift.
    edits = [{"op": "add", "unit": "hq-2", "cell": c, "at": 0} for c in unvisited]
    result = services.edit_plan(actor("ana"), plan.id, edits)
    assert result["violations"] and any("after its shift ends" in v for v in result["violations"])
    with pytest.raises(OversightValidationError):
        services.decide_plan(actor("sam"), plan.id, "approve", "looks fine")
    plan.refresh_from_db()
    assert plan.status == "edited" and plan.recommendation.status == "pending"


def test_bad_edits_are_named(plan, actor):
    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    with pytest.raises(PlanInputError) as info:
        services.edit_plan(actor("ana"), plan.id, [{"op": "drop", "unit": "hq-9", "index": 0},
                                                   {"op": "add", "unit": "hq-1", "cell": "nowhere"},
                                                   {"op": "jump", "unit": "hq-1"}])
    assert [p["field"] for p in info.value.problems] == ["edits[0].unit", "edits[1].cell", "edits[2].op"]


def test_approval_only_through_a_decision_and_nothing_dispatched_before(plan, actor):
    from sitaware.oversight import services as oversight
    from sitaware.planning import exports, services
    from sitaware.planning.errors import PlanStateError

    with pytest.raises(PlanStateError):
        services.dispatch_plan(actor("sam"), plan.id)
    with pytest.raises(PlanStateError):
        exports.export_plan(actor("sam"), plan.id, "gpx")
    with pytest.raises(PermissionDenied):  # analysts may plan but not decide on plans
        oversight.decide(actor("ana"), plan.recommendation_id, "accept", "mine")
    oversight.decide(actor("cora"), plan.recommendation_id, "accept", "covers the market area")
    plan.refresh_from_db()
    assert plan.status == "approved" and plan.approved_by.username == "cora"
    assert services.dispatch_plan(actor("sam"), plan.id).status == "dispatched"


def test_an_edited_plan_is_approved_as_modified_with_the_edited_routes(plan, actor):
    from sitaware.planning import services

    services.edit_plan(actor("ana"), plan.id, [{"op": "drop", "unit": "hq-2", "index": 0}])
    plan.refresh_from_db()
    edited = services.current_routes(plan)
    approved = services.decide_plan(actor("sam"), plan.id, "approve", "dropped the first stop: road closed")
    assert approved.status == "approved" and services.current_routes(approved) == edited
    decision = approved.recommendation.decision
    assert decision.outcome == "modify" and decision.final_output["routes"] == edited


def test_rejection_in_the_review_queue_rejects_the_plan(plan, actor):
    from sitaware.oversight import services as oversight
    from sitaware.planning import services
    from sitaware.planning.errors import PlanStateError

    oversight.decide(actor("sam"), plan.recommendation_id, "reject", "not this shift")
    assert services.get_plan(actor("ana"), plan.id).status == "rejected"
    assert len(_entries(plan, "plan.reject")) == 1
    with pytest.raises(PlanStateError):
        services.edit_plan(actor("ana"), plan.id, [{"op": "drop", "unit": "hq-1", "index": 0}])


def test_plans_edits_approvals_and_executions_are_in_the_change_log(plan, actor):
    from sitaware.core import changelog
    from sitaware.core.models import ChangeEntry
    from sitaware.planning import services, tracking

    services.edit_plan(actor("ana"), plan.id, [{"op": "drop", "unit": "hq-1", "index": 0}])
    services.decide_plan(actor("sam"), plan.id, "approve", "ok")
    services.dispatch_plan(actor("sam"), plan.id)
    first = plan.visits.order_by("patrol", "order").first()
    tracking.report_patrol(actor("rita"), plan.id, first.patrol, [
        {"cell": first.cell, "arrived": first.planned_start.isoformat(), "left": first.planned_departure.isoformat()}])
    tracking.plan_vs_actual(actor("sam"), plan.id)
    actions = [e.action for e in _entries(plan)]
    assert actions == ["plan.propose", "plan.edit", "plan.approve", "plan.dispatch", "plan.positions", "plan.actual"]
    edit = _entries(plan, "plan.edit")[0]
    assert json.loads(edit.data)["after"]["version"] == 2 and edit.actor.username == "ana"
    approve = _entries(plan, "plan.approve")[0]
    assert approve.actor.username == "sam"
    rec_entries = ChangeEntry.objects.filter(object_id=str(plan.recommendation_id))
    rec_actions = set(rec_entries.values_list("action", flat=True))
    assert "recommendation.create" in rec_actions
    assert ChangeEntry.objects.filter(action="decision.create").exists()
    assert changelog.verify().ok


# ---------------------------------------------------------------- scope


def test_other_organisations_and_reporters(plan, actor):
    from sitaware.planning import services, tracking
    from sitaware.planning.errors import PlanNotFound

    with pytest.raises(PlanNotFound):
        services.get_plan(actor("hugo"), plan.id)
    with pytest.raises(PlanNotFound):
        services.edit_plan(actor("hugo"), plan.id, [{"op": "drop", "unit": "hq-1", "index": 0}])
    assert not services.scoped_plans(actor("sara")).exists()
    assert services.scoped_plans(actor("sam")).count() == 1
    with pytest.raises(PermissionDenied):
        services.propose_plan(actor("rita"), payload())
    # HSP plans its own shift with its own unit, and UNPOL does not see it.
    hsp = services.propose_plan(actor("hugo"), payload(units=[{"id": "cnp-1", "unit": "cnp-bangui",
                                                               "base": list(BANGUI)}]))
    assert not services.scoped_plans(actor("ana")).filter(pk=hsp.pk).exists()
    services.decide_plan(actor("sam"), plan.id, "approve", "ok")
    point = [{"at": START.isoformat(), "lat": BANGUI[0], "lon": BANGUI[1]}]
    with pytest.raises(PermissionDenied):  # rex reports for unit bria, not for bangui-hq's patrols
        tracking.report_positions(actor("rex"), plan.id, "hq-1", point)
    with pytest.raises(PlanNotFound):
        tracking.report_positions(actor("hana"), plan.id, "hq-1", point)
    assert tracking.report_positions(actor("rita"), plan.id, "hq-1", point) == 1


# ---------------------------------------------------------------- priorities and history


def test_the_repeat_cap_reads_the_last_approved_shifts(on, actor):
    import datetime as dt

    from sitaware.planning import services

    def shift(days: int) -> dict:
        s, e = START + dt.timedelta(days=days), END + dt.timedelta(days=days)
        return {"start": s.isoformat(), "end": e.isoformat()}

    chosen = []
    for day in (0, 1):
        p = services.propose_plan(actor("ana"), payload(shift=shift(day)))
        services.decide_plan(actor("sam"), p.id, "approve", "ok")
        chosen.append({v.cell for v in p.visits.all()})
    data = payload(shift=shift(2))
    data["constraints"]["max_consecutive"] = 2
    third = services.propose_plan(actor("ana"), data)
    both = chosen[0] & chosen[1]
    assert both and third.request.constraints["previous_shifts"] == [sorted(c) for c in chosen]
    assert {v.cell for v in third.visits.all()}.isdisjoint(both)
    assert all(third.decisions[c]["reason"] == "repeat_cap" for c in both)


def test_priorities_from_published_alerts(on, actor, monkeypatch):
    import types

    from sitaware.alerts import services as alerts
    from sitaware.planning import services
    from tests.test_planning_plans_support import cells

    ids = [c["id"] for c in cells(1)]
    fake = types.SimpleNamespace(id="a1", cells=ids[:3])

    class Rows(list):
        def filter(self, **kwargs):
            assert kwargs == {"state": "accepted"}
            return self

        def order_by(self, *args):
            return self

    monkeypatch.setattr(alerts, "scoped_alerts", lambda actor: Rows([fake]))
    manual = [{"id": ids[5], "priority": 2.0}]
    plan = services.propose_plan(actor("ana"), payload(cells=manual, priorities={"alerts": True, "alert_priority": 5}))
    by_id = {c["id"]: c for c in plan.request.cells}
    assert {by_id[i]["source"]["type"] for i in ids[:3]} == {"alert"} and by_id[ids[0]]["priority"] == 5
    assert by_id[ids[5]]["source"] == {"type": "manual"}
    assert {"type": "alert", "id": "a1", "cells": 3} in plan.recommendation.input_refs


def test_messages_are_translated(on, actor):
    from django.utils import translation

    from sitaware.planning import services
    from sitaware.planning.errors import PlanInputError

    with translation.override("fr"), pytest.raises(PlanInputError) as info:
        services.propose_plan(actor("ana"), payload(shift={"start": END.isoformat(), "end": START.isoformat()}))
    assert {"field": "shift.end", "message": "le service se termine avant de commencer"} in info.value.problems
    # The pure solver's own checks too: it keeps English templates that the service translates.
    zero = [{**c, "priority": 0.0} for c in payload()["cells"]]
    with translation.override("fr"), pytest.raises(PlanInputError) as info:
        services.propose_plan(actor("ana"), payload(cells=zero))
    [french] = [p["message"] for p in info.value.problems if p["field"] == "cells.priority"]
    assert french.startswith("toutes les priorités sont nulles") and french.endswith("rien à planifier")
    with pytest.raises(PlanInputError) as info:
        services.propose_plan(actor("ana"), payload(cells=zero))
    assert "there is nothing to plan for" in info.value.problems[0]["message"]


def test_an_edit_undone_is_approved_as_the_proposal(plan, actor):
    from sitaware.planning import services

    first = services.current_routes(plan)["hq-1"][0]
    services.edit_plan(actor("ana"), plan.id, [{"op": "drop", "unit": "hq-1", "index": 0}])
    services.edit_plan(actor("ana"), plan.id, [{"op": "add", "unit": "hq-1", "cell": first, "at": 0}])
    approved = services.decide_plan(actor("sam"), plan.id, "approve", "back to the proposal")
    assert approved.status == "approved" and approved.recommendation.decision.outcome == "accept"
