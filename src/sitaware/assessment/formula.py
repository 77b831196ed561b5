"""Computed-indicator formulas: validation and evaluation on plain numbers. Pure: no Django.

A formula is data (JSON), so that a non-specialist defines an indicator in a form (R-PA-04):

    {"type": "count", "filter": {...}}
    {"type": "sum", "field": "fatalities" | "casualties.killed" | "casualties.civilians.injured", "filter": {...}}
    {"type": "duration", "statistic": "median" | "mean", "unit": "hours" | "days", "filter": {...}}
    {"type": "ratio", "numerator": <count|sum>, "denominator": <count|sum>, "factor": 100}

A filter narrows the records an organisation may see: kinds, categories (a parent selects its children),
statuses, sensitivity_max, source_types, units (unit codes), admin1 (area names). Every problem names
the field it is about, e.g. `formula.numerator.filter.kinds`.

Two measures read the organisation's operations instead of its records (`operational_figures`):

    {"type": "alert_decision", "statistic": "median" | "mean", "unit": "minutes" | "hours" | "days",
     "filter": {"outcomes": [accept|modify|reject], "categories": [...], "admin1": [...], "sensitivity_max": n}}
        time from an early-warning alert being raised to the decision on it, by the month it was raised;
    {"type": "patrol_coverage", "basis": "planned" | "made", "weighting": "cells" | "priority",
     "filter": {"units": [...], "sources": [forecast|alert|manual], "min_priority": x, "sensitivity_max": n}}
        the share (%) of approved plans' priority cells that a patrol visits (as planned, or as made according
        to plan vs. actual), by the month of the shift.
They stand alone: a ratio's parts are counts or sums of records.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sitaware.records import vocab

MEASURE_TYPES = ("count", "sum", "duration")
OPERATIONAL_TYPES = ("alert_decision", "patrol_coverage")
FORMULA_TYPES = (*MEASURE_TYPES, "ratio", *OPERATIONAL_TYPES)
STATISTICS = ("median", "mean")
DURATION_UNITS = {"minutes": 60 * 10**6, "hours": 3600 * 10**6, "days": 86400 * 10**6}
FILTER_KEYS = ("kinds", "categories", "statuses", "sensitivity_max", "source_types", "units", "admin1")
DECISION_OUTCOMES = ("accept", "modify", "reject")
CELL_SOURCES = ("forecast", "alert", "manual")
COVERAGE_BASES = ("planned", "made")
COVERAGE_WEIGHTS = ("cells", "priority")
# What each measure type may be narrowed by, and broken down by (records: GROUP_KEYS of a record formula).
FILTERS_OF = {
    "alert_decision": ("outcomes", "categories", "admin1", "sensitivity_max"),
    "patrol_coverage": ("units", "sources", "min_priority", "sensitivity_max"),
}
RECORD_GROUP_KEYS = ("area", "unit", "category")
GROUP_KEYS_OF = {"alert_decision": ("area", "category"), "patrol_coverage": ("unit",)}
# Values are stored with six decimals: the same Decimal on SQLite and PostgreSQL, so a recompute can be
# compared with the stored figure exactly.
PLACES = Decimal("0.000001")


def _sum_fields() -> tuple[str, ...]:
    fields = ["fatalities"]
    fields += [f"casualties.{count}" for count in vocab.CASUALTY_COUNTS]
    fields += [f"casualties.{group}.{count}" for group in vocab.CASUALTY_GROUPS for count in vocab.CASUALTY_COUNTS]
    return tuple(fields)


SUM_FIELDS = _sum_fields()


class FormulaError(ValueError):
    """A formula that cannot be computed. `problems` is [{field, message}], each saying what to fix."""

    def __init__(self, problems: list[dict[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))


def _(template: str) -> str:
    """Marks a message for translation (makemessages extracts `_`); the services translate it, because
    this module may not import Django. Problems keep the template and its values for that."""
    return template


def _problem(problems: list[dict[str, Any]], field: str, template: str, **params: Any) -> None:
    problems.append({"field": field, "message": template.format(**params), "template": template, "params": params})


def _string_list(value: Any, where: str, problems: list, allowed: tuple | None = None) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        _problem(problems, where, _("give a list of non-empty texts"))
        return []
    if allowed is not None:
        for item in value:
            if item not in allowed:
                _problem(problems, where, _("unknown value {value!r}; use some of {choices}"), value=item,
                         choices=", ".join(allowed))
    return sorted({v.strip() for v in value})


def _filter(raw: Any, where: str, problems: list, keys: tuple[str, ...] = FILTER_KEYS) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        _problem(problems, where, _("give an object with some of {choices}"), choices=", ".join(keys))
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        field = f"{where}.{key}"
        if key not in keys:
            _problem(problems, field, _("unknown filter; use some of {choices}"), choices=", ".join(keys))
        elif key == "sensitivity_max":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
                _problem(problems, field, _("give a sensitivity level from 0 (public) to 3 (strictly confidential)"))
            else:
                out[key] = value
        elif key == "min_priority":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                _problem(problems, field, _("give a priority of 0 or more; cells below it are not counted"))
            else:
                out[key] = value
        else:
            allowed = {"kinds": vocab.KINDS, "statuses": vocab.STATUSES, "source_types": vocab.SOURCE_TYPES,
                       "outcomes": DECISION_OUTCOMES, "sources": CELL_SOURCES}.get(key)
            items = _string_list(value, field, problems, allowed)
            if items:
                out[key] = items
    return out


def _measure(raw: Any, where: str, problems: list, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        _problem(problems, where, _("give an object with a type: {choices}"), choices=", ".join(allowed))
        return {}
    kind = raw.get("type")
    if kind not in allowed:
        _problem(problems, f"{where}.type", _("unknown type {value!r}; use one of {choices}"), value=kind,
                 choices=", ".join(allowed))
        return {}
    known = {"type", "filter"} | {"sum": {"field"}, "duration": {"statistic", "unit"},
                                  "alert_decision": {"statistic", "unit"},
                                  "patrol_coverage": {"basis", "weighting"}}.get(kind, set())
    for key in raw:
        if key not in known:
            _problem(problems, f"{where}.{key}", _("not a setting of a {kind} formula"), kind=kind)
    keys = FILTERS_OF.get(kind, FILTER_KEYS)
    out: dict[str, Any] = {"type": kind, "filter": _filter(raw.get("filter"), f"{where}.filter", problems, keys)}
    if kind == "sum":
        field = raw.get("field")
        if field not in SUM_FIELDS:
            _problem(problems, f"{where}.field", _("sum one of fatalities, casualties.killed|injured|missing or "
                                                  "casualties.<group>.<count>"))
        out["field"] = field
    if kind == "patrol_coverage":
        for name, choices, default in (("basis", COVERAGE_BASES, "planned"), ("weighting", COVERAGE_WEIGHTS, "cells")):
            value = raw.get(name, default)
            if value not in choices:
                _problem(problems, f"{where}.{name}", _("use one of {choices}"), choices=", ".join(choices))
            out[name] = value
    if kind in ("duration", "alert_decision"):
        statistic = raw.get("statistic", "median")
        if statistic not in STATISTICS:
            _problem(problems, f"{where}.statistic", _("use one of {choices}"), choices=", ".join(STATISTICS))
        unit = raw.get("unit", "hours")
        if unit not in DURATION_UNITS:
            _problem(problems, f"{where}.unit", _("use one of {choices}"), choices=", ".join(DURATION_UNITS))
        out.update(statistic=statistic, unit=unit)
    return out


def validate(raw: Any, where: str = "formula") -> dict[str, Any]:
    """The formula in normal form (sorted lists, defaults filled), or FormulaError naming every problem."""
    problems: list[dict[str, str]] = []
    if not isinstance(raw, Mapping) or raw.get("type") != "ratio":
        # FORMULA_TYPES so that an unknown type is answered with every type, ratio included.
        out = _measure(raw, where, problems, FORMULA_TYPES)
    else:
        for key in raw:
            if key not in ("type", "numerator", "denominator", "factor"):
                _problem(problems, f"{where}.{key}", _("not a setting of a ratio formula"))
        parts = ("count", "sum")
        out = {
            "type": "ratio",
            "numerator": _measure(raw.get("numerator"), f"{where}.numerator", problems, parts),
            "denominator": _measure(raw.get("denominator"), f"{where}.denominator", problems, parts),
        }
        factor = raw.get("factor", 1)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < math.inf:
            _problem(problems, f"{where}.factor", _("give a positive number, e.g. 100 for a percentage"))
        else:
            out["factor"] = factor
    if problems:
        raise FormulaError(problems)
    return out


def is_operational(formula: Mapping[str, Any]) -> bool:
    """Whether the formula reads alerts or patrol plans rather than records."""
    return formula.get("type") in OPERATIONAL_TYPES


def group_keys(formula: Mapping[str, Any]) -> tuple[str, ...]:
    """The disaggregation keys a formula's figures can be broken down by."""
    return GROUP_KEYS_OF.get(formula.get("type", ""), RECORD_GROUP_KEYS)


