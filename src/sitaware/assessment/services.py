"""Public services of the assessment app: results frameworks, indicators and their definitions, assessments.

Values and their computation live in `values.py` and `engine.py`; `compute` is re-exported here as the
entry point other apps and the CLI use. Every write appends to the change log in its own transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import BaseModel, ValidationError

from sitaware.assessment import formula as formulas
from sitaware.assessment import permissions
from sitaware.assessment.errors import AssessmentValidationError, Conflict, NotFound
from sitaware.assessment.models import (
    COMPUTABLE_KEYS,
    Assessment,
    AssessmentStatus,
    DataSource,
    FrameworkStatus,
    Indicator,
    IndicatorDefinition,
    IndicatorStatus,
    IndicatorValue,
    Objective,
    Outcome,
    Output,
    ResultsFramework,
)
from sitaware.assessment.periods import parse_label
from sitaware.assessment.schema import (
    AssessmentDecisionIn,
    AssessmentIn,
    FrameworkIn,
    FrameworkNodeIn,
    IndicatorChange,
    IndicatorIn,
    NewVersionIn,
)
from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.scope import Actor, restrict
from sitaware.records.errors import problems_from_pydantic


def parse(model: type[BaseModel], payload: Any) -> Any:
    """A payload as its schema, or AssessmentValidationError naming each wrong field."""
    if isinstance(payload, model):
        return payload
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise AssessmentValidationError(problems_from_pydantic(exc)) from None


def translated(problems: list[dict[str, Any]], prefix: str = "") -> list[dict[str, str]]:
    """Problems from the pure modules (English templates with values) in the user's language."""
    out = []
    for p in problems:
        template = p.get("template")
        message = _(template).format(**p.get("params", {})) if template else p["message"]
        out.append({"field": prefix + p["field"], "message": message})
    return out


def log(actor: Actor, action: str, object_type: str, object_id: Any, organisation_id: Any, before: Any,
        after: Any, *, sensitivity: int = 0, **extra: Any) -> int:
    """Append one entry to the change log (inside the caller's transaction); returns its seq."""
    entry = changelog.append(
        [PendingEntry(action=action, object_type=object_type, object_id=str(object_id), before=before, after=after,
                      organisation_id=organisation_id, sensitivity=sensitivity, extra=extra)],
        actor_id=actor.user_id, actor_label=actor.label,
    )[0]
    return entry.seq


def _num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


# ---------------------------------------------------------------- states (what the log keeps and the API shows)


def framework_state(fw: ResultsFramework) -> dict[str, Any]:
    return {
        "id": str(fw.id), "code": fw.code, "version": fw.version, "title": fw.title, "description": fw.description,
        "status": fw.status, "previous": str(fw.previous_id) if fw.previous_id else None,
        "based_on_assessment": str(fw.based_on_assessment_id) if fw.based_on_assessment_id else None,
    }


def indicator_state(ind: Indicator) -> dict[str, Any]:
    return {
        "id": str(ind.id), "framework": str(ind.framework_id), "output": ind.output_id, "code": ind.code,
        "name": ind.name, "definition": ind.definition, "unit": ind.unit,
        "baseline": {"value": _num(ind.baseline_value), "period": ind.baseline_period_label or None},
        "target": {"value": _num(ind.target_value), "period": ind.target_period_label or None},
        "direction": ind.direction, "frequency": ind.frequency, "disaggregation": list(ind.disaggregation),
        "owner": ind.owner.get_username() if ind.owner_id else None, "data_source": ind.data_source,
        "sensitivity": ind.sensitivity, "status": ind.status,
    }


def definition_state(definition: IndicatorDefinition) -> dict[str, Any]:
    return {"indicator": str(definition.indicator_id), "version": definition.version, "formula": definition.formula}


def assessment_state(a: Assessment) -> dict[str, Any]:
    return {
        "id": str(a.id), "framework": str(a.framework_id), "title": a.title,
        "period_start": _day(a.period_start), "period_end": _day(a.period_end), "findings": a.findings,
        "recommendations": list(a.recommendations), "leadership_decision": a.leadership_decision,
        "decided_by": a.decided_by.get_username() if a.decided_by_id else None,
        "decided_at": a.decided_at.isoformat() if a.decided_at else None,
        "follow_up_actions": list(a.follow_up_actions), "status": a.status,
    }


