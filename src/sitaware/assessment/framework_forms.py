"""Form fields of the framework pages ↔ the services' payloads. Pure: no Django, no database.

The formula builder is plain form fields, not JSON (R-PA-04): `f-*` holds a count, sum or duration, or one of
the operational measures (time from alert to decision, patrol coverage), `num-*` and `den-*` the two parts of a
ratio. `formula_from_state` turns them into the formula dict the services validate; `field_for` puts each problem
the services name (`formula.numerator.filter.kinds`) next to the field it is about (`num-kinds`). The same state
is built from a POST (to keep what was typed) and from a stored formula (to edit it), so both pages render from
one shape.

Units and areas are chosen from lists (checkboxes) and typed (comma-separated) under one field name: a POST gives
their union, and a stored value that is no longer in the list (a unit renamed) goes back into the text field
(`others`) rather than being dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, get_args

from sitaware.assessment.formula import FILTER_KEYS, FILTERS_OF
from sitaware.assessment.schema import DisaggregationKey

LIST_FILTERS = ("kinds", "categories", "statuses", "source_types", "outcomes", "sources")
CHOSEN_FILTERS = ("units", "admin1")  # unit codes / area names: ticked in a list or typed, comma-separated
BREAKDOWN_KEYS: tuple[str, ...] = get_args(DisaggregationKey)
NUMBER_FILTERS = ("sensitivity_max", "min_priority")
SETTINGS = ("field", "statistic", "unit", "basis", "weighting")  # one select each
PARTS = {"f": "", "num": "numerator.", "den": "denominator."}
INDICATOR_FIELDS = ("output_id", "code", "name", "definition", "unit", "baseline_value", "baseline_period",
                    "target_value", "target_period", "direction", "frequency", "owner", "data_source", "sensitivity")
CHANGEABLE = ("name", "definition", "unit", "baseline_value", "baseline_period", "target_value", "target_period",
              "direction", "owner", "disaggregation")


def _split(texts: list[str]) -> list[str]:
    """Every comma-separated part of the texts, once each, in the order given."""
    out: dict[str, None] = {}
    for text in texts:
        out.update((part.strip(), None) for part in str(text).split(",") if part.strip())
    return list(out)


def others(chosen: list[str], listed: list[str]) -> str:
    """The chosen values that no list entry offers (a unit renamed, a partner's unit), for the text field."""
    known = set(listed)
    return ", ".join(v for v in chosen if v not in known)


def _empty_measure() -> dict[str, Any]:
    return {"type": "count", "field": "", "statistic": "median", "unit": "hours", "basis": "planned",
            "weighting": "cells", "filter": {**{k: [] for k in (*LIST_FILTERS, *CHOSEN_FILTERS)},
                                             **{k: "" for k in NUMBER_FILTERS}}}


def empty_formula_state() -> dict[str, Any]:
    return {"type": "", "factor": "100", "f": _empty_measure(), "num": _empty_measure(), "den": _empty_measure()}


def formula_state_from_post(post: Any) -> dict[str, Any]:
    """What the formula fields of a submitted form hold, as typed."""
    state = empty_formula_state()
    state["type"] = post.get("f-type", "")
    state["factor"] = post.get("factor", "")
    for prefix in PARTS:
        m = state[prefix]
        if prefix != "f":
            m["type"] = post.get(f"{prefix}-type", "count")
        for name in SETTINGS:
            m[name] = post.get(f"{prefix}-{name}", m[name])
        flt = m["filter"]
        for key in LIST_FILTERS:
            flt[key] = [v for v in post.getlist(f"{prefix}-{key}") if v]
        for key in CHOSEN_FILTERS:
            flt[key] = _split(post.getlist(f"{prefix}-{key}"))
        for key in NUMBER_FILTERS:
            flt[key] = post.get(f"{prefix}-{key}", "")
    return state


def formula_state_from_stored(formula: Mapping[str, Any] | None) -> dict[str, Any]:
    """The form fields that show a stored formula."""
    state = empty_formula_state()
    if not formula:
        return state
    state["type"] = formula["type"]

    def fill(prefix: str, measure: Mapping[str, Any]) -> None:
        m = state[prefix]
        m["type"] = measure.get("type", "count")
        for name in SETTINGS:
            if measure.get(name):
                m[name] = measure[name]
        flt = measure.get("filter") or {}
        for key in (*LIST_FILTERS, *CHOSEN_FILTERS):
            m["filter"][key] = list(flt.get(key, []))
        for key in NUMBER_FILTERS:
            m["filter"][key] = str(flt[key]) if key in flt else ""

    if formula["type"] == "ratio":
        fill("num", formula["numerator"])
        fill("den", formula["denominator"])
        state["factor"] = str(formula.get("factor", 1))
    else:
        fill("f", formula)
    return state


def _filter(flt: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The filter of a measure type, from the keys it takes only: the fields of the other types keep what was
    typed in them (the type may be switched back) but are never sent, so they make no "unknown filter"."""
    out: dict[str, Any] = {key: list(flt[key]) for key in (*LIST_FILTERS, *CHOSEN_FILTERS)
                           if key in keys and flt[key]}
    text = str(flt["sensitivity_max"]).strip()
    if text and "sensitivity_max" in keys:
        # Not a number: passed on as typed so that the formula's own check names the field.
        out["sensitivity_max"] = int(text) if text.lstrip("-").isdigit() else text
    text = str(flt["min_priority"]).strip()
    if text and "min_priority" in keys:
        out["min_priority"] = _number(text)
    return out


def _measure(m: Mapping[str, Any], kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "filter": _filter(m["filter"], FILTERS_OF.get(kind, FILTER_KEYS))}
    if kind == "sum":
        out["field"] = m["field"]
    if kind in ("duration", "alert_decision"):
        out.update(statistic=m["statistic"], unit=m["unit"])
    if kind == "patrol_coverage":
        out.update(basis=m["basis"], weighting=m["weighting"])
    return out


def _number(text: str) -> Any:
    typed = text.strip()
    if not typed:
        return None
    try:
        value = float(typed.replace(",", "."))
    except ValueError:
        return typed  # the formula's check says what to give
    if not math.isfinite(value):
        return typed  # "nan", "inf": no figure can be computed with them, and JSON cannot store them
    return int(value) if value.is_integer() else value


def formula_from_state(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The formula dict for the services; None when no type is chosen (a draft may wait for its formula)."""
    kind = state["type"]
    if not kind:
        return None
    if kind != "ratio":
        return _measure(state["f"], kind)
    out = {"type": "ratio", "numerator": _measure(state["num"], state["num"]["type"]),
           "denominator": _measure(state["den"], state["den"]["type"])}
    factor = _number(state["factor"])
    if factor is not None:
        out["factor"] = factor
    return out


def indicator_payload(post: Any, *, changing: bool = False) -> dict[str, Any]:
    """The service payload from the indicator form: blanks are "not given" (None), never "0"."""
    names = CHANGEABLE if changing else (*INDICATOR_FIELDS, "disaggregation")
    out: dict[str, Any] = {}
    for name in names:
        if name == "disaggregation":
            out[name] = [k for k in post.getlist("disaggregation") if k]
            continue
        text = post.get(name, "").strip()
        if name in ("baseline_value", "target_value"):
            text = text.replace(",", ".")
        if name in ("definition", "unit"):
            out[name] = text
        else:
            out[name] = text or None
    if not changing:
        for name, default in (("direction", "increase"), ("frequency", "monthly"), ("data_source", "computed"),
                              ("sensitivity", 1)):
            if out.get(name) is None:
                out[name] = default
        if out["data_source"] == "computed":
            out["formula"] = formula_from_state(formula_state_from_post(post))
    return out


def field_for(problem_field: str) -> str:
    """The form field a service problem is about: formula.numerator.filter.kinds → num-kinds."""
    parts = problem_field.split(".")
    if parts[0] != "formula":
        return parts[0]
    rest = parts[1:]
    prefix = "f"
    if rest and rest[0] in ("numerator", "denominator"):
        prefix, rest = ("num" if rest[0] == "numerator" else "den"), rest[1:]
    if not rest:
        return f"{prefix}-type" if prefix != "f" else "f-type"
    if rest[0] == "factor":
        return "factor"
    if rest[0] == "filter":
        return f"{prefix}-{rest[1]}" if len(rest) > 1 else f"{prefix}-filter"
    return f"{prefix}-{rest[0]}"


def errors_by_field(problems: list[dict[str, Any]], where: Callable[[str], str] = field_for) -> dict[str, str]:
    """One message per form field (several are joined), for showing beside the field."""
    out: dict[str, str] = {}
    for p in problems:
        key = where(p.get("field", "") or "")
        out[key] = f"{out[key]}; {p['message']}" if key in out else p["message"]
    return out


# ---------------------------------------------------------------- values entered by hand


def breakdown_field(key: str) -> str:
    """The form field of one breakdown key of an entered value (`dis-sex`)."""
    return f"dis-{key}"


def entered_value_payload(post: Any) -> dict[str, Any]:
    """The service payload from "Enter a value". A blank breakdown field means the total over that key, so it is
    left out; a key the indicator is not broken down by (a page older than a change of its keys) is passed on for
    the service to name."""
    breakdown = {key: post.get(breakdown_field(key), "").strip() for key in BREAKDOWN_KEYS}
    return {"period": post.get("period", "").strip(),
            "value": post.get("value", "").strip().replace(",", ".") or None,
            "empty_reason": post.get("empty_reason", "").strip(), "comment": post.get("comment", "").strip(),
            "disaggregation": {key: value for key, value in breakdown.items() if value}}


def value_field_for(problem_field: str) -> str:
    """The field of the value form a service problem is about: disaggregation.sex → dis-sex."""
    parts = problem_field.split(".")
    if parts[0] == "disaggregation" and len(parts) > 1 and parts[1] in BREAKDOWN_KEYS:
        return breakdown_field(parts[1])
    return field_for(problem_field)


# ---------------------------------------------------------------- assessments


def follow_up_actions(text: str) -> list[dict[str, Any]]:
    """One action a line: "what; who; YYYY-MM-DD" (who and when optional). A date that is not one is passed
    on as typed, so the schema names the line."""
    out = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(";")]
        if not parts[0]:
            continue
        action: dict[str, Any] = {"action": parts[0]}
        if len(parts) > 1 and parts[1]:
            action["owner"] = parts[1]
        if len(parts) > 2 and parts[2]:
            action["due"] = parts[2]
        out.append(action)
    return out


def actions_text(actions: list[dict[str, Any]]) -> str:
    return "\n".join("; ".join(x for x in (a.get("action", ""), a.get("owner", ""), a.get("due") or "") if x)
                     for a in actions)


def assessment_payload(post: Any) -> dict[str, Any]:
    return {"title": post.get("title", "").strip(), "period_start": post.get("period_start", "").strip() or None,
            "period_end": post.get("period_end", "").strip() or None,
            "findings": post.get("findings", "").strip(),
            "recommendations": [r.strip() for r in post.get("recommendations", "").splitlines() if r.strip()],
            "follow_up_actions": follow_up_actions(post.get("follow_up_actions", ""))}

