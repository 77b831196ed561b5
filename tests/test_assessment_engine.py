"""Computed indicators: equal to an independent query, reproducible, incremental = full, drill-down = counted.

The independent queries are written here with the plain ORM, never through the engine.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
from decimal import Decimal

import pytest

from tests.conftest import _system

Y = 2025
RANGE = (dt.date(Y, 1, 1), dt.date(Y, 7, 1))  # January to June


def at(month: int, day: int = 10, hour: int = 12) -> str:
    return dt.datetime(Y, month, day, hour, tzinfo=dt.UTC).isoformat()


@pytest.fixture
def plan(world, actor):
    """A framework of UNPOL (ana) with one objective → outcome → output; `plan.indicator(**fields)` adds one."""
    from sitaware.assessment import services

    ana = actor("ana")
    fw = services.create_framework(ana, {"code": "cpas", "title": "Protection of civilians"})
    objective = services.add_objective(ana, fw.id, {"code": "O1", "title": "Safer Bangui"})
    outcome = services.add_outcome(ana, objective.pk, {"code": "OC1", "title": "Less violent crime"})
    output = services.add_output(ana, outcome.pk, {"code": "OP1", "title": "Patrols and reporting"})

    class Plan:
        framework = fw

        @staticmethod
        def indicator(code: str = "I1", by=None, **fields):
            payload = {"output_id": output.pk, "code": code, "name": f"Indicator {code}", "frequency": "monthly",
                       "baseline_value": "10", "baseline_period": "2024", "target_value": "5",
                       "target_period": "2025", "owner": "ana", "direction": "decrease", **fields}
            return services.create_indicator(by or ana, fw.id, payload)

    Plan.output = output
    return Plan


ROBBERY = {"type": "count", "filter": {"categories": ["police.armed_robbery"], "statuses": ["verified", "published"]}}


def make(make_record, month: int, *, status: str = "verified", author: str = "ana", day: int = 10, **fields):
    fields.setdefault("occurred_at", at(month, day))
    fields.setdefault("reported_at", at(month, day, 18))
    return make_record(author, status=status, **fields)


def stored(indicator, **disaggregation) -> dict[dt.date, Decimal | None]:
    from sitaware.assessment.models import IndicatorValue
    from sitaware.assessment.values import disaggregation_key

    qs = IndicatorValue.objects.filter(indicator=indicator, disaggregation_key=disaggregation_key(disaggregation))
    return {v.period_start: v.value for v in qs}


def test_a_count_equals_an_independent_query_on_the_same_data(plan, make_record):
    from sitaware.assessment import values
    from sitaware.records.models import Record

    ind = plan.indicator(formula=ROBBERY, disaggregation=["area", "unit"])
    make(make_record, 1)
    make(make_record, 1, status="published", admin1="Ouham")
    make(make_record, 1, status="in_review")  # not counted: status
    make(make_record, 2, category="police.burglary")  # not counted: category
    make(make_record, 3, author="rex", reporting_unit="bria")
    make(make_record, 3, status="draft")  # nobody's drafts count
    values.compute(_system(), ind, *RANGE)

    got = stored(ind)
    for month in range(1, 7):
        start = dt.datetime(Y, month, 1, tzinfo=dt.UTC)
        end = dt.datetime(Y + (month == 12), month % 12 + 1, 1, tzinfo=dt.UTC)
        expected = Record.objects.filter(
            organisation__code="unpol", category="police.armed_robbery", status__in=["verified", "published"],
            occurred_at__gte=start, occurred_at__lt=end).count()
        assert got[start.date()] == Decimal(expected)
    assert got[dt.date(Y, 1, 1)] == 2 and got[dt.date(Y, 2, 1)] == 0 and got[dt.date(Y, 3, 1)] == 1
    assert stored(ind, area="Ouham") == {dt.date(Y, 1, 1): 1}
    assert stored(ind, unit="bria") == {dt.date(Y, 3, 1): 1}


def test_a_sum_of_casualties_equals_an_independent_sum(plan, make_record):
    from sitaware.assessment import values
    from sitaware.records.models import Record

    ind = plan.indicator(formula={"type": "sum", "field": "casualties.civilians.injured",
                                  "filter": {"statuses": ["verified"]}})
    make(make_record, 2, casualties={"civilians": {"injured": 3, "killed": 1}})
    make(make_record, 2, casualties={"civilians": {"injured": 4}, "unknown": {"injured": 9}})
    make(make_record, 2)
    values.compute(_system(), ind, *RANGE)
    expected = sum(r.casualties.get("civilians", {}).get("injured", 0)
                   for r in Record.objects.filter(status="verified", occurred_at__month=2))
    assert stored(ind)[dt.date(Y, 2, 1)] == expected == 7


def test_reporting_delay_is_the_median_of_reported_minus_occurred(plan, make_record):
    from sitaware.assessment import values
    from sitaware.records.models import Record

    ind = plan.indicator(formula={"type": "duration", "statistic": "median", "unit": "hours",
                                  "filter": {"statuses": ["verified"]}})
    for hours in (2, 5, 30, 7):
        make(make_record, 4, reported_at=(dt.datetime(Y, 4, 10, 12, tzinfo=dt.UTC)
                                          + dt.timedelta(hours=hours)).isoformat())
    values.compute(_system(), ind, *RANGE)
    delays = [(r.reported_at - r.occurred_at).total_seconds() / 3600 for r in Record.objects.filter(status="verified")]
    assert stored(ind)[dt.date(Y, 4, 1)] == Decimal(str(statistics.median(delays))) == 6
    # An empty period has no median: no value, and a reason.
    from sitaware.assessment.models import IndicatorValue

    empty = IndicatorValue.objects.get(indicator=ind, period_start=dt.date(Y, 5, 1), disaggregation_key="{}")
    assert empty.value is None and empty.empty_reason == "no records in this period"


def test_a_ratio_with_a_zero_denominator_has_no_value_and_says_why(plan, make_record):
    from sitaware.assessment import values
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula={"type": "ratio", "factor": 100,
                                  "numerator": {"type": "count", "filter": {"statuses": ["published"]}},
                                  "denominator": {"type": "count", "filter": {"statuses": ["verified", "published"]}}})
    make(make_record, 1, status="published")
    make(make_record, 1)
    make(make_record, 1)
    values.compute(_system(), ind, *RANGE)
    assert stored(ind)[dt.date(Y, 1, 1)] == Decimal("33.333333")
    feb = IndicatorValue.objects.get(indicator=ind, period_start=dt.date(Y, 2, 1), disaggregation_key="{}")
    assert feb.value is None and feb.empty_reason == "the denominator is zero in this period"


def test_values_carry_their_provenance_and_the_run_is_in_the_change_log(plan, make_record, actor):
    from sitaware.assessment import values
    from sitaware.assessment.models import IndicatorValue
    from sitaware.core.models import ChangeEntry

    ind = plan.indicator(formula=ROBBERY)
    make(make_record, 1)
    head = ChangeEntry.objects.order_by("-seq").first().seq
    values.compute(actor("ana"), ind, *RANGE)
    v = IndicatorValue.objects.get(indicator=ind, period_start=dt.date(Y, 1, 1), disaggregation_key="{}")
    assert (v.source, v.produced_by_label, v.definition.version, v.data_cutoff_seq, v.qa_status, v.record_count) == (
        "computed", "ana", 1, head, "unreviewed", 1)
    entry = ChangeEntry.objects.filter(action="indicator.compute").get()
    assert entry.seq > head and entry.payload["extra"]["cutoff"] == head
    assert {a["period"] for a in entry.payload["after"]} == {f"{Y}-0{m}" for m in range(1, 7)}


def test_recompute_reproduces_the_stored_values(plan, make_record):
    from sitaware.assessment import values

    ind = plan.indicator(formula=ROBBERY, disaggregation=["area", "category"])
    for month in (1, 2, 2, 5):
        make(make_record, month)
    values.compute(_system(), ind, *RANGE)
    assert values.reproduce(ind) == []
    again = values.compute(_system(), ind, *RANGE)
    assert (again.created, again.changed, again.removed) == (0, 0, 0)
    # A record changed after the computation: the stored figure no longer reproduces, until refreshed.
    make(make_record, 2)
    assert [m.period for m in values.reproduce(ind)] == ["2025-02", "2025-02", "2025-02"]
    values.refresh(_system(), ind)
    assert values.reproduce(ind) == []


def test_an_old_definition_version_stays_and_its_values_recompute_with_it(plan, make_record, actor):
    from sitaware.assessment import services, values
    from sitaware.assessment.models import IndicatorDefinition

    ind = plan.indicator(formula=ROBBERY)
    make(make_record, 1)
    values.compute(_system(), ind, dt.date(Y, 1, 1), dt.date(Y, 2, 1))
    services.set_formula(actor("ana"), ind.id, {"type": "count", "filter": {"statuses": ["published"]}})
    assert list(IndicatorDefinition.objects.filter(indicator=ind).values_list("version", flat=True)) == [1, 2]
    assert values.reproduce(ind) == []  # values of version 1 still reproduce with version 1
    first = IndicatorDefinition.objects.get(indicator=ind, version=1)
    with pytest.raises(ValueError, match="immutable"):
        first.save()
    result = values.refresh(_system(), ind)  # the formula changed: stored periods move to version 2
    assert result.notes and stored(ind)[dt.date(Y, 1, 1)] == 0


CATEGORIES = ["police.armed_robbery", "police.burglary", "police.theft"]
NEXT_STATUS = {"draft": ["in_review"], "in_review": ["verified", "draft"], "verified": ["published", "in_review"],
               "published": ["archived"], "archived": ["published"]}


def _mutate(rng: random.Random, make_record, records: list) -> None:
    """One random write: an insert, an edit (moving occurred_at to another month, changing the category, the
    area or the casualties) or a status change. `records` holds the current state of every record made."""
    from sitaware.records import services

    choice = rng.random()
    if choice < 0.35 or not records:
        records.append(make(make_record, rng.randint(1, 6), day=rng.randint(1, 28),
                            status=rng.choice(["draft", "in_review", "verified", "published"]),
                            category=rng.choice(CATEGORIES), admin1=rng.choice(["Bangui", "Ouham"]),
                            casualties={"civilians": {"killed": rng.randint(0, 3)}}))
        return
    index = rng.randrange(len(records))
    record = records[index]
    if choice < 0.75:
        change = rng.choice(["occurred_at", "category", "casualties", "admin1"])
        value = {
            "occurred_at": at(rng.randint(1, 6), rng.randint(1, 28)),
            "category": rng.choice(CATEGORIES),
            "casualties": {"civilians": {"killed": rng.randint(0, 4)}},
            "admin1": rng.choice(["Bangui", "Ouham", "Nana-Mambéré"]),
        }[change]
        payload = {"base_version": record.version, change: value, "reason": "test"}
        records[index] = services.update_record(_system(), record.id, payload)
    else:
        records[index] = services.transition(_system(), record.id, rng.choice(NEXT_STATUS[record.status]))


@pytest.mark.parametrize("seed", [7, 2026])
def test_incremental_refresh_and_a_full_rebuild_agree_after_random_changes(seed, plan, make_record, world, actor):
    from sitaware.assessment import values
    from sitaware.assessment.models import IndicatorValue

    rng = random.Random(seed)
    formulas = {
        "C": ROBBERY,
        "S": {"type": "sum", "field": "fatalities", "filter": {"statuses": ["verified", "published", "archived"]}},
        "R": {"type": "ratio", "factor": 100, "numerator": ROBBERY,
              "denominator": {"type": "count", "filter": {"statuses": ["verified", "published"]}}},
        "D": {"type": "duration", "statistic": "mean", "unit": "days", "filter": {"categories": ["police"]}},
    }
    indicators = [plan.indicator(code, formula=f, disaggregation=["area", "category"]) for code, f in formulas.items()]
    records: list = []
    for _ in range(12):
        _mutate(rng, make_record, records)
    for ind in indicators:
        values.compute(_system(), ind, *RANGE)

    def snapshot(ind):
        return {(v.period_start, v.disaggregation_key): (v.value, v.empty_reason, v.record_count, v.sensitivity)
                for v in IndicatorValue.objects.filter(indicator=ind)}

    refreshed = 0
    for _round in range(4):
        for _ in range(rng.randint(3, 8)):
            _mutate(rng, make_record, records)
        for ind in indicators:
            result = values.refresh(_system(), ind)
            assert result.periods <= 6
            refreshed += result.created + result.changed + result.removed
            incremental = snapshot(ind)
            values.compute(_system(), ind, *RANGE)
            assert snapshot(ind) == incremental, f"round {_round}, indicator {ind.code}"
            assert values.reproduce(ind) == []
    assert refreshed > 0  # the incremental path did real work, not only agree by doing nothing


def test_a_refresh_with_no_change_recomputes_nothing(plan, make_record):
    from sitaware.assessment import values

    ind = plan.indicator(formula=ROBBERY)
    make(make_record, 1)
    values.compute(_system(), ind, *RANGE)
    assert values.refresh(_system(), ind).periods == 0
    record = make(make_record, 3)
    from sitaware.records import services

    services.update_record(_system(), record.id, {"base_version": record.version, "occurred_at": at(5),
                                                  "reason": "date corrected"})
    result = values.refresh(_system(), ind)
    assert result.periods == 2  # March (where it was) and May (where it is now)
    assert stored(ind)[dt.date(Y, 3, 1)] == 0 and stored(ind)[dt.date(Y, 5, 1)] == 1


def test_drill_down_lists_exactly_the_records_counted(plan, make_record, actor):
    from sitaware.assessment import values
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula=ROBBERY, disaggregation=["area"])
    counted = {str(make(make_record, 1).id), str(make(make_record, 1, admin1="Ouham").id)}
    make(make_record, 1, status="in_review")
    make(make_record, 2)
    values.compute(_system(), ind, *RANGE)
    total = IndicatorValue.objects.get(indicator=ind, period_start=dt.date(Y, 1, 1), disaggregation_key="{}")
    answer = values.drill_down(actor("sam"), total.pk)
    assert set(answer["record_ids"]) == counted and len(answer["record_ids"]) == total.value
    assert answer["partial"] is False and answer["changed_since"] is False
    ouham = IndicatorValue.objects.get(indicator=ind, period_start=dt.date(Y, 1, 1),
                                       disaggregation_key='{"area":"Ouham"}')
    assert len(values.drill_down(actor("sam"), ouham.pk)["record_ids"]) == 1


def test_ratio_drill_down_lists_numerator_and_denominator_records(plan, make_record, actor):
    from sitaware.assessment import values
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula={"type": "ratio",
                                  "numerator": {"type": "count", "filter": {"statuses": ["published"]}},
                                  "denominator": {"type": "count", "filter": {"statuses": ["verified"]}}})
    ids = {str(make(make_record, 1, status=s).id) for s in ("published", "verified", "verified")}
    values.compute(_system(), ind, *RANGE)
    v = IndicatorValue.objects.get(indicator=ind, period_start=dt.date(Y, 1, 1), disaggregation_key="{}")
    assert v.value == Decimal("0.5") and set(values.drill_down(actor("sam"), v.pk)["record_ids"]) == ids


def test_changing_the_breakdowns_recomputes_every_stored_period_on_the_next_refresh(plan, make_record, actor):
    from sitaware.assessment import services, values
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula=ROBBERY, disaggregation=["area"])
    make(make_record, 1)
    values.compute(_system(), ind, *RANGE)
    assert values.refresh(_system(), ind).periods == 0
    ind = services.change_indicator(actor("ana"), ind.id, {"disaggregation": ["unit"]})
    result = values.refresh(_system(), ind)
    assert result.periods == 6 and any("breakdowns changed" in note for note in result.notes)
    assert stored(ind, area="Bangui") == {} and stored(ind, unit="bangui-hq") == {dt.date(Y, 1, 1): 1}
    refreshed = {(v.period_start, v.disaggregation_key, v.value) for v in IndicatorValue.objects.filter(indicator=ind)}
    values.compute(_system(), ind, *RANGE)
    assert {(v.period_start, v.disaggregation_key, v.value)
            for v in IndicatorValue.objects.filter(indicator=ind)} == refreshed
    assert values.refresh(_system(), ind).periods == 0 and values.reproduce(ind) == []