# ---------------------------------------------------------------- frameworks


def _own(actor: Actor, queryset: Any) -> Any:
    # Plans are their organisation's own: no sharing agreement extends to them.
    if actor.system:
        return queryset
    if not actor.can("view") or actor.organisation_id is None:
        return queryset.none()
    return queryset.filter(organisation_id=actor.organisation_id)


def list_frameworks(actor: Actor) -> list[ResultsFramework]:
    return list(_own(actor, ResultsFramework.objects.all()).order_by("code", "version"))


def get_framework(actor: Actor, framework_id: Any) -> ResultsFramework:
    try:
        key = uuid.UUID(str(framework_id))
    except ValueError:
        raise NotFound(_("no results framework %(id)s") % {"id": framework_id}) from None
    found = _own(actor, ResultsFramework.objects.filter(pk=key)).first()
    if found is None:
        raise NotFound(_("no results framework %(id)s") % {"id": framework_id})
    return found


def create_framework(actor: Actor, payload: Any) -> ResultsFramework:
    permissions.require(actor, "plan")
    data: FrameworkIn = parse(FrameworkIn, payload)
    with transaction.atomic():
        if ResultsFramework.objects.filter(organisation_id=actor.organisation_id, code=data.code).exists():
            raise AssessmentValidationError([{"field": "code", "message": _(
                "a framework with this code exists; make a new version of it instead")}])
        fw = ResultsFramework.objects.create(organisation_id=actor.organisation_id, code=data.code, title=data.title,
                                             description=data.description, created_by_id=actor.user_id)
        log(actor, "framework.create", "results_framework", fw.id, fw.organisation_id, None, framework_state(fw))
    return fw


def _editable(fw: ResultsFramework) -> None:
    if fw.status == FrameworkStatus.SUPERSEDED:
        raise Conflict(_("version %(version)s of %(code)s is superseded; change the newest version") % {
            "version": fw.version, "code": fw.code})


def _node_exists(model: type, **lookup: Any) -> None:
    if model.objects.filter(**lookup).exists():
        raise AssessmentValidationError([{"field": "code", "message": _("this code is already used here")}])


def add_objective(actor: Actor, framework_id: Any, payload: Any) -> Objective:
    permissions.require(actor, "plan")
    data: FrameworkNodeIn = parse(FrameworkNodeIn, payload)
    with transaction.atomic():
        fw = get_framework(actor, framework_id)
        _editable(fw)
        _node_exists(Objective, framework=fw, code=data.code)
        node = Objective.objects.create(framework=fw, code=data.code, title=data.title)
        log(actor, "framework.objective", "results_framework", fw.id, fw.organisation_id, None,
            {"objective": node.pk, "code": node.code, "title": node.title})
    return node


def add_outcome(actor: Actor, objective_id: int, payload: Any) -> Outcome:
    permissions.require(actor, "plan")
    data: FrameworkNodeIn = parse(FrameworkNodeIn, payload)
    with transaction.atomic():
        parent = _own_node(actor, Objective, objective_id, "framework")
        _editable(parent.framework)
        _node_exists(Outcome, objective=parent, code=data.code)
        node = Outcome.objects.create(objective=parent, code=data.code, title=data.title)
        log(actor, "framework.outcome", "results_framework", parent.framework_id, parent.framework.organisation_id,
            None, {"outcome": node.pk, "objective": parent.pk, "code": node.code, "title": node.title})
    return node


def add_output(actor: Actor, outcome_id: int, payload: Any) -> Output:
    permissions.require(actor, "plan")
    data: FrameworkNodeIn = parse(FrameworkNodeIn, payload)
    with transaction.atomic():
        parent = _own_node(actor, Outcome, outcome_id, "objective__framework")
        fw = parent.objective.framework
        _editable(fw)
        _node_exists(Output, outcome=parent, code=data.code)
        node = Output.objects.create(outcome=parent, code=data.code, title=data.title)
        log(actor, "framework.output", "results_framework", fw.id, fw.organisation_id, None,
            {"output": node.pk, "outcome": parent.pk, "code": node.code, "title": node.title})
    return node


def _own_node(actor: Actor, model: type, pk: Any, framework_path: str) -> Any:
    qs = model.objects.select_related(framework_path).filter(pk=pk)
    if not actor.system:
        qs = qs.filter(**{f"{framework_path}__organisation_id": actor.organisation_id})
    found = qs.first() if actor.can("view") else None
    if found is None:
        raise NotFound(_("no %(what)s %(id)s in your organisation's frameworks") % {
            "what": model._meta.verbose_name, "id": pk})
    return found


