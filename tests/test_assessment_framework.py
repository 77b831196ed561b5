"""Results frameworks (R-PA-01), definitions as data (R-PA-04) and the assessment cycle (R-PA-03)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from tests import test_assessment_engine as shared
from tests.test_assessment_engine import ROBBERY

plan = shared.plan  # the fixture


def entries(action: str):
    from sitaware.core.models import ChangeEntry

    return list(ChangeEntry.objects.filter(action=action).order_by("seq"))


def test_building_a_framework_logs_every_step(plan):
    from sitaware.assessment import services

    tree = services.framework_tree(plan.framework)
    assert tree["objectives"][0]["outcomes"][0]["outputs"][0]["code"] == "OP1"
    assert [len(entries(a)) for a in ("framework.create", "framework.objective", "framework.outcome",
                                      "framework.output")] == [1, 1, 1, 1]


@pytest.mark.parametrize("missing, field", [
    ({"baseline_value": None}, "baseline_value"),
    ({"baseline_period": None}, "baseline_period"),
    ({"target_value": None}, "target_value"),
    ({"target_period": None}, "target_period"),
    ({"owner": None}, "owner"),
    ({"formula": None}, "formula"),
])
def test_an_indicator_is_not_activated_without_baseline_target_owner_and_formula(plan, actor, missing, field):
    from sitaware.assessment import services
    from sitaware.assessment.errors import AssessmentValidationError

    ind = plan.indicator(**{"formula": ROBBERY, **missing})
    with pytest.raises(AssessmentValidationError) as caught:
        services.activate_indicator(actor("sam"), ind.id)
    assert [p["field"] for p in caught.value.problems] == [field]
    assert f"cannot be activated: missing {field}" in caught.value.body()["detail"]
    ind.refresh_from_db()
    assert ind.status == "draft" and entries("indicator.activate") == []


def test_the_refusal_names_everything_missing_at_once(plan, actor):
    from sitaware.assessment import services
    from sitaware.assessment.errors import AssessmentValidationError

    ind = plan.indicator(baseline_value=None, baseline_period=None, owner=None, data_source="entered")
    with pytest.raises(AssessmentValidationError, match="missing baseline_value, baseline_period, owner"):
        services.activate_indicator(actor("sam"), ind.id)


def test_a_complete_indicator_is_activated_by_a_supervisor_not_an_analyst(plan, actor):
    from sitaware.assessment import services

    ind = plan.indicator(formula=ROBBERY)
    with pytest.raises(PermissionDenied):
        services.activate_indicator(actor("ana"), ind.id)
    assert services.activate_indicator(actor("sam"), ind.id).status == "active"
    assert len(entries("indicator.activate")) == 1
    # An active indicator keeps what activation needed.
    from sitaware.assessment.errors import AssessmentValidationError

    with pytest.raises(AssessmentValidationError, match="owner"):
        services.change_indicator(actor("ana"), ind.id, {"owner": None})


@pytest.mark.parametrize("formula, field, words", [
    ({"type": "avg"}, "formula.type", "unknown type 'avg'"),
    ({"type": "count", "filter": {"kinds": ["crime"]}}, "formula.filter.kinds", "unknown value 'crime'"),
    ({"type": "count", "filter": {"colour": ["red"]}}, "formula.filter.colour", "unknown filter"),
    ({"type": "count", "filter": {"sensitivity_max": 9}}, "formula.filter.sensitivity_max", "from 0"),
    ({"type": "sum", "field": "victims"}, "formula.field", "sum one of fatalities"),
    ({"type": "duration", "statistic": "mode"}, "formula.statistic", "median, mean"),
    ({"type": "ratio", "numerator": {"type": "count"}, "denominator": {"type": "duration"}},
     "formula.denominator.type", "use one of count, sum"),
    ({"type": "ratio", "numerator": {"type": "count"}, "denominator": {"type": "count"}, "factor": 0},
     "formula.factor", "positive number"),
])
def test_a_bad_formula_is_refused_with_a_message_naming_the_field(plan, formula, field, words):
    from sitaware.assessment.errors import AssessmentValidationError
    from sitaware.assessment.models import Indicator

    with pytest.raises(AssessmentValidationError) as caught:
        plan.indicator(formula=formula)
    assert caught.value.body()["detail"] == "the formula cannot be computed"
    problem = next(p for p in caught.value.problems if p["field"] == field)
    assert words in problem["message"]
    assert not Indicator.objects.exists()


def test_an_entered_indicator_takes_no_formula(plan):
    from sitaware.assessment.errors import AssessmentValidationError

    with pytest.raises(AssessmentValidationError, match="only computed indicators have a formula"):
        plan.indicator(data_source="entered", formula=ROBBERY)


def test_an_unknown_owner_or_period_is_named(plan):
    from sitaware.assessment.errors import AssessmentValidationError

    with pytest.raises(AssessmentValidationError) as caught:
        plan.indicator(owner="hugo")  # of another organisation
    assert caught.value.problems[0]["field"] == "owner"
    with pytest.raises(AssessmentValidationError) as caught:
        plan.indicator(baseline_period="2025-Q5")
    assert caught.value.problems[0]["field"] == "baseline_period"


def test_reporters_and_oversight_officers_do_not_edit_plans(plan, actor):
    from sitaware.assessment import services

    for name in ("rita", "otto", "adam"):
        with pytest.raises(PermissionDenied):
            services.create_framework(actor(name), {"code": "x", "title": "X"})


def test_a_plan_revision_references_the_assessment_that_triggered_it(plan, actor):
    from sitaware.assessment import services
    from sitaware.assessment.errors import AssessmentValidationError, Conflict

    ind = plan.indicator(formula=ROBBERY)
    services.activate_indicator(actor("sam"), ind.id)
    services.activate_framework(actor("sam"), plan.framework.id)
    assessment = services.create_assessment(actor("ana"), plan.framework.id, {
        "title": "Mid-year review", "period_start": "2025-01-01", "period_end": "2025-07-01",
        "findings": "Robberies fell but reporting is slow.", "recommendations": ["Add a reporting-delay indicator"],
        "follow_up_actions": [{"action": "Draft the indicator", "owner": "ana", "due": "2025-08-01"}],
    })
    with pytest.raises(AssessmentValidationError, match="no leadership decision"):
        services.new_version(actor("ana"), plan.framework.id, {"assessment_id": str(assessment.id)})
    with pytest.raises(PermissionDenied):
        services.decide_assessment(actor("ana"), assessment.id, {"leadership_decision": "Go"})
    services.decide_assessment(actor("cora"), assessment.id, {"leadership_decision": "Revise the plan"})
    with pytest.raises(Conflict, match="decided"):
        services.decide_assessment(actor("cora"), assessment.id, {"leadership_decision": "Again"})

    v2 = services.new_version(actor("ana"), plan.framework.id, {"assessment_id": str(assessment.id)})
    assert (v2.version, v2.previous_id, v2.based_on_assessment_id) == (2, plan.framework.id, assessment.id)
    copied = v2.indicators.get()
    assert (copied.code, copied.status, copied.copied_from_id) == ("I1", "draft", ind.id)
    assert copied.definitions.get().formula == ind.definitions.get().formula
    entry = entries("framework.version")[0]
    assert entry.payload["extra"]["assessment"] == str(assessment.id)
    assert entry.payload["extra"]["indicators"] == ["I1"]
    with pytest.raises(Conflict, match="already follows"):
        services.new_version(actor("ana"), plan.framework.id, {"assessment_id": str(assessment.id)})
    services.activate_framework(actor("sam"), v2.id)
    plan.framework.refresh_from_db()
    assert plan.framework.status == "superseded"
    with pytest.raises(Conflict, match="superseded"):
        plan.indicator(code="I2")


def test_assessment_fields_are_checked(plan, actor):
    from sitaware.assessment import services
    from sitaware.assessment.errors import AssessmentValidationError

    with pytest.raises(AssessmentValidationError) as caught:
        services.create_assessment(actor("ana"), plan.framework.id, {
            "title": "x", "period_start": "2025-07-01", "period_end": "2025-01-01"})
    assert caught.value.problems[0]["field"] == "period_end"
    with pytest.raises(AssessmentValidationError) as caught:
        services.create_assessment(actor("ana"), plan.framework.id, {
            "title": "x", "period_start": "2025-01-01", "period_end": "2025-07-01",
            "follow_up_actions": [{"action": "y", "status": "maybe"}]})
    assert caught.value.problems[0]["field"] == "follow_up_actions.0.status"


def test_french_messages(plan, actor):
    from django.utils import translation

    from sitaware.assessment import services
    from sitaware.assessment.errors import AssessmentValidationError

    ind = plan.indicator(owner=None, formula=ROBBERY)
    with translation.override("fr"), pytest.raises(AssessmentValidationError) as caught:
        services.activate_indicator(actor("sam"), ind.id)
    assert caught.value.problems[0]["message"] == "l'indicateur n'a pas de responsable"
    with translation.override("fr"), pytest.raises(AssessmentValidationError) as caught:
        plan.indicator(code="I9", formula={"type": "avg"})
    assert caught.value.problems[0]["message"].startswith("type inconnu 'avg'")


def test_every_write_is_in_the_change_log_and_the_chain_holds(plan, make_record, actor):
    from sitaware.assessment import services, values
    from sitaware.core import changelog
    from sitaware.core.models import ChangeEntry
    from tests.conftest import _system
    from tests.test_assessment_engine import RANGE, make

    computed = plan.indicator(formula=ROBBERY)
    entered = plan.indicator(code="E1", data_source="entered")
    make(make_record, 1)
    values.compute(actor("ana"), computed, *RANGE)
    make(make_record, 2)
    values.refresh(_system(), computed)
    v = values.enter_value(actor("ana"), entered.id, {"period": "2025-01", "value": "2", "comment": "log"})
    values.review_value(actor("sam"), v.pk, "accepted")
    services.change_indicator(actor("ana"), entered.id, {"unit": "officers"})
    services.set_formula(actor("ana"), computed.id, {"type": "count"})
    services.activate_indicator(actor("sam"), entered.id)
    actions = set(ChangeEntry.objects.filter(object_type__in=["indicator", "results_framework"])
                  .values_list("action", flat=True))
    assert {"indicator.create", "indicator.definition", "indicator.compute", "indicator_value.enter",
            "indicator_value.review", "indicator.update", "indicator.activate"} <= actions
    refresh = ChangeEntry.objects.filter(action="indicator.compute").order_by("-seq").first().payload
    assert refresh["extra"]["mode"] == "incremental" and refresh["extra"]["periods"] == ["2025-02"]
    assert refresh["before"][0]["value"] == "0.000000" and refresh["after"][0]["value"] == "1.000000"
    assert changelog.verify().ok


def test_model_choices_follow_the_pure_vocabularies():
    from sitaware.assessment.lights import DIRECTIONS
    from sitaware.assessment.models import DIRECTION_CHOICES, FREQUENCY_CHOICES
    from sitaware.assessment.periods import FREQUENCIES
    from sitaware.assessment.schema import Frequency

    assert [c for c, _label in FREQUENCY_CHOICES] == list(FREQUENCIES) == list(Frequency.__args__)
    assert [c for c, _label in DIRECTION_CHOICES] == list(DIRECTIONS)
