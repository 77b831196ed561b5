"""The one-read (columnar) computation gives exactly the figures of the query path, formula by formula.

`engine.evaluate` reads each measure with its own filtered query and reduces the rows; `engine.evaluate_many`
reads the records once as columns and reduces them with numpy. On random records of every kind, status,
category, area, unit, sensitivity and author, every formula type, breakdown and frequency must give the same
figures (value, reason, record count, sensitivity) both ways, for the organisation and for a narrower viewer.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from tests import test_assessment_engine as engine_tests

plan = engine_tests.plan  # the fixture

CATEGORIES = {"police.armed_robbery": "incident", "police.theft": "incident", "police.sgbv.rape": "incident",
              "conflict.battles.armed_clash": "event", "humanitarian.displacement": "event",
              "activity.patrol.foot": "activity"}
AREAS = ["Bangui", "Ouham", "Nana-Mambéré", ""]
FORMULAS = {
    "count-all": {"type": "count", "filter": {}},
    "count-parent": {"type": "count", "filter": {"categories": ["police"], "statuses": ["verified", "published"]}},
    "count-leaf-kind": {"type": "count", "filter": {"categories": ["police.theft", "police.sgbv"],
                                                    "kinds": ["incident"]}},
    "count-area-unit": {"type": "count", "filter": {"admin1": ["Ouham", "Bangui"], "units": ["bria"]}},
    "count-sensitive": {"type": "count", "filter": {"sensitivity_max": 1, "source_types": ["patrol_report"]}},
    "sum-fatalities": {"type": "sum", "field": "fatalities", "filter": {"kinds": ["incident", "event"]}},
    "sum-killed": {"type": "sum", "field": "casualties.killed", "filter": {}},
    "sum-civilians-injured": {"type": "sum", "field": "casualties.civilians.injured",
                              "filter": {"categories": ["conflict", "humanitarian"]}},
    "delay-median": {"type": "duration", "statistic": "median", "unit": "hours", "filter": {"categories": ["police"]}},
    "delay-mean": {"type": "duration", "statistic": "mean", "unit": "days", "filter": {}},
    "ratio": {"type": "ratio", "factor": 100,
              "numerator": {"type": "count", "filter": {"categories": ["police"], "statuses": ["published"]}},
              "denominator": {"type": "count", "filter": {"categories": ["police"]}}},
    "ratio-of-sums": {"type": "ratio", "factor": 1,
                      "numerator": {"type": "sum", "field": "casualties.civilians.killed", "filter": {}},
                      "denominator": {"type": "sum", "field": "fatalities", "filter": {"statuses": ["verified"]}}},
}
KEYS = [(), ("area",), ("area", "category", "unit")]


def _random_records(rng: random.Random, make_record, count: int) -> None:
    clearance = {"ana": 2, "rita": 1, "rex": 1, "sam": 3, "hugo": 3}  # hugo is the partner organisation's
    levels = ["public", "restricted", "confidential", "strictly_confidential"]
    for _ in range(count):
        occurred = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(0, 200 * 24 * 60),
                                                                          microseconds=rng.randrange(10**6))
        reported = occurred + dt.timedelta(seconds=rng.randrange(0, 5 * 86400), microseconds=rng.randrange(10**6))
        category = rng.choice(sorted(CATEGORIES))
        casualties = {group: {"killed": rng.randint(0, 3), "injured": rng.randint(0, 2)}
                      for group in rng.sample(["civilians", "security_forces", "unknown"], rng.randint(0, 2))}
        author = rng.choice(sorted(clearance))
        make_record(author, status=rng.choice(["draft", "in_review", "verified", "published",
                                                            "archived"]),
                    occurred_at=occurred.isoformat(), reported_at=reported.isoformat(),
                    kind=CATEGORIES[category], category=category,
                    admin1=rng.choice(AREAS), source_type=rng.choice(["field_report", "patrol_report"]),
                    sensitivity=rng.choice(levels[:clearance[author] + 1]),
                    casualties=casualties)


def _periods(frequency: str) -> tuple:
    from sitaware.assessment.periods import iter_periods

    return tuple(iter_periods(dt.date(2025, 1, 1), dt.date(2025, 8, 1), frequency))


def _as_tuples(figures) -> list[tuple]:
    return [(f.period, f.group, f.outcome, f.sensitivity) for f in figures]


@pytest.mark.parametrize("seed", [3, 11])
def test_one_read_gives_the_figures_of_the_query_path(seed, world, make_record, actor):
    from sitaware.assessment import engine
    from sitaware.core.models import Organisation

    _random_records(random.Random(seed), make_record, 120)
    organisation = engine.organisation_actor(Organisation.objects.get(code="unpol"))
    jobs = [engine.Job(formula, keys, _periods(frequency), frequency)
            for formula in FORMULAS.values() for keys in KEYS for frequency in ("monthly", "weekly", "quarterly")]
    together = list(engine.evaluate_many(organisation, jobs))
    assert len(together) == len(jobs)
    nonempty = 0
    for job, figures in zip(jobs, together, strict=True):
        expected = engine.evaluate(organisation, job.formula, list(job.keys), job.periods, job.frequency)
        assert _as_tuples(figures) == _as_tuples(expected), job
        [alone] = engine.evaluate_many(organisation, [job])  # one job: reads only its measures' records
        assert _as_tuples(alone) == _as_tuples(expected), job
        nonempty += sum(1 for f in figures if f.outcome.record_count)
    assert nonempty > 100  # the figures compared are not all empty


def test_a_narrower_viewer_gets_the_figures_of_the_query_path(world, make_record, actor):
    from sitaware.assessment import engine
    from sitaware.core.models import Organisation

    _random_records(random.Random(5), make_record, 80)
    organisation = engine.organisation_actor(Organisation.objects.get(code="unpol"))
    viewer = actor("rita")  # a reporter with clearance 1
    jobs = [engine.Job(formula, ("area",), _periods("monthly"), "monthly") for formula in FORMULAS.values()]
    for job, figures in zip(jobs, engine.evaluate_many(viewer, jobs, within=organisation), strict=True):
        expected = engine.evaluate(viewer, job.formula, ["area"], job.periods, "monthly", within=organisation)
        assert _as_tuples(figures) == _as_tuples(expected), job
    [everything] = engine.evaluate_many(organisation, jobs[:1])
    [narrower] = engine.evaluate_many(viewer, jobs[:1], within=organisation)
    assert sum(f.outcome.value for f in narrower if not f.group) < sum(f.outcome.value for f in everything
                                                                         if not f.group)


def test_a_period_without_records_still_has_its_total(world, make_record):
    from sitaware.assessment import engine
    from sitaware.core.models import Organisation

    make_record("ana", status="verified", occurred_at="2025-03-10T12:00:00+00:00",
                reported_at="2025-03-10T18:00:00+00:00")
    organisation = engine.organisation_actor(Organisation.objects.get(code="unpol"))
    periods = _periods("monthly")
    [figures] = engine.evaluate_many(organisation, [
        engine.Job(FORMULAS["delay-median"], ("area",), periods, "monthly")])
    totals = {f.period.start.month: f.outcome for f in figures if not f.group}
    assert sorted(totals) == [1, 2, 3, 4, 5, 6, 7]
    assert totals[3].value == 6 and totals[3].record_count == 1
    assert totals[1].value is None and totals[1].reason == "no records in this period"
    assert [f.group for f in figures if f.group] == [(("area", "Bangui"),)]


def test_a_tally_is_refused_for_a_duration():
    from sitaware.assessment import formula

    with pytest.raises(ValueError, match="needs every amount"):
        formula.evaluate(FORMULAS["delay-mean"], {"value": formula.Tally(3, 12)})
    assert formula.evaluate(FORMULAS["ratio"], {"numerator": formula.Tally(1, 1),
                                                "denominator": formula.Tally(4, 4)}).value == 25



def test_the_worker_computes_many_indicators_from_one_read_as_the_query_path_would(plan, make_record, actor,
                                                                                  monkeypatch):
    from sitaware.assessment import engine, jobs, services, values
    from sitaware.assessment.models import IndicatorValue

    _random_records(random.Random(17), make_record, 60)
    indicators = []
    for number, formula in enumerate(FORMULAS.values(), start=1):
        ind = plan.indicator(f"I{number}", formula=formula, disaggregation=["area", "unit"])
        services.activate_indicator(actor("sam"), ind.pk)
        indicators.append(ind)
    reads = []
    original = engine.read_columns

    def counting(*args, **kwargs):
        reads.append(len(args[1]))
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "read_columns", counting)
    first = jobs.refresh_all()  # first builds, from the baseline to the current month
    _random_records(random.Random(18), make_record, 20)
    second = jobs.refresh_all()  # incremental
    assert first.rebuilt == len(FORMULAS) and not first.failed
    assert second.refreshed == len(FORMULAS) and not second.failed
    assert reads == [len(FORMULAS), len(FORMULAS)]  # one read per run for every indicator
    for ind in indicators:
        # reproduce recomputes through the query path (engine.evaluate): an independent implementation.
        assert values.reproduce(ind) == [], ind.code
    assert IndicatorValue.objects.filter(indicator__in=indicators).exclude(record_count=0).count() > 50


def test_a_changed_figure_is_logged_with_its_state_before_and_after(plan, make_record):
    from decimal import Decimal

    from sitaware.assessment import values
    from sitaware.core.models import ChangeEntry
    from tests.conftest import _system

    ind = plan.indicator(formula=engine_tests.ROBBERY, disaggregation=["area"])
    engine_tests.make(make_record, 1)
    values.compute(_system(), ind, *engine_tests.RANGE)
    engine_tests.make(make_record, 1)
    assert values.refresh(_system(), ind).changed == 2  # January's total and its Bangui figure

    entry = ChangeEntry.objects.filter(action="indicator.compute").order_by("-seq").first()
    data = json.loads(entry.data)

    def by_group(states):
        return {(s["period"], json.dumps(s["disaggregation"])): Decimal(s["value"]) for s in states}

    assert by_group(data["before"]) == {("2025-01", "{}"): 1, ("2025-01", '{"area": "Bangui"}'): 1}
    assert by_group(data["after"]) == {("2025-01", "{}"): 2, ("2025-01", '{"area": "Bangui"}'): 2}
    assert {s["id"] for s in data["before"]} == {s["id"] for s in data["after"]}  # the same rows, updated


def _on_a_dashboard(plan, actor, *indicators):
    from sitaware.assessment.dashboards import services as dashboards

    ana = actor("ana")
    d = dashboards.create_dashboard(ana, {"framework_id": str(plan.framework.id), "title": "Board"})
    dashboards.add_widget(ana, d.id, {"chart": "timeseries", "indicators": [str(i.id) for i in indicators],
                                      "breakdown": "area"})


@pytest.mark.parametrize("seed", [23, 29])
def test_a_narrower_viewer_reads_the_kept_share_of_a_dashboard_figure_without_reading_records(
        seed, plan, make_record, actor, monkeypatch):
    from sitaware.assessment import engine, values
    from sitaware.assessment.models import CeilingFigure, IndicatorValue
    from tests.conftest import _system

    _random_records(random.Random(seed), make_record, 120)
    shown = [plan.indicator(f"S{n}", formula=FORMULAS[name], disaggregation=["area"])
             for n, name in enumerate(("count-parent", "delay-median", "ratio", "sum-killed"))]
    _on_a_dashboard(plan, actor, *shown)
    for ind in shown:
        values.compute(_system(), ind, dt.date(2025, 1, 1), dt.date(2025, 8, 1))
    assert CeilingFigure.objects.filter(indicator__in=shown, ceiling=2).exists()
    organisation = engine.organisation_actor(plan.framework.organisation)
    ana = actor("ana")  # an analyst of clearance 2
    live = {}
    for ind in shown:
        periods = sorted({(v.period_start, v.period_end) for v in IndicatorValue.objects.filter(indicator=ind)})
        from sitaware.assessment.periods import Period

        figures = engine.evaluate(ana, ind.definitions.get().formula, ["area"], [Period(*p) for p in periods],
                                  "monthly", within=organisation)
        live[ind.pk] = {(f.period.start.isoformat(), json.dumps(f.disaggregation, sort_keys=True)):
                        (None if f.outcome.value is None else str(f.outcome.value), f.outcome.record_count)
                        for f in figures}

    def no_reading(*_args, **_kwargs):
        raise AssertionError("the records were read again")

    monkeypatch.setattr(engine, "read_columns", no_reading)
    partial_seen = 0
    for ind in shown:
        for view in values.read_values(ana, ind.id):
            state = view.state
            key = (state["period_start"], json.dumps(state["disaggregation"], sort_keys=True))
            if view.partial:
                partial_seen += 1
                empty = (None, 0)
                assert (state["value"], state["record_count"]) == live[ind.pk].get(key, empty) or \
                    (state["record_count"] == 0 and key not in live[ind.pk]), (ind.code, key)
    assert partial_seen > 10


def test_a_reporter_and_an_indicator_on_no_dashboard_are_recomputed_over_their_scope(plan, make_record, actor,
                                                                                     monkeypatch):
    from sitaware.assessment import engine, values
    from tests.conftest import _system

    _random_records(random.Random(31), make_record, 40)
    shown = plan.indicator("S1", formula=FORMULAS["count-all"], disaggregation=["area"])
    hidden = plan.indicator("H1", formula=FORMULAS["count-all"], disaggregation=["area"])
    _on_a_dashboard(plan, actor, shown)
    for ind in (shown, hidden):
        values.compute(_system(), ind, dt.date(2025, 1, 1), dt.date(2025, 8, 1))
    reads = []
    original = engine.read_columns

    def counting(*args, **kwargs):
        reads.append(args[0].username)
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "read_columns", counting)
    assert any(v.partial for v in values.read_values(actor("ana"), shown.id))  # kept
    assert reads == []
    assert any(v.partial for v in values.read_values(actor("ana"), hidden.id))  # not on a dashboard: recomputed
    assert reads == ["ana"]
    values.read_values(actor("rex"), shown.id)  # a reporter's share is not a sensitivity level
    assert reads == ["ana", "rex"]