def framework_tree(fw: ResultsFramework) -> dict[str, Any]:
    """The framework with its objectives → outcomes → outputs → indicators, for display."""
    indicators: dict[int, list[dict]] = {}
    for ind in fw.indicators.select_related("owner").order_by("code"):
        indicators.setdefault(ind.output_id, []).append(indicator_state(ind))
    objectives = []
    for obj in fw.objectives.order_by("code").prefetch_related("outcomes__outputs"):
        outcomes = []
        for oc in sorted(obj.outcomes.all(), key=lambda o: o.code):
            outputs = [{"id": op.pk, "code": op.code, "title": op.title, "indicators": indicators.get(op.pk, [])}
                       for op in sorted(oc.outputs.all(), key=lambda o: o.code)]
            outcomes.append({"id": oc.pk, "code": oc.code, "title": oc.title, "outputs": outputs})
        objectives.append({"id": obj.pk, "code": obj.code, "title": obj.title, "outcomes": outcomes})
    return {**framework_state(fw), "objectives": objectives}


def activate_framework(actor: Actor, framework_id: Any) -> ResultsFramework:
    """Make this version the plan in force; the version it replaces is superseded."""
    permissions.require(actor, "activate")
    with transaction.atomic():
        fw = get_framework(actor, framework_id)
        _editable(fw)
        before = framework_state(fw)
        for old in ResultsFramework.objects.filter(organisation_id=fw.organisation_id, code=fw.code,
                                                   status=FrameworkStatus.ACTIVE).exclude(pk=fw.pk):
            old_before = framework_state(old)
            old.status = FrameworkStatus.SUPERSEDED
            old.save(update_fields=["status"])
            log(actor, "framework.supersede", "results_framework", old.id, old.organisation_id, old_before,
                framework_state(old))
        fw.status = FrameworkStatus.ACTIVE
        fw.save(update_fields=["status"])
        log(actor, "framework.activate", "results_framework", fw.id, fw.organisation_id, before, framework_state(fw))
    return fw


def new_version(actor: Actor, framework_id: Any, payload: Any) -> ResultsFramework:
    """The next version of a plan, made because of an assessment (R-PA-03): it names that assessment and
    starts as a copy of this version (hierarchy, indicators and their current formulas) to be edited."""
    permissions.require(actor, "plan")
    data: NewVersionIn = parse(NewVersionIn, payload)
    with transaction.atomic():
        fw = get_framework(actor, framework_id)
        assessment = get_assessment(actor, data.assessment_id)
        if assessment.framework_id != fw.pk:
            raise AssessmentValidationError([{"field": "assessment_id", "message": _(
                "this assessment is of another framework; name an assessment of version %(version)s") % {
                "version": fw.version}}])
        if assessment.status != AssessmentStatus.DECIDED:
            raise AssessmentValidationError([{"field": "assessment_id", "message": _(
                "the assessment has no leadership decision yet; a new plan version follows a decision")}])
        latest = ResultsFramework.objects.filter(organisation_id=fw.organisation_id, code=fw.code) \
            .order_by("-version").first()
        assert latest is not None
        if latest.pk != fw.pk:
            raise Conflict(_("version %(version)s already follows this one; start from the newest version") % {
                "version": latest.version})
        new = ResultsFramework.objects.create(
            organisation_id=fw.organisation_id, code=fw.code, version=fw.version + 1, title=data.title or fw.title,
            description=fw.description, previous=fw, based_on_assessment=assessment, created_by_id=actor.user_id,
        )
        copied = _copy_hierarchy(fw, new, actor)
        log(actor, "framework.version", "results_framework", new.id, new.organisation_id, None,
            framework_state(new), assessment=str(assessment.id), previous=str(fw.id), indicators=copied)
    return new


