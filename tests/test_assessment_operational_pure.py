"""The operational measures' pure part (`assessment/operational_figures.py`): filters, periods and breakdowns of
decided alerts and patrol plans, on plain rows (no database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sitaware.assessment import formula
from sitaware.assessment import operational_figures as ops
from sitaware.assessment.periods import period_of

JAN = period_of(dt.date(2026, 1, 1), "monthly")
FEB = period_of(dt.date(2026, 2, 1), "monthly")


@dataclass(frozen=True)
class Decided:
    alert_id: str
    raised_at: dt.datetime
    decided_at: dt.datetime
    outcome: str
    admin1: str
    categories: tuple[str, ...]
    sensitivity: int


@dataclass(frozen=True)
class Cell:
    priority: float
    source: str


@dataclass(frozen=True)
class PlanRow:
    plan_id: str
    shift_start: dt.datetime
    sensitivity: int
    cells: dict
    units: frozenset
    visited: dict


def at(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def decided(n: str, month: int, hours: float, outcome: str = "accept", admin1: str = "Bangui",
            categories: tuple[str, ...] = ("police.armed_robbery",), sensitivity: int = 1) -> Decided:
    raised = at(month, 5)
    return Decided(n, raised, raised + dt.timedelta(hours=hours), outcome, admin1, categories, sensitivity)


def figure(buckets: ops.Buckets, measure: dict, period=JAN, group=()) -> Decimal | None:
    return formula.evaluate(measure, buckets[(period, group)].amounts).value


def test_decisions_by_period_area_and_category_with_filters():
    rows = [decided("a", 1, 2), decided("b", 1, 4, "reject", "Ouham", ("police", "police.homicide")),
            decided("c", 1, 9, sensitivity=3), decided("d", 2, 1), decided("e", 3, 1)]
    measure = formula.validate({"type": "alert_decision", "statistic": "mean", "unit": "hours"})
    buckets = ops.decision_buckets(rows, measure, ["area", "category"], {JAN, FEB}, "monthly")
    assert figure(buckets, measure) == Decimal(5) and figure(buckets, measure, FEB) == Decimal(1)
    assert figure(buckets, measure, group=(("area", "Ouham"),)) == Decimal(4)
    assert figure(buckets, measure, group=(("category", "police.homicide"),)) == Decimal(4)
    assert figure(buckets, measure, group=(("category", "police.armed_robbery"),)) == Decimal("5.5")
    assert buckets[(JAN, ())].ids == {"a", "b", "c"} and buckets[(JAN, ())].sensitivity == 3
    # March is not asked for: its alert is not read into any figure.
    assert all(period in (JAN, FEB) for period, _group in buckets)
    narrowed = formula.validate({**measure, "filter": {"outcomes": ["accept"], "categories": ["police"],
                                                       "sensitivity_max": 2}})
    assert figure(ops.decision_buckets(rows, narrowed, [], {JAN}, "monthly"), narrowed) == Decimal(2)
    # A ceiling keeps what a viewer of that clearance sees.
    assert figure(ops.decision_buckets(rows, measure, [], {JAN}, "monthly", ceiling=1), measure) == Decimal(3)


def plan(n: str, units: set[str], visited: dict[str, set[str]], sensitivity: int = 1) -> PlanRow:
    cells = {"c1": Cell(10, "forecast"), "c2": Cell(5, "alert"), "c3": Cell(1, "manual"), "c4": Cell(4, "forecast")}
    return PlanRow(n, at(1, 12, 6), sensitivity, cells, frozenset(units),
                   {u: frozenset(c) for u, c in visited.items()})


def test_coverage_counts_each_cell_once_and_each_unit_over_its_plans():
    measure = formula.validate({"type": "patrol_coverage"})
    rows = [plan("p1", {"hq", "bria"}, {"hq": {"c1", "c2"}, "bria": {"c2", "c3"}}),
            plan("p2", {"hq"}, {"hq": set()})]
    buckets = ops.coverage_buckets(rows, measure, ["unit"], {JAN}, "monthly")
    assert figure(buckets, measure) == Decimal("37.5")  # 3 of p1's 4 cells, none of p2's 4
    assert figure(buckets, measure, group=(("unit", "hq"),)) == Decimal(25)  # 2 of 8
    assert figure(buckets, measure, group=(("unit", "bria"),)) == Decimal(50)  # 2 of p1's 4
    weighted = formula.validate({"type": "patrol_coverage", "weighting": "priority"})
    assert figure(ops.coverage_buckets(rows, weighted, [], {JAN}, "monthly"), weighted) == Decimal(16 * 100) / 40
    high = formula.validate({"type": "patrol_coverage", "filter": {"min_priority": 5, "sources": ["forecast"]}})
    assert figure(ops.coverage_buckets(rows[:1], high, [], {JAN}, "monthly"), high) == Decimal(100)  # c1 only
    bria = formula.validate({"type": "patrol_coverage", "filter": {"units": ["bria"]}})
    buckets = ops.coverage_buckets(rows, bria, [], {JAN}, "monthly")
    assert figure(buckets, bria) == Decimal(50) and buckets[(JAN, ())].ids == {"p1"}
    nobody = formula.validate({"type": "patrol_coverage", "filter": {"units": ["elsewhere"]}})
    outcome = formula.evaluate(nobody, ops.coverage_buckets(rows, nobody, [], {JAN}, "monthly")
                               .get((JAN, ()), ops.Bucket()).amounts)
    assert outcome.value is None and "priority cells" in outcome.reason


def test_a_factor_or_a_lowest_priority_that_is_not_a_finite_number_is_named():
    import pytest

    count = {"type": "count"}
    for bad in (float("nan"), float("inf")):
        with pytest.raises(formula.FormulaError) as caught:
            formula.validate({"type": "ratio", "numerator": count, "denominator": count, "factor": bad})
        assert [p["field"] for p in caught.value.problems] == ["formula.factor"]
        with pytest.raises(formula.FormulaError) as caught:
            formula.validate({"type": "patrol_coverage", "filter": {"min_priority": bad}})
        assert [p["field"] for p in caught.value.problems] == ["formula.filter.min_priority"]
