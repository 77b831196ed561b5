"""Results-framework pages: frameworks and their tree, indicators with a formula builder, values entered by hand
or imported, assessments and their decision, the report (issue 7).

Presentation only: every write goes through `services`/`values`, which check the role and log the change.
Forms a viewer may not use are not shown, and a POST to them is refused (403) before any input is read;
another organisation's framework is 404, as if absent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from sitaware.assessment import framework_forms as forms
from sitaware.assessment import permissions, services, values
from sitaware.assessment.errors import AssessmentError, AssessmentValidationError, NotFound
from sitaware.assessment.formula import (
    CELL_SOURCES,
    COVERAGE_BASES,
    COVERAGE_WEIGHTS,
    DECISION_OUTCOMES,
    DURATION_UNITS,
    STATISTICS,
    SUM_FIELDS,
)
from sitaware.assessment.models import (
    DIRECTION_CHOICES,
    DISAGGREGATION_KEYS,
    FREQUENCY_CHOICES,
    AssessmentStatus,
    DataSource,
    FrameworkStatus,
    IndicatorStatus,
)
from sitaware.assessment.views_dashboard import _actor
from sitaware.core import services as core_services
from sitaware.core.choices import Sensitivity
from sitaware.core.scope import Actor
from sitaware.records import vocab

IMPORT_MAX_BYTES = 10 * 1024 * 1024
# A breakdown value entered by hand: five of them fit the stored breakdown text (400 characters) with room to spare.
BREAKDOWN_MAX_CHARS = 60


def _framework(actor: Actor, framework_id: Any) -> Any:
    try:
        return services.get_framework(actor, framework_id)
    except NotFound as exc:
        raise Http404(str(exc)) from None


def _indicator(actor: Actor, indicator_id: Any) -> Any:
    try:
        return services.get_indicator(actor, indicator_id)
    except NotFound as exc:
        raise Http404(str(exc)) from None


def _may(actor: Actor) -> dict[str, bool]:
    return {action: permissions.can(actor, action) for action in permissions.ASSESSMENT_ACTIONS}


def _problems(exc: AssessmentError) -> list[dict[str, str]]:
    if isinstance(exc, AssessmentValidationError):
        return exc.problems
    return [{"field": "", "message": str(exc)}]


# ---------------------------------------------------------------- list and create


@login_required
@require_http_methods(["GET", "POST"])
def framework_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    problems: list[dict[str, str]] = []
    if request.method == "POST":
        permissions.require(actor, "plan")
        try:
            fw = services.create_framework(actor, {k: request.POST.get(k, "").strip()
                                                   for k in ("code", "title", "description")})
        except AssessmentError as exc:
            problems = _problems(exc)
        else:
            return HttpResponseRedirect(reverse("assessment:framework", args=[fw.pk]))
    context = {"frameworks": services.list_frameworks(actor), "may": _may(actor), "problems": problems,
               "errors": forms.errors_by_field(problems), "sent": request.POST}
    return render(request, "assessment/framework_list.html", context, status=400 if problems else 200)


# ---------------------------------------------------------------- one framework


def _latest_total(actor: Actor, indicator_id: str) -> dict[str, Any] | None:
    seen = values.read_values(actor, indicator_id, disaggregation={})
    return seen[-1].state | {"partial": seen[-1].partial} if seen else None


NODE_ACTIONS = {"objective": services.add_objective, "outcome": services.add_outcome, "output": services.add_output}


def _post_framework(actor: Actor, request: HttpRequest, fw: Any) -> tuple[str, list[dict], Any]:
    """Do the page's action; returns (the form that failed, its problems, a redirect when done)."""
    action = request.POST.get("action", "")
    post = request.POST
    here = reverse("assessment:framework", args=[fw.pk])
    needs = {"objective": "plan", "outcome": "plan", "output": "plan", "activate": "activate",
             "new_version": "plan", "import": "enter_values", "assessment": "assess", "decide": "decide"}
    if action not in needs:
        return "", [{"field": "action", "message": _("unknown action")}], None
    permissions.require(actor, needs[action])
    form = action if action not in ("outcome", "output", "decide") else f"{action}-{post.get('parent', '')}"
    try:
        if action in NODE_ACTIONS:
            parent = fw.pk if action == "objective" else post.get("parent", "")
            NODE_ACTIONS[action](actor, parent, {"code": post.get("code", "").strip(),
                                                 "title": post.get("title", "").strip()})
            return "", [], HttpResponseRedirect(here + "#tree")
        if action == "activate":
            services.activate_framework(actor, fw.pk)
            return "", [], HttpResponseRedirect(here)
        if action == "new_version":
            new = services.new_version(actor, fw.pk, {"assessment_id": post.get("assessment_id", ""),
                                                      "title": post.get("title", "").strip()})
            return "", [], HttpResponseRedirect(reverse("assessment:framework", args=[new.pk]))
        if action == "import":
            return _import(actor, request, fw)
        if action == "assessment":
            services.create_assessment(actor, fw.pk, forms.assessment_payload(post))
            return "", [], HttpResponseRedirect(here + "#assessments")
        payload: dict[str, Any] = {"leadership_decision": post.get("leadership_decision", "").strip()}
        if post.get("follow_up_actions", "").strip():
            payload["follow_up_actions"] = forms.follow_up_actions(post["follow_up_actions"])
        services.decide_assessment(actor, post.get("parent", ""), payload)
        return "", [], HttpResponseRedirect(here + "#assessments")
    except NotFound as exc:
        if action in ("outcome", "output", "decide"):
            raise Http404(str(exc)) from None
        return form, _problems(exc), None
    except AssessmentError as exc:
        problems = _problems(exc)
        if exc.status != 400:
            problems = [p | {"status": exc.status} for p in problems]
        return form, problems, None