def _copy_hierarchy(old: ResultsFramework, new: ResultsFramework, actor: Actor) -> list[str]:
    """Copy objectives, outcomes, outputs and indicators (as drafts, with their current formula); returns the
    codes of the indicators copied, for the change-log entry."""
    outputs: dict[int, Output] = {}
    codes: list[str] = []
    for obj in old.objectives.order_by("pk"):
        new_obj = Objective.objects.create(framework=new, code=obj.code, title=obj.title)
        for oc in obj.outcomes.order_by("pk"):
            new_oc = Outcome.objects.create(objective=new_obj, code=oc.code, title=oc.title)
            for op in oc.outputs.order_by("pk"):
                outputs[op.pk] = Output.objects.create(outcome=new_oc, code=op.code, title=op.title)
    for ind in old.indicators.order_by("code"):
        definition = current_definition(ind)
        copy = Indicator.objects.get(pk=ind.pk)
        copy.pk = uuid.uuid4()
        copy._state.adding = True
        copy.framework, copy.output = new, outputs[ind.output_id]
        copy.status, copy.copied_from_id = IndicatorStatus.DRAFT, ind.pk
        copy.created_by_id, copy.created_at = actor.user_id, timezone.now()
        copy.updated_at = copy.created_at
        copy.save(force_insert=True)
        if definition is not None:
            IndicatorDefinition.objects.create(indicator=copy, version=1, formula=definition.formula,
                                               created_by_id=actor.user_id)
        codes.append(copy.code)
    return codes


# ---------------------------------------------------------------- indicators


def get_indicator(actor: Actor, indicator_id: Any) -> Indicator:
    try:
        key = uuid.UUID(str(indicator_id))
    except ValueError:
        raise NotFound(_("no indicator %(id)s") % {"id": indicator_id}) from None
    qs = Indicator.objects.select_related("framework", "owner").filter(pk=key)
    if not actor.system:
        qs = qs.filter(framework__organisation_id=actor.organisation_id) if actor.can("view") else qs.none()
    found = qs.first()
    if found is None:
        raise NotFound(_("no indicator %(id)s") % {"id": indicator_id})
    return found


def list_indicators(actor: Actor, framework_id: Any) -> list[Indicator]:
    fw = get_framework(actor, framework_id)
    return list(fw.indicators.select_related("owner").order_by("code"))


def current_definition(indicator: Indicator) -> IndicatorDefinition | None:
    return indicator.definitions.order_by("-version").first()


def _owner(actor: Actor, organisation_id: Any, username: str | None) -> Any:
    if not username:
        return None
    user = get_user_model().objects.filter(username=username, membership__organisation_id=organisation_id).first()
    if user is None:
        raise AssessmentValidationError([{"field": "owner", "message": _(
            "no user %(name)s in your organisation") % {"name": username}}])
    return user


def _check_formula(indicator_source: str, disaggregation: list[str], raw: dict | None) -> dict | None:
    if indicator_source != DataSource.COMPUTED:
        if raw:
            raise AssessmentValidationError([{"field": "formula", "message": _(
                "only computed indicators have a formula; this one is %(source)s") % {"source": indicator_source}}])
        return None
    if raw is None:
        return None  # a draft may wait for its formula; activation asks for it
    try:
        return formulas.validate(raw)
    except formulas.FormulaError as exc:
        raise AssessmentValidationError(translated(exc.problems), _("the formula cannot be computed")) from None


def _set_period(indicator: Indicator, which: str, label: str | None) -> None:
    if label is None:
        start = end = None
    else:
        period, _frequency = parse_label(label)
        start, end = period.start, period.end
    setattr(indicator, f"{which}_period_start", start)
    setattr(indicator, f"{which}_period_end", end)
    setattr(indicator, f"{which}_period_label", label or "")


def create_indicator(actor: Actor, framework_id: Any, payload: Any) -> Indicator:
    permissions.require(actor, "plan")
    data: IndicatorIn = parse(IndicatorIn, payload)
    with transaction.atomic():
        fw = get_framework(actor, framework_id)
        _editable(fw)
        output = Output.objects.filter(pk=data.output_id, outcome__objective__framework=fw).first()
        if output is None:
            raise AssessmentValidationError([{"field": "output_id", "message": _(
                "no output %(id)s in this framework") % {"id": data.output_id}}])
        if fw.indicators.filter(code=data.code).exists():
            raise AssessmentValidationError([{"field": "code", "message": _("this code is already used here")}])
        formula = _check_formula(data.data_source, data.disaggregation, data.formula)
        ind = Indicator(
            framework=fw, output=output, code=data.code, name=data.name, definition=data.definition, unit=data.unit,
            baseline_value=data.baseline_value, target_value=data.target_value, direction=data.direction,
            frequency=data.frequency, disaggregation=data.disaggregation,
            owner=_owner(actor, fw.organisation_id, data.owner), data_source=data.data_source,
            sensitivity=data.sensitivity, created_by_id=actor.user_id,
        )
        _set_period(ind, "baseline", data.baseline_period)
        _set_period(ind, "target", data.target_period)
        ind.save(force_insert=True)
        log(actor, "indicator.create", "indicator", ind.id, fw.organisation_id, None, indicator_state(ind),
            sensitivity=ind.sensitivity)
        if formula is not None:
            _new_definition(actor, ind, formula)
    return ind


