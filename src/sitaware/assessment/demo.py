"""The demo's example results framework (`sitaware demo`): UNPOL's plan with indicators computed from the demo's
records, from its early-warning alerts and from its patrol plans, one entered by hand, and a dashboard of them.

Its words are data, written once in English like any plan a user writes (not interface text to translate).
Written through the services, as a planning officer (the demo's UNPOL analyst) and a supervisor would, so the
change log holds it like any other work. The alert and patrol indicators stay empty until someone runs a detector
or approves a plan in the demo: their empty periods say why, which is part of what the demo shows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model

from sitaware.assessment import services, values
from sitaware.assessment.dashboards import services as dashboards
from sitaware.assessment.models import ResultsFramework
from sitaware.assessment.periods import label_of, period_of
from sitaware.core.scope import Actor, actor_for, system_actor

CODE = "demo-cpas"
ORGANISATION = "unpol"
PLANNER, APPROVER = "unpol.analyst", "unpol.supervisor"
MONTHS = 12
VERIFIED = ["verified", "published"]


def _actor(username: str) -> Actor:
    return actor_for(get_user_model().objects.get(username=username))


def _indicators() -> list[dict[str, Any]]:
    """The indicators, as the indicator form would send them (without output, owner and periods)."""
    return [
        {"code": "I1", "name": "Incidents recorded (verified)", "unit": "incidents", "direction": "decrease",
         "baseline_value": "120", "target_value": "90", "disaggregation": ["area", "category"],
         "formula": {"type": "count", "filter": {"kinds": ["incident"], "statuses": VERIFIED}}},
        {"code": "I2", "name": "Median time from event to report", "unit": "hours", "direction": "decrease",
         "baseline_value": "48", "target_value": "24", "disaggregation": ["area"],
         "formula": {"type": "duration", "statistic": "median", "unit": "hours", "filter": {"kinds": ["incident"]}}},
        {"code": "I3", "name": "Share of reports verified", "unit": "%", "direction": "increase",
         "baseline_value": "40", "target_value": "70", "disaggregation": ["unit"],
         "formula": {"type": "ratio", "factor": 100, "numerator": {"type": "count", "filter": {"statuses": VERIFIED}},
                     "denominator": {"type": "count", "filter": {}}}},
        {"code": "I4", "name": "Time from alert to decision", "unit": "hours", "direction": "decrease",
         "baseline_value": "24", "target_value": "6", "disaggregation": ["area"],
         "formula": {"type": "alert_decision", "statistic": "median", "unit": "hours"}},
        {"code": "I5", "name": "Patrol coverage of priority cells", "unit": "%", "direction": "increase",
         "baseline_value": "50", "target_value": "80", "disaggregation": ["unit"],
         "formula": {"type": "patrol_coverage", "basis": "planned", "weighting": "priority"}},
        {"code": "I6", "name": "Host-state officers trained in human rights", "unit": "officers",
         "direction": "increase", "baseline_value": "20", "target_value": "60", "data_source": "entered",
         "disaggregation": ["sex"], "formula": None},
    ]


def ensure_framework(anchor: dt.datetime) -> ResultsFramework | None:
    """Write the example framework if the demo has none yet (None when it exists): indicators active, figures
    computed for the twelve months up to `anchor`, a few trained officers entered, a dashboard."""
    planner, approver = _actor(PLANNER), _actor(APPROVER)
    if ResultsFramework.objects.filter(organisation_id=planner.organisation_id, code=CODE).exists():
        return None
    months = [period_of(anchor, "monthly")]
    while len(months) < MONTHS:
        months.append(period_of(months[-1].start - dt.timedelta(days=1), "monthly"))
    last, first = months[0], months[-1]
    fw = services.create_framework(planner, {"code": CODE, "title": "Protection of civilians (example)",
                                             "description": "An example plan written by the demo."})
    objective = services.add_objective(planner, fw.id, {"code": "O1", "title": "Safer communities"})
    outcome = services.add_outcome(planner, objective.pk, {
        "code": "OC1", "title": "Incidents are known, verified and acted on quickly"})
    output = services.add_output(planner, outcome.pk, {"code": "OP1", "title": "Reporting, early warning and patrols"})
    indicators = []
    for spec in _indicators():
        payload = {**spec, "output_id": output.pk, "owner": PLANNER,
                   "baseline_period": label_of(first, "monthly"), "target_period": label_of(last, "monthly")}
        if payload["formula"] is None:
            del payload["formula"]
        indicators.append(services.create_indicator(planner, fw.id, payload))
    for ind in indicators:
        services.activate_indicator(approver, ind.id)
    services.activate_framework(approver, fw.id)
    system = system_actor("demo")
    for ind in indicators:
        if ind.data_source == "computed":
            values.compute(system, ind, first.start, last.end)
    trained = indicators[-1]
    for period, (women, men) in zip(months[1:], ((6, 9), (4, 8), (5, 5)), strict=False):
        for sex, count in (("female", women), ("male", men)):
            values.enter_value(planner, trained.id, {"period": label_of(period, "monthly"), "value": count,
                                                     "disaggregation": {"sex": sex},
                                                     "comment": "training attendance sheets (example)"})
    board = dashboards.create_dashboard(planner, {"framework_id": str(fw.id), "title": "Operations (example)"})
    for chart, codes, breakdown in (("card", ["I1"], "area"), ("card", ["I3"], "unit"), ("card", ["I4"], ""),
                                    ("card", ["I5"], ""), ("timeseries", ["I1"], ""), ("map", ["I1"], "area"),
                                    ("table", ["I3"], "unit")):
        chosen = [str(i.id) for i in indicators if i.code in codes]
        dashboards.add_widget(planner, board.id, {"chart": chart, "indicators": chosen, "breakdown": breakdown})
    return fw