def _import(actor: Actor, request: HttpRequest, fw: Any) -> tuple[str, list[dict], Any]:
    upload = request.FILES.get("file")
    if upload is None:
        return "import", [{"field": "file", "message": _("choose a CSV file")}], None
    if upload.size and upload.size > IMPORT_MAX_BYTES:
        return "import", [{"field": "file", "message": _("the file is over %(size)s bytes; split it") % {
            "size": f"{IMPORT_MAX_BYTES:,}"}}], None
    try:
        text = upload.read().decode("utf-8")
    except UnicodeDecodeError:
        return "import", [{"field": "file", "message": _("not UTF-8 text; save the file as CSV UTF-8")}], None
    result = values.import_values(actor, fw.pk, text, comment=request.POST.get("comment", "").strip())
    if result.errors:
        return "import", result.errors, None
    here = reverse("assessment:framework", args=[fw.pk])
    return "", [], HttpResponseRedirect(f"{here}?imported={result.written}#import")


@login_required
@require_http_methods(["GET", "POST"])
def framework_show(request: HttpRequest, framework_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    fw = _framework(actor, framework_id)
    failed, problems = "", []
    if request.method == "POST":
        failed, problems, done = _post_framework(actor, request, fw)
        if done is not None:
            return done
        fw.refresh_from_db()
    tree = services.framework_tree(fw)
    sent = request.POST if failed else {}
    errors = forms.errors_by_field(problems) if failed else {}
    for obj in tree["objectives"]:
        obj["errors"], obj["sent"] = (errors, sent) if failed == f"outcome-{obj['id']}" else ({}, {})
        for oc in obj["outcomes"]:
            oc["errors"], oc["sent"] = (errors, sent) if failed == f"output-{oc['id']}" else ({}, {})
            for op in oc["outputs"]:
                for ind in op["indicators"]:
                    ind["latest"] = _latest_total(actor, ind["id"])
    assessments = list(fw.assessments.select_related("decided_by").order_by("-period_end", "-created_at"))
    for a in assessments:
        a.failed = failed == f"decide-{a.pk}"
    context = {
        "fw": fw, "tree": tree, "may": _may(actor), "failed": failed, "problems": problems, "errors": errors,
        "sent": sent, "assessments": assessments, "editable": fw.status != FrameworkStatus.SUPERSEDED,
        "decided": [a for a in assessments if a.status == AssessmentStatus.DECIDED],
        "imported": request.GET.get("imported", ""), "row_errors": problems if failed == "import" else [],
        "has_indicators": any(op["indicators"] for obj in tree["objectives"] for oc in obj["outcomes"]
                              for op in oc["outputs"]),
    }
    status = max((p.get("status", 400) for p in problems), default=200)
    return render(request, "assessment/framework.html", context, status=status)


@login_required
@require_GET
def framework_report(request: HttpRequest, framework_id: uuid.UUID, fmt: str) -> HttpResponse:
    from sitaware.assessment import report

    actor = _actor(request)
    _framework(actor, framework_id)
    if fmt not in report.FORMATS:
        raise Http404(_("no such report; there are PDF and XLSX"))
    language = (get_language() or "en")[:2]
    _fw, content, content_type, name = report.render(actor, framework_id, fmt=fmt,
                                                      language=language if language in report.LANGUAGES else "en")
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# ---------------------------------------------------------------- indicators


def _outputs(tree: dict[str, Any]) -> list[tuple[int, str]]:
    return [(op["id"], f"{obj['code']} / {oc['code']} / {op['code']} {op['title']}")
            for obj in tree["objectives"] for oc in obj["outcomes"] for op in oc["outputs"]]


def _filter_blocks(state: dict[str, Any], errors: dict[str, str], units: list[tuple[str, str]],
                   areas: list[str]) -> dict[str, dict[str, Any]]:
    """Per formula part (f, num, den): its state, the messages of its fields keyed by field name, and the units
    and areas it names that the lists do not offer (shown in the text fields, so that none is lost)."""
    blocks = {}
    for prefix in forms.PARTS:
        own = {key.split("-", 1)[1]: message for key, message in errors.items() if key.startswith(prefix + "-")}
        flt = state[prefix]["filter"]
        blocks[prefix] = {"prefix": prefix, "m": state[prefix], "errors": own,
                          "units_other": forms.others(flt["units"], [code for code, _name in units]),
                          "admin1_other": forms.others(flt["admin1"], areas)}
    return blocks


def _units(actor: Actor) -> list[tuple[str, str]]:
    """(code, name) of the organisation's units (read only for those shown a form)."""
    return core_services.organisation_units(actor.organisation_id)


def _operational_choices() -> dict[str, list[tuple[str, str]]]:
    """The choices of the two operational measures, each with its label in words."""
    labels = {
        "accept": _("accepted"), "modify": _("modified"), "reject": _("rejected"),
        "forecast": _("the forecast"), "alert": _("an early-warning alert"), "manual": _("set by hand"),
        "planned": _("planned: visits in the approved plans"),
        "made": _("made: visits confirmed by plan vs. actual"),
        "cells": _("every priority cell counts the same"), "priority": _("each cell counts as much as its priority"),
    }
    return {name: [(value, labels[value]) for value in choices] for name, choices in (
        ("decision_outcomes", DECISION_OUTCOMES), ("cell_sources", CELL_SOURCES),
        ("coverage_bases", COVERAGE_BASES), ("coverage_weights", COVERAGE_WEIGHTS))}


def _indicator_context(actor: Actor, fw: Any, fields: dict[str, Any], formula_state: dict[str, Any],
                       problems: list[dict[str, str]], *, choices: bool = True) -> dict[str, Any]:
    """What the indicator page shows. `choices`: read the lists the forms offer (units, known groups); a viewer
    shown no form needs none."""
    from sitaware.web import pages

    errors = forms.errors_by_field(problems)
    tax = pages.taxonomy()
    units, known = (_units(actor), services.known_groups(actor)) if choices else ([], {})
    return {
        "fw": fw, "f": fields, "formula": formula_state, "units": units, "known": known,
        "areas": known.get("area", []), "parts": _filter_blocks(formula_state, errors, units, known.get("area", [])),
        "problems": problems, "errors": errors, "ferr": {"type": errors.get("f-type"), "factor": errors.get("factor")},
        "outputs": _outputs(services.framework_tree(fw)),
        "frequencies": FREQUENCY_CHOICES, "directions": DIRECTION_CHOICES, "sources": DataSource.choices,
        "sensitivities": Sensitivity.choices, "keys": DISAGGREGATION_KEYS, "kinds": vocab.KINDS,
        "statuses": vocab.STATUSES, "source_types": vocab.SOURCE_TYPES,
        "categories": [(c["code"], c["label"]) for c in pages.category_options(tax)],
        "sum_fields": SUM_FIELDS, "statistics": STATISTICS, "duration_units": tuple(DURATION_UNITS),
        "may": _may(actor), **_operational_choices(),
    }


def _plain(value: Decimal | None) -> str:
    """5.000000 as 5, 12.500000 as 12.5: the stored six decimals are not what the officer typed."""
    return "" if value is None else format(value.normalize(), "f")


def _fields_of(ind: Any) -> dict[str, Any]:
    state = services.indicator_state(ind)
    return {**{k: state[k] for k in ("code", "name", "definition", "unit", "direction", "frequency", "data_source")},
            "output_id": str(ind.output_id), "baseline_value": _plain(ind.baseline_value),
            "baseline_period": state["baseline"]["period"] or "", "target_value": _plain(ind.target_value),
            "target_period": state["target"]["period"] or "", "owner": state["owner"] or "",
            "sensitivity": str(ind.sensitivity), "disaggregation": list(ind.disaggregation)}


def _fields_of_post(post: Any) -> dict[str, Any]:
    return {**{k: post.get(k, "") for k in forms.INDICATOR_FIELDS}, "disaggregation": post.getlist("disaggregation")}


@login_required
@require_http_methods(["GET", "POST"])
def indicator_new(request: HttpRequest, framework_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    fw = _framework(actor, framework_id)
    permissions.require(actor, "plan")
    problems: list[dict[str, str]] = []
    if request.method == "POST":
        try:
            ind = services.create_indicator(actor, fw.pk, forms.indicator_payload(request.POST))
        except AssessmentError as exc:
            problems = _problems(exc)
        else:
            return HttpResponseRedirect(reverse("assessment:indicator", args=[ind.pk]))
        fields, formula_state = _fields_of_post(request.POST), forms.formula_state_from_post(request.POST)
    else:
        fields = {"frequency": "monthly", "direction": "increase", "data_source": "computed", "sensitivity": "1",
                  "disaggregation": [], "output_id": request.GET.get("output", "")}
        formula_state = forms.empty_formula_state()
    context = _indicator_context(actor, fw, fields, formula_state, problems) | {"indicator": None}
    return render(request, "assessment/indicator_form.html", context, status=400 if problems else 200)


def _key_labels() -> dict[str, str]:
    return {"area": _("area"), "unit": _("unit"), "category": _("category"), "sex": _("sex"),
            "age_group": _("age group")}


def _breakdown_text(disaggregation: dict[str, str], labels: dict[str, str]) -> str:
    """`sex: female · unit: bria`, or "total"."""
    return " · ".join(_("%(key)s: %(value)s") % {"key": labels.get(key, key), "value": disaggregation[key]}
                      for key in DISAGGREGATION_KEYS if key in disaggregation) or _("total")


def _breakdown_problems(ind: Any, breakdown: dict[str, str]) -> list[dict[str, str]]:
    """What the page itself checks of a breakdown typed by hand, beyond the service (which names a unit that is
    not the organisation's, a key the indicator is not broken down by and a breakdown too long in all): each
    value within its field's length, so that the problem is named beside the field that is too long."""
    problems = []
    for key, value in breakdown.items():
        if key in ind.disaggregation and len(value) > BREAKDOWN_MAX_CHARS:
            problems.append({"field": f"disaggregation.{key}", "message": _(
                "at most %(count)s characters") % {"count": BREAKDOWN_MAX_CHARS}})
    return problems


def _breakdown_fields(ind: Any, context: dict[str, Any], sent: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    """One optional field per breakdown key of the indicator, for "Enter a value": units from a list, the other
    keys as text with the groups already known (and, for categories, the taxonomy's codes) as suggestions."""
    labels = {"area": _("Area (prefecture)"), "unit": _("Unit"), "category": _("Category (a code)"),
              "sex": _("Sex"), "age_group": _("Age group")}
    known = context["known"]
    out = []
    for key in DISAGGREGATION_KEYS:
        if key not in ind.disaggregation:
            continue
        name = forms.breakdown_field(key)
        value = sent.get(name, "") if sent else ""
        field: dict[str, Any] = {"key": key, "name": name, "label": labels[key], "value": value,
                                 "error": errors.get(name), "max": BREAKDOWN_MAX_CHARS, "options": None,
                                 "suggestions": []}
        if key == "unit":
            options = list(context["units"])
            if value and value not in {code for code, _name in options}:
                options.append((value, _("not a unit of your organisation")))
            field["options"] = options
        elif key == "category":
            listed = {code for code, _label in context["categories"]}
            field["suggestions"] = [*context["categories"], *((c, "") for c in known.get(key, []) if c not in listed)]
        else:
            field["suggestions"] = [(v, "") for v in known.get(key, [])]
        out.append(field)
    return out


def _enter_value(actor: Actor, ind: Any, post: Any) -> None:
    payload = forms.entered_value_payload(post)
    # An indicator whose values are not entered is the service's to refuse (409), whatever the breakdown.
    if ind.data_source == DataSource.ENTERED:
        problems = _breakdown_problems(ind, payload["disaggregation"])
        if problems:
            raise AssessmentValidationError(problems)
    values.enter_value(actor, ind.pk, payload)


def _save_indicator(actor: Actor, ind: Any, post: Any) -> None:
    services.change_indicator(actor, ind.pk, forms.indicator_payload(post, changing=True))
    if ind.data_source == DataSource.COMPUTED:
        formula = forms.formula_from_state(forms.formula_state_from_post(post))
        if formula is not None:
            services.set_formula(actor, ind.pk, formula)


@login_required
@require_http_methods(["GET", "POST"])
def indicator_show(request: HttpRequest, indicator_id: uuid.UUID) -> HttpResponse:
    """An indicator: its form while a draft, "Activate" (saying what is missing), values entered by hand."""
    actor = _actor(request)
    ind = _indicator(actor, indicator_id)
    fw = ind.framework
    problems: list[dict[str, str]] = []
    action = request.POST.get("action", "")
    sent_value: Any = {}
    status = 200
    here = reverse("assessment:indicator", args=[ind.pk])
    if request.method == "POST":
        needs = {"save": "plan", "activate": "activate", "value": "enter_values"}
        if action not in needs:
            return HttpResponse(_("unknown action"), status=400)
        permissions.require(actor, needs[action])
        try:
            if action == "save":
                if ind.status != IndicatorStatus.DRAFT:
                    raise AssessmentValidationError([{"field": "", "message": _(
                        "only a draft indicator is changed here; an active one changes through a new plan version")}])
                _save_indicator(actor, ind, request.POST)
                return HttpResponseRedirect(here)
            if action == "activate":
                services.activate_indicator(actor, ind.pk)
                return HttpResponseRedirect(here)
            _enter_value(actor, ind, request.POST)
            return HttpResponseRedirect(here + "#values")
        except AssessmentError as exc:
            problems, status = _problems(exc), exc.status
        ind = _indicator(actor, indicator_id)
    definition = services.current_definition(ind)
    if action == "save" and problems:
        fields = _fields_of_post(request.POST) | {k: v for k, v in _fields_of(ind).items()
                                                   if k not in forms.CHANGEABLE}
        formula_state = forms.formula_state_from_post(request.POST)
    else:
        fields = _fields_of(ind)
        formula_state = forms.formula_state_from_stored(definition.formula if definition else None)
    if action == "value" and problems:
        sent_value = request.POST
    editable = (ind.status == IndicatorStatus.DRAFT and fw.status != FrameworkStatus.SUPERSEDED
                and permissions.can(actor, "plan"))
    by_hand = ind.data_source == DataSource.ENTERED
    context = _indicator_context(actor, fw, fields, formula_state, problems if action == "save" else [],
                                 choices=editable or (by_hand and permissions.can(actor, "enter_values")))
    value_errors = forms.errors_by_field(problems, forms.value_field_for) if action == "value" else {}
    context.update(
        indicator=ind, definition=definition, action=action, gaps=services.activation_gaps(ind)
        if ind.status == IndicatorStatus.DRAFT else [],
        activate_problems=problems if action == "activate" else [],
        value_problems=problems if action == "value" else [],
        value_errors=value_errors, sent_value=sent_value,
        breakdown_fields=_breakdown_fields(ind, context, sent_value, value_errors), values=_value_rows(actor, ind),
        editable=editable, by_hand=by_hand, totals_only=ind.data_source == DataSource.COMPUTED,
    )
    if ind.data_source == DataSource.COMPUTED:
        groups = _latest_groups(actor, ind)
        context.update(latest_groups=groups, latest_period=groups[0]["period"] if groups else "")
    return render(request, "assessment/indicator_form.html", context, status=status)


def _latest_groups(actor: Actor, ind: Any) -> list[dict[str, Any]]:
    """A computed indicator's figures by group (area, unit, category...) in the latest period that has any, the
    highest first within each key: what its totals are made of, without opening a dashboard."""
    start = values.latest_group_period(actor, ind.pk)
    if start is None:
        return []
    labels = _key_labels()
    shown = values.read_values(actor, ind.pk, since=start, until=start + dt.timedelta(days=1))
    rows = [v.state | {"partial": v.partial, "breakdown": _breakdown_text(v.state["disaggregation"], labels)}
            for v in shown if v.state["disaggregation"]]

    def order(row: dict[str, Any]) -> tuple:
        value = row["value"]
        return (sorted(row["disaggregation"]), value is None, -float(value) if value is not None else 0.0,
                row["breakdown"])

    return sorted(rows, key=order)


def _value_rows(actor: Actor, ind: Any) -> list[dict[str, Any]]:
    """The values listed on the indicator page: a computed indicator's totals (its groups are on the dashboards
    and the value pages), every value of one entered or imported, each with its breakdown in words."""
    labels = _key_labels()
    shown = values.read_values(actor, ind.pk, disaggregation={} if ind.data_source == DataSource.COMPUTED else None)
    return [v.state | {"partial": v.partial, "breakdown": _breakdown_text(v.state["disaggregation"], labels)}
            for v in shown]