def _new_definition(actor: Actor, ind: Indicator, formula: dict) -> IndicatorDefinition:
    latest = current_definition(ind)
    definition = IndicatorDefinition.objects.create(indicator=ind, version=(latest.version + 1) if latest else 1,
                                                    formula=formula, created_by_id=actor.user_id)
    log(actor, "indicator.definition", "indicator", ind.id, ind.framework.organisation_id,
        definition_state(latest) if latest else None, definition_state(definition), sensitivity=ind.sensitivity)
    return definition


def set_formula(actor: Actor, indicator_id: Any, raw: Any) -> IndicatorDefinition:
    """A new definition version; earlier versions stay, so values they made can still be recomputed."""
    permissions.require(actor, "plan")
    with transaction.atomic():
        ind = get_indicator(actor, indicator_id)
        _editable(ind.framework)
        if not isinstance(raw, dict):
            raise AssessmentValidationError([{"field": "formula", "message": _("give the formula as an object")}])
        formula = _check_formula(ind.data_source, list(ind.disaggregation), raw)
        assert formula is not None
        latest = current_definition(ind)
        if latest is not None and latest.formula == formula:
            return latest
        return _new_definition(actor, ind, formula)


def change_indicator(actor: Actor, indicator_id: Any, payload: Any) -> Indicator:
    permissions.require(actor, "plan")
    data: IndicatorChange = parse(IndicatorChange, payload)
    with transaction.atomic():
        ind = get_indicator(actor, indicator_id)
        _editable(ind.framework)
        before = indicator_state(ind)
        sent = data.model_fields_set
        for name in ("name", "definition", "unit", "baseline_value", "target_value", "direction", "disaggregation"):
            if name in sent:
                setattr(ind, name, getattr(data, name))
        for which in ("baseline", "target"):
            if f"{which}_period" in sent:
                _set_period(ind, which, getattr(data, f"{which}_period"))
        if "owner" in sent:
            ind.owner = _owner(actor, ind.framework.organisation_id, data.owner)
        if ind.status == IndicatorStatus.ACTIVE:
            missing = activation_gaps(ind)
            if missing:
                raise AssessmentValidationError(missing, _("an active indicator must keep its baseline, target, "
                                                           "owner and formula"))
        ind.updated_at = timezone.now()
        ind.save()
        after = indicator_state(ind)
        if after != before:
            log(actor, "indicator.update", "indicator", ind.id, ind.framework.organisation_id, before, after,
                sensitivity=ind.sensitivity)
    return ind


def activation_gaps(ind: Indicator) -> list[dict[str, str]]:
    """What an indicator lacks before it can be activated (R-PA-01), one problem per missing field."""
    gaps = []
    if ind.baseline_value is None:
        gaps.append({"field": "baseline_value", "message": _("the baseline value is missing")})
    if not ind.baseline_period_label:
        gaps.append({"field": "baseline_period", "message": _("the baseline period is missing")})
    if ind.target_value is None:
        gaps.append({"field": "target_value", "message": _("the target value is missing")})
    if not ind.target_period_label:
        gaps.append({"field": "target_period", "message": _("the target period is missing")})
    if ind.owner_id is None:
        gaps.append({"field": "owner", "message": _("the indicator has no owner")})
    if ind.data_source == DataSource.COMPUTED and current_definition(ind) is None:
        gaps.append({"field": "formula", "message": _("a computed indicator needs a formula")})
    return gaps