def measures(formula: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The leaf measures a formula reads records for, by role (value, numerator, denominator)."""
    if formula["type"] == "ratio":
        return {"numerator": formula["numerator"], "denominator": formula["denominator"]}
    return {"value": dict(formula)}


# ---------------------------------------------------------------- evaluation on plain values


@dataclass(frozen=True)
class Fact:
    """What one record contributes to a measure, with the values it can be broken down by."""

    record_id: str
    occurred_at: dt.datetime
    amount: int  # 1 for count, the summed field for sum, the delay in microseconds for duration
    groups: tuple[tuple[str, str], ...]  # (disaggregation key, value) pairs


def amount_of(measure: Mapping[str, Any], fatalities: int, casualties: Mapping[str, Any] | None,
              occurred_at: dt.datetime, reported_at: dt.datetime) -> int:
    kind = measure["type"]
    if kind == "count":
        return 1
    if kind == "duration":
        delay = reported_at - occurred_at
        return (delay.days * 86400 + delay.seconds) * 10**6 + delay.microseconds
    field = measure["field"]
    if field == "fatalities":
        return int(fatalities or 0)
    parts = field.split(".")[1:]
    casualties = casualties or {}
    if len(parts) == 1:
        return sum(int((counts or {}).get(parts[0], 0)) for counts in casualties.values())
    return int((casualties.get(parts[0]) or {}).get(parts[1], 0))


def quantize(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Outcome:
    """A computed figure, or None with the reason it cannot be given (in English; the caller translates)."""

    value: Decimal | None
    reason: str = ""
    record_count: int = 0


@dataclass(frozen=True)
class Tally:
    """What a count or a sum needs of a group's records, when they were reduced before (by the database or by
    `columnar`): how many there are and the sum of their amounts."""

    count: int
    total: int


def reduce_measure(measure: Mapping[str, Any], amounts: list[int] | Tally) -> Outcome:
    """One measure over the amounts of the records in one period (and group)."""
    kind = measure["type"]
    if isinstance(amounts, Tally):
        if kind not in ("count", "sum"):
            raise ValueError(f"a {kind} measure needs every amount, not a tally")
        return Outcome(Decimal(amounts.total if kind == "sum" else amounts.count), record_count=amounts.count)
    if kind == "count":
        return Outcome(Decimal(len(amounts)), record_count=len(amounts))
    if kind == "sum":
        return Outcome(Decimal(sum(amounts)), record_count=len(amounts))
    if not amounts:
        if kind == "alert_decision":
            return Outcome(None, _("no alert raised in this period was decided"), 0)
        return Outcome(None, _("no records in this period"), 0)
    scale = Decimal(DURATION_UNITS[measure["unit"]])
    ordered = sorted(amounts)
    if measure["statistic"] == "mean":
        micro = Decimal(sum(ordered)) / Decimal(len(ordered))
    else:
        middle = len(ordered) // 2
        micro = Decimal(ordered[middle]) if len(ordered) % 2 else Decimal(ordered[middle - 1] + ordered[middle]) / 2
    return Outcome(quantize(micro / scale), record_count=len(amounts))


def ratio(numerator: Outcome, denominator: Outcome, factor: float | int) -> Outcome:
    count = numerator.record_count + denominator.record_count
    if denominator.value is None or denominator.value == 0:
        return Outcome(None, _("the denominator is zero in this period"), count)
    assert numerator.value is not None  # count and sum always give a figure
    return Outcome(quantize(numerator.value * Decimal(str(factor)) / denominator.value), record_count=count)


def coverage(covered: list[int] | Tally, cells: list[int] | Tally) -> Outcome:
    """The share (%) of the priority cells' weight that was covered; `cells` has one weight per priority cell
    of each plan, `covered` one per cell a patrol visits."""
    if isinstance(covered, Tally) or isinstance(cells, Tally):
        raise ValueError("a coverage needs every cell's weight, not a tally")
    total = sum(cells)
    if not cells or total == 0:
        return Outcome(None, _("no approved plan of this period has priority cells"), len(cells))
    return Outcome(quantize(Decimal(100 * sum(covered)) / Decimal(total)), record_count=len(cells))


def _amounts_of(amounts: Mapping[str, list[int] | Tally], role: str) -> list[int] | Tally:
    found = amounts.get(role, [])
    return found if isinstance(found, Tally) else list(found)


def evaluate(formula: Mapping[str, Any], amounts: Mapping[str, list[int] | Tally]) -> Outcome:
    """The formula's figure from the amounts of each measure (keys as measures() names them); a count or sum
    measure may be given as a `Tally` instead."""
    if formula["type"] == "patrol_coverage":
        return coverage(_amounts_of(amounts, "covered"), _amounts_of(amounts, "cells"))
    if formula["type"] == "ratio":
        return ratio(reduce_measure(formula["numerator"], _amounts_of(amounts, "numerator")),
                     reduce_measure(formula["denominator"], _amounts_of(amounts, "denominator")),
                     formula["factor"])
    outcome = reduce_measure(formula, _amounts_of(amounts, "value"))
    return Outcome(quantize(outcome.value), outcome.reason, outcome.record_count) if outcome.value is not None \
        else outcome


def group_amounts(facts: Iterable[tuple[str, Any, Fact]]) -> dict[tuple[Any, tuple], dict[str, list[int]]]:
    """(measure role, period, fact) → {(period, disaggregation): {role: [amounts]}}.

    Every fact counts towards the total (disaggregation ()) and towards one group per key it carries:
    one-way breakdowns, not cross-tabulations, so the number of stored values stays small.
    """
    out: dict[tuple[Any, tuple], dict[str, list[int]]] = {}
    for role, period, fact in facts:
        for group in ((), *(((pair,)) for pair in fact.groups)):
            out.setdefault((period, group), {}).setdefault(role, []).append(fact.amount)
    return out
