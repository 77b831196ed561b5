"""Figures of the operational measures, from plain rows: time from alert to decision, and patrol coverage of
priority cells. Pure: no Django. The engine (`operational`) reads the rows through the alerts and planning
services and hands them here; the filters, the periods, the breakdowns and the figures are all decided here.

- `alert_decision`: one amount per decided alert (decided_at - raised_at, in microseconds) in the period it was
  raised; broken down by area (the alert's admin1) and category (each category its detector counts).
- `patrol_coverage`: per plan, one weight per priority cell ("cells" 1, "priority" the cell's priority in
  millionths) under `cells`, and the same weight under `covered` when a patrol visited the cell. By unit, a
  unit's figure is the share of the priority cells of the plans it patrols in that its own patrols visited, so
  the units' figures do not add up to the total when two units visit the same cell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sitaware.assessment.periods import Period, period_of

Group = tuple[tuple[str, str], ...]
PRIORITY_SCALE = 10**6


class DecisionRow(Protocol):
    alert_id: str
    raised_at: dt.datetime
    decided_at: dt.datetime
    outcome: str
    admin1: str
    categories: tuple[str, ...]
    sensitivity: int


class PriorityCellRow(Protocol):
    priority: float
    source: str


class PlanRow(Protocol):
    plan_id: str
    shift_start: dt.datetime
    sensitivity: int
    cells: Mapping[str, PriorityCellRow]
    units: frozenset[str]
    visited: Mapping[str, frozenset[str]]


@dataclass
class Bucket:
    """What one figure (a period and a group) is made of."""

    amounts: dict[str, list[int]] = field(default_factory=dict)
    sensitivity: int = 0
    ids: set[str] = field(default_factory=set)

    def add(self, role: str, amount: int, sensitivity: int, item_id: str) -> None:
        self.amounts.setdefault(role, []).append(amount)
        self.sensitivity = max(self.sensitivity, sensitivity)
        self.ids.add(item_id)


Buckets = dict[tuple[Period, Group], Bucket]


def _period(moment: dt.datetime, frequency: str, periods: set[Period]) -> Period | None:
    found = period_of(moment.astimezone(dt.UTC).date(), frequency)
    return found if found in periods else None


def _in_categories(categories: Iterable[str], wanted: list[str]) -> bool:
    # As for records, a parent category selects its children.
    return any(c == w or c.startswith(f"{w}.") for c in categories for w in wanted)


def _kept(sensitivity: int, flt: Mapping[str, Any], ceiling: int | None) -> bool:
    if "sensitivity_max" in flt and sensitivity > flt["sensitivity_max"]:
        return False
    return ceiling is None or sensitivity <= ceiling


def decision_buckets(rows: Iterable[DecisionRow], measure: Mapping[str, Any], keys: Iterable[str],
                     periods: set[Period], frequency: str, ceiling: int | None = None) -> Buckets:
    flt = measure.get("filter", {})
    keys = [k for k in keys if k in ("area", "category")]
    out: Buckets = {}
    for row in rows:
        if not _kept(row.sensitivity, flt, ceiling):
            continue
        if flt.get("outcomes") and row.outcome not in flt["outcomes"]:
            continue
        if flt.get("admin1") and row.admin1 not in flt["admin1"]:
            continue
        if flt.get("categories") and not _in_categories(row.categories, flt["categories"]):
            continue
        period = _period(row.raised_at, frequency, periods)
        if period is None:
            continue
        delay = row.decided_at - row.raised_at
        amount = (delay.days * 86400 + delay.seconds) * 10**6 + delay.microseconds
        groups: list[Group] = [()]
        if "area" in keys:
            groups.append((("area", row.admin1),))
        if "category" in keys:
            groups += [(("category", c),) for c in sorted(set(row.categories))]
        for group in groups:
            out.setdefault((period, group), Bucket()).add("value", amount, row.sensitivity, row.alert_id)
    return out


def coverage_buckets(rows: Iterable[PlanRow], measure: Mapping[str, Any], keys: Iterable[str],
                     periods: set[Period], frequency: str, ceiling: int | None = None) -> Buckets:
    flt = measure.get("filter", {})
    by_unit = "unit" in keys
    wanted_units = set(flt.get("units") or ())
    out: Buckets = {}
    for plan in rows:
        if not _kept(plan.sensitivity, flt, ceiling):
            continue
        units = plan.units & wanted_units if wanted_units else plan.units
        if not units:
            continue
        period = _period(plan.shift_start, frequency, periods)
        if period is None:
            continue
        cells = {cell_id: cell for cell_id, cell in plan.cells.items()
                 if (not flt.get("sources") or cell.source in flt["sources"])
                 and cell.priority >= flt.get("min_priority", 0)}
        weight = {cell_id: 1 if measure.get("weighting", "cells") == "cells"
                  else round(cell.priority * PRIORITY_SCALE) for cell_id, cell in cells.items()}
        visited = {unit: plan.visited.get(unit, frozenset()) for unit in units}
        parts: list[tuple[Group, frozenset[str]]] = [((), frozenset().union(*visited.values()))]
        if by_unit:
            parts += [((("unit", unit),), visited[unit]) for unit in sorted(units)]
        for group, seen in parts:
            bucket = out.setdefault((period, group), Bucket())
            for cell_id in sorted(cells):
                bucket.add("cells", weight[cell_id], plan.sensitivity, plan.plan_id)
                if cell_id in seen:
                    bucket.add("covered", weight[cell_id], plan.sensitivity, plan.plan_id)
    return out