def activate_indicator(actor: Actor, indicator_id: Any) -> Indicator:
    permissions.require(actor, "activate")
    with transaction.atomic():
        ind = get_indicator(actor, indicator_id)
        _editable(ind.framework)
        if ind.status == IndicatorStatus.ACTIVE:
            return ind
        gaps = activation_gaps(ind)
        if gaps:
            names = ", ".join(g["field"] for g in gaps)
            raise AssessmentValidationError(gaps, _("indicator %(code)s cannot be activated: missing %(names)s") % {
                "code": ind.code, "names": names})
        before = indicator_state(ind)
        ind.status = IndicatorStatus.ACTIVE
        ind.updated_at = timezone.now()
        ind.save(update_fields=["status", "updated_at"])
        log(actor, "indicator.activate", "indicator", ind.id, ind.framework.organisation_id, before,
            indicator_state(ind), sensitivity=ind.sensitivity)
    return ind


def computable_keys(ind: Indicator, formula: Mapping[str, Any] | None = None) -> list[str]:
    """The disaggregation keys the engine can derive for the indicator's figures: from records, area, unit and
    category (sex and age group are not recorded); from a formula over alerts or plans, what those carry."""
    derivable = formulas.group_keys(formula) if formula else COMPUTABLE_KEYS
    return [key for key in ind.disaggregation if key in derivable]


def known_groups(actor: Actor) -> dict[str, list[str]]:
    """The breakdown groups named in the organisation's stored figures that the actor may see (area names, unit
    codes, categories, sexes, age groups), by key, for the forms to offer as choices. Read from the distinct
    breakdown texts of the values, a few hundred however many values there are; never from the records."""
    if actor.organisation_id is None:
        return {}
    values = IndicatorValue.objects.filter(organisation_id=actor.organisation_id).exclude(disaggregation_key="{}")
    found: dict[str, set[str]] = {}
    for text in restrict(values, actor).order_by().values_list("disaggregation_key", flat=True).distinct():
        for key, value in json.loads(text).items():
            if str(value).strip():
                found.setdefault(key, set()).add(str(value))
    return {key: sorted(names, key=str.casefold) for key, names in found.items()}


# ---------------------------------------------------------------- assessments


def get_assessment(actor: Actor, assessment_id: Any) -> Assessment:
    try:
        key = uuid.UUID(str(assessment_id))
    except ValueError:
        raise NotFound(_("no assessment %(id)s") % {"id": assessment_id}) from None
    found = _own(actor, Assessment.objects.select_related("framework", "decided_by").filter(pk=key)).first()
    if found is None:
        raise NotFound(_("no assessment %(id)s") % {"id": assessment_id})
    return found


def create_assessment(actor: Actor, framework_id: Any, payload: Any) -> Assessment:
    permissions.require(actor, "assess")
    data: AssessmentIn = parse(AssessmentIn, payload)
    if data.period_end <= data.period_start:
        raise AssessmentValidationError([{"field": "period_end", "message": _("the period must end after it starts")}])
    with transaction.atomic():
        fw = get_framework(actor, framework_id)
        a = Assessment.objects.create(
            framework=fw, organisation_id=fw.organisation_id, title=data.title, period_start=data.period_start,
            period_end=data.period_end, findings=data.findings, recommendations=list(data.recommendations),
            follow_up_actions=[f.model_dump(mode="json") for f in data.follow_up_actions], created_by_id=actor.user_id,
        )
        log(actor, "assessment.create", "assessment", a.id, a.organisation_id, None, assessment_state(a))
    return a


def decide_assessment(actor: Actor, assessment_id: Any, payload: Any) -> Assessment:
    """Record the leadership decision (and the follow-up actions it sets); an assessment is decided once."""
    permissions.require(actor, "decide")
    data: AssessmentDecisionIn = parse(AssessmentDecisionIn, payload)
    with transaction.atomic():
        a = get_assessment(actor, assessment_id)
        if a.status == AssessmentStatus.DECIDED:
            raise Conflict(_("this assessment was decided on %(when)s by %(who)s") % {
                "when": a.decided_at.date().isoformat() if a.decided_at else "?",
                "who": a.decided_by.get_username() if a.decided_by_id else "?"})
        before = assessment_state(a)
        a.leadership_decision = data.leadership_decision
        if data.follow_up_actions is not None:
            a.follow_up_actions = [f.model_dump(mode="json") for f in data.follow_up_actions]
        a.decided_by_id, a.decided_at, a.status = actor.user_id, timezone.now(), AssessmentStatus.DECIDED
        a.save()
        log(actor, "assessment.decide", "assessment", a.id, a.organisation_id, before, assessment_state(a))
    return a
