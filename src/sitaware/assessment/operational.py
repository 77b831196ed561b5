"""The operational measures (time from alert to decision, patrol coverage of priority cells) as the engine
computes them: rows read through the alerts and planning services, figures made by the pure
`operational_figures`. Alerts and plans are few (hundreds a month, not a million records), so each computation
reads its periods directly instead of sharing the records' columnar read.

Incremental refresh: the periods to recompute are those of the alerts or plans whose entries in the change log
come after the indicator's watermark (recommendations, decisions and publications for alerts; every plan entry,
plan vs. actual included, for plans).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sitaware.alerts import services as alerts
from sitaware.assessment import formula as formulas
from sitaware.assessment import operational_figures as ops
from sitaware.assessment.periods import Period, period_of, spans
from sitaware.core.scope import Actor
from sitaware.planning import services as planning

# What a figure of each type is made of, as drill-down names it.
ITEM_TYPES = {"alert_decision": "alert", "patrol_coverage": "patrol_plan"}


def _buckets(actor: Actor, formula: Mapping[str, Any], keys: tuple[str, ...] | list[str], periods: set[Period],
             frequency: str, within: Actor | None, ceiling: int | None) -> ops.Buckets:
    kind = formula["type"]
    if kind == "alert_decision":
        decided = [row for start, end in spans(periods) for row in alerts.decision_times(actor, start, end, within)]
        return ops.decision_buckets(decided, formula, keys, periods, frequency, ceiling)
    if kind == "patrol_coverage":
        plans = [row for start, end in spans(periods)
                 for row in planning.plan_coverage(actor, start, end, formula.get("basis", "planned"), within)]
        return ops.coverage_buckets(plans, formula, keys, periods, frequency, ceiling)
    raise ValueError(f"{kind!r} is not an operational measure")


def figures(actor: Actor, formula: Mapping[str, Any], keys: tuple[str, ...], periods: set[Period], frequency: str,
            within: Actor | None = None,
            ceiling: int | None = None) -> list[tuple[Period, ops.Group, formulas.Outcome, int]]:
    """(period, group, outcome, sensitivity) of every figure: a total for every period (empty ones too) and one
    figure per group found, as for records."""
    if not periods:
        return []
    buckets = _buckets(actor, formula, keys, periods, frequency, within, ceiling)
    for period in periods:
        buckets.setdefault((period, ()), ops.Bucket())
    return sorted(((period, group, formulas.evaluate(formula, bucket.amounts), bucket.sensitivity)
                   for (period, group), bucket in buckets.items()), key=lambda f: (f[0], f[1]))


def ids_behind(actor: Actor, formula: Mapping[str, Any], frequency: str, period: Period,
               disaggregation: Mapping[str, str], within: Actor | None = None) -> list[str]:
    """The alerts or plans one figure is made of."""
    keys = sorted(disaggregation)
    wanted = tuple((k, str(disaggregation[k])) for k in keys)
    buckets = _buckets(actor, formula, keys, {period}, frequency, within, None)
    found = buckets.get((period, wanted))
    return sorted(found.ids) if found else []


def changed_periods(formula: Mapping[str, Any], after_seq: int, up_to_seq: int, frequency: str) -> set[Period]:
    kind = formula["type"]
    moments = alerts.alert_times_changed(after_seq, up_to_seq) if kind == "alert_decision" \
        else planning.plan_times_changed(after_seq, up_to_seq)
    return {period_of(moment, frequency) for moment in moments}


def visible(actor: Actor, item_type: str, ids: list[str]) -> list[str]:
    """The ids among `ids` that `actor` may open (drill-down never lists what the viewer cannot see)."""
    found = alerts.scoped_alerts(actor) if item_type == "alert" else planning.scoped_plans(actor)
    seen = {str(pk) for pk in found.filter(pk__in=ids).values_list("pk", flat=True)}
    return [i for i in ids if i in seen]


def describe(actor: Actor, item_type: str, ids: list[str]) -> list[dict[str, Any]]:
    """What the drill-down page lists for each alert or plan behind a figure, among those `actor` may see."""
    if item_type == "alert":
        rows = alerts.scoped_alerts(actor).filter(pk__in=ids).select_related("recommendation__decision") \
            .order_by("-created_at", "-id")
        out = []
        for a in rows:
            decision = getattr(a.recommendation, "decision", None)  # listed alerts are decided ones
            out.append({"id": str(a.pk), "type": "alert", "when": a.created_at,
                        "decided_at": decision.decided_at if decision else None,
                        "outcome": decision.outcome if decision else "", "area": a.admin1,
                        "state": a.get_state_display(), "published": bool(a.cap_identifier)})
        return out
    plans = planning.scoped_plans(actor).filter(pk__in=ids).order_by("-request__shift_start", "-id")
    return [{"id": str(p.pk), "type": "patrol_plan", "when": p.request.shift_start, "until": p.request.shift_end,
             "state": p.get_status_display(), "coverage": (p.coverage or {}).get("priority_share"),
             "actual": p.actual_at is not None} for p in plans]
