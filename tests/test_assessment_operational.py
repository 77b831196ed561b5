"""Indicators over operations rather than records (#7): time from alert to decision, and patrol coverage of
priority cells. Alerts come from real detector runs and are decided through oversight; plans are proposed by the
solver, approved through the review gate and tracked by plan vs. actual. Figures must equal independent ORM
queries written here, reproduce, agree between incremental refresh and full rebuild after random decisions, stay
within the viewer's scope, and drill down to the alerts or plans they are made of.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
from decimal import Decimal

import pytest

from tests.conftest import _system
from tests.test_alerts_support import background, hotspot, load, make_detector, run
from tests.test_alerts_support import switch_on as alerts_on
from tests.test_planning_plans_support import payload
from tests.test_planning_plans_support import switch_on as planning_on

Y = 2026
RANGE = (dt.date(Y, 1, 1), dt.date(Y, 7, 1))
DECISION = {"type": "alert_decision", "statistic": "median", "unit": "hours"}
COVERAGE = {"type": "patrol_coverage", "basis": "planned", "weighting": "cells"}


def moment(month: int, day: int = 10, hour: int = 8) -> dt.datetime:
    return dt.datetime(Y, month, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def framework(world, actor):
    from sitaware.assessment import services

    ana = actor("ana")
    fw = services.create_framework(ana, {"code": "ops", "title": "Operations"})
    objective = services.add_objective(ana, fw.id, {"code": "O1", "title": "Timely response"})
    outcome = services.add_outcome(ana, objective.pk, {"code": "OC1", "title": "Alerts acted on"})
    output = services.add_output(ana, outcome.pk, {"code": "OP1", "title": "Decisions and patrols"})

    def indicator(code: str, formula: dict, **fields):
        data = {"output_id": output.pk, "code": code, "name": f"Indicator {code}", "frequency": "monthly",
                "baseline_value": "48", "baseline_period": "2025", "target_value": "12", "target_period": "2026",
                "owner": "ana", "direction": "decrease", "formula": formula, **fields}
        return services.create_indicator(ana, fw.id, data)

    return indicator


# ---------------------------------------------------------------- alerts


@pytest.fixture
def raised(world, actor):
    """Alerts raised by three detectors over the same hotspot, spread over January to May by their raise time."""
    from sitaware.alerts.models import Alert

    alerts_on(actor)
    load(actor, background(60, 1) + hotspot(24, 2))
    found = []
    for i in range(3):
        detector = make_detector(actor, name=f"Robberies {i}")
        run(actor, detector)
        found += list(Alert.objects.filter(detector=detector).order_by("created_at", "id"))
    assert len(found) >= 3
    for i, alert in enumerate(found):
        Alert.objects.filter(pk=alert.pk).update(created_at=moment(1 + i % 5, 3 + i), admin1=["Bangui", "Ouham"][i % 2])
    return list(Alert.objects.filter(pk__in=[a.pk for a in found]).order_by("created_at", "id"))


def decide(actor, alert, outcome: str, after_hours: float, who: str = "sam") -> None:
    """A decision through the oversight gate, then dated `after_hours` after the alert was raised (the test
    cannot wait that long)."""
    from sitaware.alerts.models import Alert
    from sitaware.oversight import services
    from sitaware.oversight.models import Decision

    kwargs = {"modified_output": {**alert.recommendation.output["proposal"], "severity": "Severe"}} \
        if outcome == "modify" else {}
    services.decide(actor(who), alert.recommendation_id, outcome, reason="checked with the sector", **kwargs)
    raised_at = Alert.objects.get(pk=alert.pk).created_at
    Decision.objects.filter(recommendation_id=alert.recommendation_id).update(
        decided_at=raised_at + dt.timedelta(hours=after_hours))


def independent_hours(organisation, month: int, **where) -> list[float]:
    from sitaware.alerts.models import Alert

    rows = Alert.objects.filter(organisation=organisation, created_at__gte=moment(month, 1, 0),
                                created_at__lt=moment(month + 1, 1, 0), recommendation__decision__isnull=False,
                                **where).values_list("created_at", "recommendation__decision__decided_at")
    return [(decided - created).total_seconds() / 3600 for created, decided in rows]


def stored(indicator, **disaggregation) -> dict[dt.date, Decimal | None]:
    from sitaware.assessment.models import IndicatorValue
    from sitaware.assessment.values import disaggregation_key

    qs = IndicatorValue.objects.filter(indicator=indicator, disaggregation_key=disaggregation_key(disaggregation))
    return {v.period_start: v.value for v in qs}


def test_time_from_alert_to_decision_equals_an_independent_query(framework, raised, world, actor):
    from sitaware.assessment import values

    for alert, (outcome, hours) in zip(raised, [("accept", 5.5), ("reject", 30), ("accept", 2.25), ("reject", 1)],
                                       strict=False):
        decide(actor, alert, outcome, hours)
    median = framework("T1", DECISION, disaggregation=["area", "category"])
    mean_days = framework("T2", {**DECISION, "statistic": "mean", "unit": "days",
                                 "filter": {"outcomes": ["accept"]}})
    for ind in (median, mean_days):
        values.compute(_system(), ind, *RANGE)
    checked = 0
    for month in range(1, 7):
        hours = independent_hours(world.unpol, month)
        got = stored(median)[dt.date(Y, month, 1)]
        if hours:
            assert got == Decimal(str(round(statistics.median(hours), 6))), month
            checked += 1
        else:
            assert got is None
        accepted = independent_hours(world.unpol, month, recommendation__decision__outcome="accept")
        got = stored(mean_days)[dt.date(Y, month, 1)]
        assert (got is None) if not accepted else abs(got - Decimal(statistics.mean(accepted) / 24)) < Decimal("1e-6")
    assert checked >= 3
    # Broken down by the alert's area and by each category its detector counts.
    for area in ("Bangui", "Ouham"):
        for month in range(1, 7):
            hours = independent_hours(world.unpol, month, admin1=area)
            if hours:
                expected = Decimal(str(round(statistics.median(hours), 6)))
                assert stored(median, area=area)[dt.date(Y, month, 1)] == expected
    by_category = stored(median, category="police.armed_robbery")
    assert by_category == {k: v for k, v in stored(median).items() if v is not None}
    # An alert still waiting is not counted, and an empty period says why.
    from sitaware.assessment.models import IndicatorValue

    empty = IndicatorValue.objects.get(indicator=median, period_start=dt.date(Y, 6, 1), disaggregation_key="{}")
    assert empty.value is None and "decided" in empty.empty_reason
    assert values.reproduce(median) == [] and values.reproduce(mean_days) == []


def test_a_decision_refreshes_its_alerts_period_and_agrees_with_a_full_rebuild(framework, raised, actor):
    from sitaware.assessment import values
    from sitaware.assessment.models import IndicatorValue

    rng = random.Random(11)
    ind = framework("T1", DECISION, disaggregation=["area"])
    values.compute(_system(), ind, *RANGE)
    assert all(v is None for v in stored(ind).values())

    def snapshot():
        return {(v.period_start, v.disaggregation_key): (v.value, v.empty_reason, v.record_count, v.sensitivity)
                for v in IndicatorValue.objects.filter(indicator=ind)}

    waiting = list(raised)
    rng.shuffle(waiting)
    changed = 0
    while waiting:
        alert = waiting.pop()
        decide(actor, alert, rng.choice(["accept", "reject", "modify"]), rng.uniform(0.5, 72))
        result = values.refresh(_system(), ind)
        assert result.periods == 1  # only the month the alert was raised in
        changed += result.created + result.changed
        incremental = snapshot()
        values.compute(_system(), ind, *RANGE)
        assert snapshot() == incremental
        assert values.reproduce(ind) == []
    assert changed >= len(raised)


def two_in_january_one_secret(raised, actor, outcome: str, hours: float):
    """Two alerts raised in January: a strictly confidential one accepted after 10 hours, and one of the usual
    sensitivity decided (`outcome`) after `hours`."""
    from sitaware.alerts.models import Alert
    from sitaware.oversight.models import Recommendation

    secret, other = raised[0], raised[1]
    Alert.objects.filter(pk=other.pk).update(created_at=moment(1, 20))
    Alert.objects.filter(pk=secret.pk).update(sensitivity=3)
    Recommendation.objects.filter(pk=secret.recommendation_id).update(sensitivity=3)
    decide(actor, secret, "accept", 10)
    decide(actor, other, outcome, hours)
    return secret, other


def test_scope_a_viewer_below_an_alerts_sensitivity_gets_a_partial_figure(framework, raised, world, actor):
    from sitaware.assessment import values
    from sitaware.assessment.errors import NotFound

    secret, other = two_in_january_one_secret(raised, actor, "accept", 2)
    ind = framework("T1", {**DECISION, "statistic": "mean"})
    values.compute(_system(), ind, *RANGE)
    jan = dt.date(Y, 1, 1).isoformat()
    full = next(v for v in values.read_values(actor("sam"), ind.id) if v.state["period_start"] == jan)
    mine = next(v for v in values.read_values(actor("ana"), ind.id) if v.state["period_start"] == jan)
    assert not full.partial
    assert Decimal(full.state["value"]) == Decimal(str(round(statistics.mean(independent_hours(world.unpol, 1)), 6)))
    # ana (clearance 2) cannot see the secret alert: her figure leaves it out and says it is partial.
    assert mine.partial and mine.state["partial_note"]
    seen = independent_hours(world.unpol, 1, sensitivity__lte=2)
    assert Decimal(mine.state["value"]) == Decimal(str(round(statistics.mean(seen), 6))) == Decimal(2)
    # Drill-down lists only the alerts the viewer may open.
    answer = values.drill_down(actor("sam"), full.state["id"])
    assert answer["item_type"] == "alert" and set(answer["record_ids"]) == {str(secret.pk), str(other.pk)}
    answer = values.drill_down(actor("ana"), full.state["id"])
    assert answer["partial"] and answer["record_ids"] == [str(other.pk)]
    # Another organisation sees neither the indicator nor its figures.
    with pytest.raises(NotFound):
        values.read_values(actor("hugo"), ind.id)


# ---------------------------------------------------------------- patrol coverage


def shift(month: int, day: int = 12) -> dict:
    start = moment(month, day, 6)
    return {"start": start.isoformat(), "end": (start + dt.timedelta(hours=3)).isoformat()}


@pytest.fixture
def plans(world, actor):
    """Five proposed plans, one a month from January to May, with two cells closed in the last one."""
    from sitaware.planning import services

    planning_on(actor)
    out = []
    for month in range(1, 6):
        extra = {}
        if month == 5:
            cells = payload()["cells"]
            extra["constraints"] = {**payload()["constraints"], "no_go": [cells[0]["id"], cells[1]["id"]]}
        out.append(services.propose_plan(actor("ana"), payload(shift=shift(month), **extra)))
    return out


def independent_coverage(organisation, month: int, made: bool = False, weighted: bool = False,
                         unit: str | None = None) -> Decimal | None:
    from sitaware.planning.models import Plan, PlanVisit

    plans = Plan.objects.filter(organisation=organisation, status__in=["approved", "dispatched"],
                                request__shift_start__gte=moment(month, 1, 0),
                                request__shift_start__lt=moment(month + 1, 1, 0))
    if made:
        plans = plans.filter(actual_at__isnull=False)
    covered = total = 0.0
    for plan in plans:
        closed = set(plan.request.constraints.get("no_go") or [])
        wanted = {c["id"]: (c["priority"] if weighted else 1) for c in plan.request.cells
                  if c["id"] not in closed and not c.get("curfew") and (c.get("priority") or c.get("required_visits"))}
        visits = PlanVisit.objects.filter(plan=plan)
        if unit is not None:
            visits = visits.filter(patrol__in=[u["id"] for u in plan.request.units if u["unit"] == unit])
        if made:
            visits = visits.filter(outcome__status__in=["made", "late"])
        seen = set(visits.values_list("cell", flat=True))
        total += sum(wanted.values())
        covered += sum(w for c, w in wanted.items() if c in seen)
    return None if not total else Decimal(str(round(100 * covered / total, 6)))


def test_patrol_coverage_equals_an_independent_query(framework, plans, world, actor):
    from sitaware.assessment import values
    from sitaware.planning import services, tracking

    for plan in plans[:4]:
        services.decide_plan(actor("sam"), plan.id, "approve", "covers the market")
    services.decide_plan(actor("sam"), plans[4].id, "reject", "not this week")  # never counted
    services.dispatch_plan(actor("sam"), plans[1].id)
    # Plan vs. actual for February: one unit follows its first two visits.
    feb = plans[1]
    for v in list(feb.visits.filter(patrol="hq-1").order_by("order"))[:2]:
        tracking.report_patrol(actor("ana"), feb.id, "hq-1", [
            {"cell": v.cell, "arrived": v.planned_arrival.isoformat(), "left": v.planned_departure.isoformat()}])
    tracking.plan_vs_actual(actor("sam"), feb.id)
    planned = framework("P1", COVERAGE, direction="increase", disaggregation=["unit"])
    made = framework("P2", {**COVERAGE, "basis": "made"}, direction="increase")
    weighted = framework("P3", {**COVERAGE, "weighting": "priority"}, direction="increase")
    for ind in (planned, made, weighted):
        values.compute(_system(), ind, *RANGE)
    for month in range(1, 7):
        period = dt.date(Y, month, 1)
        assert stored(planned)[period] == independent_coverage(world.unpol, month), month
        assert stored(planned, unit="bangui-hq").get(period) == (
            independent_coverage(world.unpol, month, unit="bangui-hq") if month <= 4 else None)
        assert stored(made)[period] == independent_coverage(world.unpol, month, made=True), month
        assert stored(weighted)[period] == independent_coverage(world.unpol, month, weighted=True), month
    assert 0 < stored(planned)[dt.date(Y, 1, 1)] <= 100
    assert 0 < stored(made)[dt.date(Y, 2, 1)] < stored(planned)[dt.date(Y, 2, 1)]
    assert stored(made)[dt.date(Y, 1, 1)] is None  # no plan vs. actual for January: nothing said about it
    for ind in (planned, made, weighted):
        assert values.reproduce(ind) == []
    # Drill-down: the plans behind January's figure.
    jan = next(v for v in values.read_values(actor("sam"), planned.id)
               if v.state["period_start"] == "2026-01-01" and not v.state["disaggregation"])
    answer = values.drill_down(actor("sam"), jan.state["id"])
    assert answer["item_type"] == "patrol_plan" and answer["record_ids"] == [str(plans[0].pk)]


def test_closed_cells_and_filters_narrow_what_coverage_counts(framework, plans, world, actor):
    from sitaware.assessment import values
    from sitaware.planning import services

    services.decide_plan(actor("sam"), plans[4].id, "approve", "with the closed cells")
    may = dt.date(Y, 5, 1)
    everything = framework("P1", COVERAGE, direction="increase")
    high = framework("P2", {**COVERAGE, "filter": {"min_priority": 8}}, direction="increase")
    other_unit = framework("P3", {**COVERAGE, "filter": {"units": ["bria"]}}, direction="increase")
    for ind in (everything, high, other_unit):
        values.compute(_system(), ind, *RANGE)
    assert stored(everything)[may] == independent_coverage(world.unpol, 5)
    value = next(v for v in values.read_values(actor("sam"), everything.id) if v.state["period_start"] == "2026-05-01")
    plan = plans[4]
    plan.refresh_from_db()
    assert value.state["record_count"] == len([c for c in plan.request.cells
                                                 if c["id"] not in plan.request.constraints["no_go"]])
    closed = plan.request.constraints["no_go"]
    high_cells = [c for c in plan.request.cells if c["priority"] >= 8 and c["id"] not in closed]
    seen = set(plan.visits.values_list("cell", flat=True))
    expected = Decimal(str(round(100 * sum(c["id"] in seen for c in high_cells) / len(high_cells), 6)))
    assert stored(high)[may] == expected
    assert stored(other_unit)[may] is None  # no Bria patrol in the plan: no figure, and the reason says so


def test_a_plan_decision_or_execution_refreshes_its_month_and_agrees_with_a_full_rebuild(framework, plans, actor):
    from sitaware.assessment import values
    from sitaware.assessment.models import IndicatorValue
    from sitaware.planning import services, tracking

    rng = random.Random(5)
    indicators = [framework("P1", COVERAGE, direction="increase", disaggregation=["unit"]),
                  framework("P2", {**COVERAGE, "basis": "made"}, direction="increase")]
    for ind in indicators:
        values.compute(_system(), ind, *RANGE)

    def snapshot(ind):
        return {(v.period_start, v.disaggregation_key): (v.value, v.empty_reason, v.record_count, v.sensitivity)
                for v in IndicatorValue.objects.filter(indicator=ind)}

    steps = [lambda p: services.decide_plan(actor("sam"), p.id, "approve", "ok"),
             lambda p: services.decide_plan(actor("sam"), p.id, rng.choice(["approve", "reject"]), "weekly review")]
    order = list(plans)
    rng.shuffle(order)
    worked = 0
    for number, plan in enumerate(order):
        steps[number % 2](plan)
        plan.refresh_from_db()
        if plan.status == "approved" and rng.random() < 0.7:
            visit = plan.visits.order_by("patrol", "order").first()
            tracking.report_patrol(actor("ana"), plan.id, visit.patrol, [
                {"cell": visit.cell, "arrived": visit.planned_arrival.isoformat(),
                 "left": visit.planned_departure.isoformat()}])
            tracking.plan_vs_actual(actor("sam"), plan.id)
        for ind in indicators:
            result = values.refresh(_system(), ind)
            assert result.periods == 1
            worked += result.created + result.changed
            incremental = snapshot(ind)
            values.compute(_system(), ind, *RANGE)
            assert snapshot(ind) == incremental
            assert values.reproduce(ind) == []
    assert worked > 0


def test_operational_formulas_break_down_only_by_what_they_carry(framework, world):
    from sitaware.assessment import formula, services

    ind = framework("P1", COVERAGE, direction="increase", disaggregation=["area", "unit", "sex"])
    assert services.computable_keys(ind, COVERAGE) == ["unit"]
    assert services.computable_keys(ind, DECISION) == ["area"]
    assert formula.group_keys({"type": "count"}) == ("area", "unit", "category")


def test_a_dashboard_keeps_the_narrower_viewers_share_and_its_page_drills_down_to_the_alerts(
        framework, raised, world, actor, client, monkeypatch):
    from sitaware.assessment import engine, values
    from sitaware.assessment.dashboards import services as dashboards
    from sitaware.assessment.models import CeilingFigure

    secret, other = two_in_january_one_secret(raised, actor, "reject", 4)
    ind = framework("T1", DECISION, disaggregation=["area"])
    board = dashboards.create_dashboard(actor("ana"), {"framework_id": str(ind.framework_id), "title": "Alerts"})
    dashboards.add_widget(actor("ana"), board.id, {"chart": "timeseries", "indicators": [str(ind.id)],
                                                   "breakdown": "area"})
    values.compute(_system(), ind, *RANGE)
    assert CeilingFigure.objects.filter(indicator=ind, ceiling=2).exists()

    def no_reading(*_args, **_kwargs):
        raise AssertionError("the alerts were read again")

    with monkeypatch.context() as patched:
        patched.setattr(engine, "operational_figures", no_reading)
        jan = next(v for v in values.read_values(actor("ana"), ind.id)
                   if v.state["period_start"] == "2026-01-01" and not v.state["disaggregation"])
    assert jan.partial and Decimal(jan.state["value"]) == Decimal(4) and jan.state["record_count"] == 1
    client.force_login(world.users["sam"])
    full = next(v for v in values.read_values(actor("sam"), ind.id)
                if v.state["period_start"] == "2026-01-01" and not v.state["disaggregation"])
    page = client.get(f"/assessment/values/{full.state['id']}/")
    text = page.content.decode()
    assert page.status_code == 200 and "The alerts it is made of" in text and "Alerts decided" in text
    assert str(secret.pk) in text and str(other.pk) in text and "2 items, read now within your scope." in text
    assert client.get(f"/assessment/dashboards/{board.id}/").status_code == 200
    client.force_login(world.users["ana"])
    text = client.get(f"/assessment/values/{full.state['id']}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert str(other.pk) in text and str(secret.pk) not in text
    assert "Les alertes dont il est fait" in text and "1 élément, lu maintenant dans votre périmètre." in text


def test_the_console_rebuilds_refreshes_and_checks_an_operational_indicator(framework, raised, actor):
    from tests.test_assessment_cli import run

    ind = framework("T1", DECISION, disaggregation=["area"])
    assert "full, 6 period(s), 6 new" in run("--all", "--from", "2026-01", "--to", "2026-06")
    assert "reproduces" in run("--all", "--check")
    decide(actor, raised[0], "accept", 3)
    with pytest.raises(Exception, match="did not reproduce"):
        run("--all", "--check")
    assert "incremental, 1 period(s)" in run("--all", "--indicator", ind.code)
    assert stored(ind)[dt.date(Y, raised[0].created_at.month, 1)] == Decimal(3)
    assert "reproduces" in run("--all", "--check")
