"""The pure parts of assessment: periods, formulas on plain numbers, traffic lights. No database."""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from sitaware.assessment import formula, lights, periods
from sitaware.assessment.periods import Period

PURE = ("periods.py", "formula.py", "lights.py", "schema.py", "operational_figures.py", "framework_forms.py",
        "columnar.py", "areas.py")


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_import_no_django(name):
    source = Path(periods.__file__).with_name(name).read_text()
    imported = {n.module or "" for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    assert not [m for m in imported if m.startswith("django")]


@pytest.mark.parametrize("frequency, moment, start, end, label", [
    ("monthly", dt.datetime(2025, 2, 28, 23, 59, tzinfo=dt.UTC), dt.date(2025, 2, 1), dt.date(2025, 3, 1), "2025-02"),
    ("quarterly", dt.datetime(2025, 12, 31, tzinfo=dt.UTC), dt.date(2025, 10, 1), dt.date(2026, 1, 1), "2025-Q4"),
    ("semiannual", dt.datetime(2025, 7, 1, tzinfo=dt.UTC), dt.date(2025, 7, 1), dt.date(2026, 1, 1), "2025-S2"),
    ("annual", dt.datetime(2025, 6, 1, tzinfo=dt.UTC), dt.date(2025, 1, 1), dt.date(2026, 1, 1), "2025"),
    ("weekly", dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.date(2024, 12, 30), dt.date(2025, 1, 6), "2025-W01"),
])
def test_a_moment_falls_in_one_period_with_a_label_that_parses_back(frequency, moment, start, end, label):
    period = periods.period_of(moment, frequency)
    assert (period.start, period.end, periods.label_of(period, frequency)) == (start, end, label)
    assert periods.parse_label(label) == (period, frequency)


def test_periods_follow_utc_not_the_local_clock():
    late_local = dt.datetime(2025, 3, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 23:30 UTC on 28 Feb
    assert periods.period_of(late_local, "monthly").start == dt.date(2025, 2, 1)


def test_periods_between_cover_the_range():
    got = periods.periods_between(dt.date(2025, 2, 15), dt.date(2025, 5, 1), "monthly")
    assert [p.start.month for p in got] == [2, 3, 4]


@pytest.mark.parametrize("text", ["2025-13", "2025-Q5", "25", "2025-W54", "soon", ""])
def test_bad_period_labels_say_what_is_accepted(text):
    with pytest.raises(periods.PeriodError, match="2026-Q2"):
        periods.parse_label(text)


def test_a_formula_is_normalised():
    got = formula.validate({"type": "count", "filter": {"kinds": ["incident"], "categories": ["b", "a", "a"]}})
    assert got == {"type": "count", "filter": {"kinds": ["incident"], "categories": ["a", "b"]}}
    assert formula.validate({"type": "duration"})["statistic"] == "median"


def test_every_problem_is_named_at_once():
    with pytest.raises(formula.FormulaError) as caught:
        formula.validate({"type": "ratio", "numerator": {"type": "count", "filter": {"units": "bria"}},
                          "denominator": None, "factor": -1, "colour": 1})
    assert sorted(p["field"] for p in caught.value.problems) == [
        "formula.colour", "formula.denominator", "formula.factor", "formula.numerator.filter.units"]


def test_ratio_and_statistics_on_plain_numbers():
    count = {"type": "count"}
    ratio = {"type": "ratio", "numerator": count, "denominator": count, "factor": 100}
    assert formula.evaluate(ratio, {"numerator": [1], "denominator": [1, 1, 1]}).value == Decimal("33.333333")
    zero = formula.evaluate(ratio, {"numerator": [1]})
    assert zero.value is None and "denominator is zero" in zero.reason
    hours = 3600 * 10**6
    median = {"type": "duration", "statistic": "median", "unit": "hours"}
    assert formula.evaluate(median, {"value": [1 * hours, 3 * hours, 10 * hours, 2 * hours]}).value == Decimal("2.5")
    mean = {**median, "statistic": "mean"}
    assert formula.evaluate(mean, {"value": [hours, 2 * hours]}).value == Decimal("1.5")
    assert formula.evaluate(mean, {}).reason == "no records in this period"


def test_amounts_read_casualties_by_group_and_count():
    casualties = {"civilians": {"killed": 2, "injured": 1}, "unknown": {"killed": 1}}
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert formula.amount_of({"type": "sum", "field": "casualties.killed"}, 3, casualties, now, now) == 3
    assert formula.amount_of({"type": "sum", "field": "casualties.civilians.injured"}, 3, casualties, now, now) == 1
    assert formula.amount_of({"type": "sum", "field": "fatalities"}, 3, casualties, now, now) == 3


def test_grouping_counts_each_fact_in_the_total_and_in_each_breakdown():
    p = Period(dt.date(2025, 1, 1), dt.date(2025, 2, 1))
    now = dt.datetime(2025, 1, 5, tzinfo=dt.UTC)
    facts = [("value", p, formula.Fact("a", now, 1, (("area", "X"), ("unit", "u")))),
             ("value", p, formula.Fact("b", now, 1, (("area", "Y"), ("unit", "u"))))]
    grouped = formula.group_amounts(facts)
    assert grouped[(p, ())] == {"value": [1, 1]}
    assert grouped[(p, (("unit", "u"),))] == {"value": [1, 1]}
    assert grouped[(p, (("area", "X"),))] == {"value": [1]}


@pytest.mark.parametrize("value, target, baseline, direction, colour", [
    ("5", "5", "10", "decrease", "green"),
    ("7", "5", "10", "decrease", "amber"),
    ("12", "5", "10", "decrease", "red"),
    ("90", "80", "50", "increase", "green"),
    ("60", "80", "50", "increase", "amber"),
    ("50", "80", "50", "increase", "red"),
    (None, "80", "50", "increase", "grey"),
    ("50", None, "50", "increase", "grey"),
])
def test_traffic_lights(value, target, baseline, direction, colour):
    def as_decimal(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    assert lights.light(as_decimal(value), as_decimal(target), as_decimal(baseline), direction) == colour


def test_a_refresh_reads_only_the_spans_of_the_periods_it_recomputes():
    months = [periods.period_of(dt.date(2020, 1, 1), "monthly"), periods.period_of(dt.date(2020, 2, 1), "monthly"),
              periods.period_of(dt.date(2026, 6, 1), "monthly")]
    got = periods.spans(reversed(months))
    assert [(a.date(), b.date()) for a, b in got] == [(dt.date(2020, 1, 1), dt.date(2020, 3, 1)),
                                                       (dt.date(2026, 6, 1), dt.date(2026, 7, 1))]
