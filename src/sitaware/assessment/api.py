"""HTTP API of performance assessment: frameworks, indicators, values (with drill-down), assessments.

Bad input is 400 with `errors: [{field, message}]`; out of scope is 404 like a missing id; a computed figure
the caller may not see in full is recomputed over their scope and marked `partial`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from sitaware.api.auth import request_actor
from sitaware.api.errors import reject_unknown_params
from sitaware.assessment import services, values
from sitaware.assessment.errors import AssessmentValidationError
from sitaware.assessment.models import DISAGGREGATION_KEYS
from sitaware.assessment.periods import PeriodError, parse_label
from sitaware.assessment.schema import (
    AssessmentDecisionIn,
    AssessmentIn,
    EnteredValueIn,
    FrameworkIn,
    FrameworkNodeIn,
    IndicatorChange,
    IndicatorIn,
    NewVersionIn,
)

router = Router(tags=["assessment"])
IMPORT_MAX_BYTES = 10 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# Assessment errors carry their HTTP status (400, 404, 409) and a body that says what to fix.


class IndicatorFormulaIn(Schema):
    formula: dict[str, Any]


class ComputeRangeIn(Schema):
    first: str
    last: str


# ---------------------------------------------------------------- frameworks


@router.get("/frameworks", summary="Your organisation's results frameworks, every version")
def list_frameworks(request: HttpRequest):
    return {"items": [services.framework_state(f) for f in services.list_frameworks(request_actor(request))]}


@router.post("/frameworks", response={201: dict}, summary="Start a results framework (version 1)")
def create_framework(request: HttpRequest, payload: FrameworkIn):
    return Status(201, services.framework_state(services.create_framework(request_actor(request), payload)))


@router.get("/frameworks/{framework_id}", summary="A framework: objectives → outcomes → outputs → indicators")
def get_framework(request: HttpRequest, framework_id: str):
    return services.framework_tree(services.get_framework(request_actor(request), framework_id))


@router.post("/frameworks/{framework_id}/objectives", response={201: dict}, summary="Add an objective")
def add_objective(request: HttpRequest, framework_id: str, payload: FrameworkNodeIn):
    node = services.add_objective(request_actor(request), framework_id, payload)
    return Status(201, {"id": node.pk, "code": node.code, "title": node.title})


@router.post("/objectives/{objective_id}/outcomes", response={201: dict}, summary="Add an outcome")
def add_outcome(request: HttpRequest, objective_id: int, payload: FrameworkNodeIn):
    node = services.add_outcome(request_actor(request), objective_id, payload)
    return Status(201, {"id": node.pk, "code": node.code, "title": node.title})


@router.post("/outcomes/{outcome_id}/outputs", response={201: dict}, summary="Add an output")
def add_output(request: HttpRequest, outcome_id: int, payload: FrameworkNodeIn):
    node = services.add_output(request_actor(request), outcome_id, payload)
    return Status(201, {"id": node.pk, "code": node.code, "title": node.title})


@router.post("/frameworks/{framework_id}/activate", summary="Make this version the plan in force")
def activate_framework(request: HttpRequest, framework_id: str):
    return services.framework_state(services.activate_framework(request_actor(request), framework_id))


@router.post("/frameworks/{framework_id}/versions", response={201: dict},
             summary="The next plan version, made because of a decided assessment (which it names)")
def new_version(request: HttpRequest, framework_id: str, payload: NewVersionIn):
    return Status(201, services.framework_state(services.new_version(request_actor(request), framework_id, payload)))


# ---------------------------------------------------------------- indicators


def _indicator_out(ind: Any) -> dict[str, Any]:
    definition = services.current_definition(ind)
    return {**services.indicator_state(ind), "formula": definition.formula if definition else None,
            "definition_version": definition.version if definition else None,
            "missing_for_activation": services.activation_gaps(ind) if ind.status == "draft" else []}


@router.get("/frameworks/{framework_id}/indicators", summary="A framework's indicators")
def list_indicators(request: HttpRequest, framework_id: str):
    return {"items": [_indicator_out(i) for i in services.list_indicators(request_actor(request), framework_id)]}


@router.post("/frameworks/{framework_id}/indicators", response={201: dict},
             summary="Define an indicator (a draft until activated); a computed one takes a formula")
def create_indicator(request: HttpRequest, framework_id: str, payload: IndicatorIn):
    return Status(201, _indicator_out(services.create_indicator(request_actor(request), framework_id, payload)))


@router.get("/indicators/{indicator_id}", summary="One indicator with its current formula")
def get_indicator(request: HttpRequest, indicator_id: str):
    return _indicator_out(services.get_indicator(request_actor(request), indicator_id))


@router.patch("/indicators/{indicator_id}", summary="Change an indicator's description, baseline, target or owner")
def change_indicator(request: HttpRequest, indicator_id: str, payload: IndicatorChange):
    return _indicator_out(services.change_indicator(request_actor(request), indicator_id, payload))


@router.post("/indicators/{indicator_id}/formula", response={201: dict},
             summary="A new version of a computed indicator's formula (earlier versions are kept)")
def set_formula(request: HttpRequest, indicator_id: str, payload: IndicatorFormulaIn):
    definition = services.set_formula(request_actor(request), indicator_id, payload.formula)
    return Status(201, services.definition_state(definition))


@router.post("/indicators/{indicator_id}/activate",
             summary="Activate an indicator; refused, naming what is missing, without baseline, target and owner")
def activate_indicator(request: HttpRequest, indicator_id: str):
    return _indicator_out(services.activate_indicator(request_actor(request), indicator_id))


def _range(payload: ComputeRangeIn) -> tuple[dt.date, dt.date]:
    problems, bounds = [], {}
    for name in ("first", "last"):
        try:
            bounds[name] = parse_label(getattr(payload, name))[0]
        except PeriodError as exc:
            problems.append({"field": name, "message": str(exc)})
    if problems:
        raise AssessmentValidationError(problems)
    return bounds["first"].start, bounds["last"].end


@router.post("/indicators/{indicator_id}/compute",
             summary="Recompute a computed indicator in full for the periods first..last (inclusive)")
def compute(request: HttpRequest, indicator_id: str, payload: ComputeRangeIn):
    start, end = _range(payload)
    return values.compute(request_actor(request), indicator_id, start, end).__dict__


@router.post("/indicators/{indicator_id}/refresh",
             summary="Recompute only the periods touched by record changes since the last computation")
def refresh(request: HttpRequest, indicator_id: str):
    return values.refresh(request_actor(request), indicator_id).__dict__


# ---------------------------------------------------------------- values


@router.get("/indicators/{indicator_id}/values",
            summary="An indicator's values with provenance; filter by period and disaggregation",
            description="`since`/`until` are dates (period starts); give a disaggregation key (area, unit, "
            "category, sex, age_group) for that breakdown, `total=true` for totals only, nothing for all. "
            "`partial: true` marks figures recomputed over your scope because the organisation's figure "
            "includes records you may not see.")
def list_values(request: HttpRequest, indicator_id: str, since: dt.date | None = None,
                until: dt.date | None = None, total: bool = False):
    reject_unknown_params(request, {"since", "until", "total", *DISAGGREGATION_KEYS})
    breakdown = {k: request.GET[k] for k in DISAGGREGATION_KEYS if request.GET.get(k)}
    wanted = {} if total else (breakdown or None)
    views = values.read_values(request_actor(request), indicator_id, since=since, until=until, disaggregation=wanted)
    return {"items": [{**v.state, "partial": v.partial} for v in views], "partial": any(v.partial for v in views)}


@router.post("/indicators/{indicator_id}/values", response={201: dict},
             summary="Enter a value by hand for one period (and breakdown), with a comment")
def enter_value(request: HttpRequest, indicator_id: str, payload: EnteredValueIn):
    v = values.enter_value(request_actor(request), indicator_id, payload)
    return Status(201, values.value_state(v, v.indicator.frequency))


@router.get("/values/{value_id}/records", summary="Drill-down: the ids of the records behind a computed figure",
            description="`record_ids` are the ids of what the figure is made of, as `item_type` says: records, or "
                        "for the operational formulas alerts (`alert`) or patrol plans (`patrol_plan`); only those the "
                        "caller may open.")
def drill_down(request: HttpRequest, value_id: int):
    return values.drill_down(request_actor(request), value_id)


class ValueReviewIn(Schema):
    qa_status: str
    comment: str = ""


@router.post("/values/{value_id}/review", summary="Quality assurance: accept, query or reject a value (with a "
             "comment unless accepted); not by its producer")
def review_value(request: HttpRequest, value_id: int, payload: ValueReviewIn):
    v = values.review_value(request_actor(request), value_id, payload.qa_status, payload.comment)
    return values.value_state(v, v.indicator.frequency)


@router.post("/frameworks/{framework_id}/values/import", response={200: dict, 400: dict, 413: dict},
             summary="Import values from CSV: indicator, period, value[, empty_reason, comment, area, unit, "
             "category, sex, age_group]; nothing is written if any row is wrong")
def import_values(request: HttpRequest, framework_id: str, file: File[UploadedFile], comment: Form[str] = ""):
    if file.size is not None and file.size > IMPORT_MAX_BYTES:
        return Status(413, {"detail": _("the file is over %(size)s bytes; split it") % {
            "size": f"{IMPORT_MAX_BYTES:,}"}})
    try:
        text = file.read().decode("utf-8")
    except UnicodeDecodeError:
        return Status(400, {"detail": _("invalid input"), "errors": [{"field": "file", "message": _(
            "not UTF-8 text; save the file as CSV UTF-8")}]})
    result = values.import_values(request_actor(request), framework_id, text, comment=comment)
    if result.errors:
        return Status(400, {"detail": _("no values were imported: fix the rows named"), "errors": result.errors})
    return {"written": result.written}


# ---------------------------------------------------------------- assessments


@router.post("/frameworks/{framework_id}/assessments", response={201: dict},
             summary="Open an assessment of a framework for a period: findings, recommendations, actions")
def create_assessment(request: HttpRequest, framework_id: str, payload: AssessmentIn):
    return Status(201, services.assessment_state(services.create_assessment(request_actor(request), framework_id,
                                                                              payload)))


@router.get("/assessments/{assessment_id}", summary="One assessment")
def get_assessment(request: HttpRequest, assessment_id: str):
    return services.assessment_state(services.get_assessment(request_actor(request), assessment_id))


@router.post("/assessments/{assessment_id}/decision", summary="Record the leadership decision (once)")
def decide(request: HttpRequest, assessment_id: str, payload: AssessmentDecisionIn):
    return services.assessment_state(services.decide_assessment(request_actor(request), assessment_id, payload))


@router.get("/frameworks/{framework_id}/report.xlsx", summary="The indicator table with targets and traffic "
            "lights as an XLSX workbook (totals; figures you may not see in full are marked partial)")
def report_xlsx(request: HttpRequest, framework_id: str, since: dt.date | None = None, until: dt.date | None = None,
                language: str | None = None):
    return _report(request, framework_id, "xlsx", since, until, language)


@router.get("/frameworks/{framework_id}/report.pdf", summary="The periodic performance report as PDF: cover, "
            "summary, indicator table with traffic lights, charts, maps by area, the assessment's narrative")
def report_pdf(request: HttpRequest, framework_id: str, since: dt.date | None = None, until: dt.date | None = None,
               language: str | None = None):
    return _report(request, framework_id, "pdf", since, until, language)


def _report(request: HttpRequest, framework_id: str, fmt: str, since: Any, until: Any, language: str | None):
    from django.http import HttpResponse

    from sitaware.assessment import report

    if language not in (None, *report.LANGUAGES):
        raise AssessmentValidationError([{"field": "language", "message": _("use en or fr")}])
    _fw, content, content_type, name = report.render(request_actor(request), framework_id, fmt=fmt,
                                                      language=language, since=since, until=until)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
