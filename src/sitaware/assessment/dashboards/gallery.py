"""The gallery of chart types a non-specialist picks from. Pure data: labels are marked for translation and
translated where shown.

Each type says how many indicators it takes, whether it is broken down (and by what, by default), and a short
description shown beside its preview. Breakdowns are on by default (R-PA-04: disaggregated views by default):
the builder preselects the indicator's first breakdown key the chart can use.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ChartType:
    key: str
    label: str
    description: str
    max_indicators: int
    breakdowns: tuple[str, ...]  # which keys it may be broken down by; () = totals only
    needs_breakdown: bool = False  # a map or a table by unit means nothing without its key


CHARTS: dict[str, ChartType] = {c.key: c for c in (
    ChartType("card", _("Indicator card"),
              _("The latest value against its target, with the trend and a traffic light; the largest groups "
                "of the breakdown below it."),
              1, ("area", "unit", "category", "sex", "age_group")),
    ChartType("timeseries", _("Time series"),
              _("Values period by period against the target, as a line or as bars; one line per indicator, "
                "or per group of the breakdown."),
              4, ("area", "unit", "category", "sex", "age_group")),
    ChartType("map", _("Map by area"),
              _("The latest value in each area (prefecture), shaded on the map: the darker, the higher."),
              1, ("area",), needs_breakdown=True),
    ChartType("table", _("Table by unit"),
              _("One row per group (unit by default) and one column per period, every number a link."),
              1, ("unit", "area", "category", "sex", "age_group"), needs_breakdown=True),
    ChartType("bar", _("Bars by category"),
              _("The latest value of each group (category by default) as horizontal bars."),
              1, ("category", "area", "unit", "sex", "age_group"), needs_breakdown=True),
)}

STYLES = {"line": _("Line"), "bar": _("Bars")}
BREAKDOWN_LABELS = {"": _("Totals only"), "area": _("Area (prefecture)"), "unit": _("Unit"),
                    "category": _("Category"), "sex": _("Sex"), "age_group": _("Age group")}


def default_breakdown(chart: str, indicator_keys: list[str]) -> str:
    """The breakdown a new widget starts with: the first key both the chart and the indicator have, in the
    chart's order of preference; "" when they share none."""
    for key in CHARTS[chart].breakdowns:
        if key in indicator_keys:
            return key
    return ""
