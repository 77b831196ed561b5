"""Results-framework pages (issue 7): a planning officer builds objectives → outcomes → outputs → indicators in
the browser, formulas from plain form fields, values by hand or from CSV, assessments and their decision, the
report. The pages only present: what they store must be exactly what the services store from the same input."""

from __future__ import annotations

import html
import io
import re

import pytest

from tests import test_assessment_engine as shared

plan = shared.plan  # the fixture

RATIO_POST = {
    "action": "save", "code": "I9", "name": "Share of armed robberies", "definition": "robberies / all crime",
    "unit": "%", "baseline_value": "12.5", "baseline_period": "2024", "target_value": "8", "target_period": "2025",
    "direction": "decrease", "frequency": "monthly", "disaggregation": ["unit", "area"], "owner": "ana",
    "data_source": "computed", "sensitivity": "1", "f-type": "ratio", "factor": "100",
    "num-type": "count", "num-categories": ["police.armed_robbery"], "num-statuses": ["verified", "published"],
    "num-kinds": ["incident"], "num-sensitivity_max": "2", "num-admin1": "Bangui, Ouham",
    "den-type": "count", "den-statuses": ["verified", "published"], "den-units": "bangui-hq",
    "den-source_types": ["patrol_report"],
}
# What the service stores when given the same indicator as JSON (its normal form: sorted lists).
RATIO_FORMULA = {"type": "ratio", "factor": 100,
                 "numerator": {"type": "count", "filter": {"kinds": ["incident"],
                                                           "categories": ["police.armed_robbery"],
                                                           "statuses": ["published", "verified"],
                                                           "sensitivity_max": 2, "admin1": ["Bangui", "Ouham"]}},
                 "denominator": {"type": "count", "filter": {"statuses": ["published", "verified"],
                                                             "units": ["bangui-hq"],
                                                             "source_types": ["patrol_report"]}}}


def _login(client, world, name):
    client.force_login(world.users[name])
    return client


def _field_error(page: str, field_id: str) -> str:
    found = re.search(rf'<p id="{re.escape(field_id)}" class="field-error">([^<]*)</p>', page)
    assert found, f"no message for {field_id}"
    return found.group(1)


# ---------------------------------------------------------------- pages in both languages


@pytest.mark.parametrize(("language", "words"), [
    ("en", ["Results frameworks", "Objectives, outcomes, outputs and indicators", "Formula (computed indicators)",
            "This indicator cannot be activated yet"]),
    ("fr", ["Cadres de résultats", "Objectifs, effets, produits et indicateurs", "Formule (indicateurs calculés)",
            "Cet indicateur ne peut pas encore être activé"]),
])
def test_every_page_renders_in_english_and_french(plan, client, world, language, words):
    ind = plan.indicator(owner=None)
    _login(client, world, "ana")
    pages = ["/assessment/frameworks/", f"/assessment/frameworks/{plan.framework.id}/",
             f"/assessment/frameworks/{plan.framework.id}/indicators/new", f"/assessment/indicators/{ind.id}/"]
    texts = []
    for url in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, (url, response.content[:500])
        texts.append(response.content.decode())
    assert words[0] in texts[0] and f'lang="{language}"' in texts[0]
    assert words[1] in texts[1] and "Violent" not in texts[1]
    assert words[2] in texts[2]
    assert words[3] in texts[3]
    assert ("the indicator has no owner" if language == "en" else "l'indicateur n'a pas de responsable") in \
        html.unescape(texts[3])
    assert 'href="/assessment/frameworks/"' in texts[0]  # the site navigation


# ---------------------------------------------------------------- building through the forms


def test_a_framework_built_through_the_forms_stores_exactly_what_the_services_would(client, world):
    from sitaware.assessment.models import Indicator, Objective, Outcome, Output, ResultsFramework
    from sitaware.core.models import ChangeEntry

    _login(client, world, "ana")
    answer = client.post("/assessment/frameworks/", {"code": "cpas", "title": "Protection of civilians",
                                                     "description": "2025 plan"})
    fw = ResultsFramework.objects.get(code="cpas")
    url = f"/assessment/frameworks/{fw.id}/"
    assert answer.status_code == 302 and answer["Location"] == url
    assert client.post(url, {"action": "objective", "code": "O1", "title": "Safer Bangui"}).status_code == 302
    objective = Objective.objects.get(framework=fw)
    assert client.post(url, {"action": "outcome", "parent": objective.pk, "code": "OC1",
                             "title": "Less violent crime"}).status_code == 302
    outcome = Outcome.objects.get(objective=objective)
    assert client.post(url, {"action": "output", "parent": outcome.pk, "code": "OP1",
                             "title": "Patrols"}).status_code == 302
    output = Output.objects.get(outcome=outcome)

    answer = client.post(f"/assessment/frameworks/{fw.id}/indicators/new", {**RATIO_POST, "output_id": output.pk})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    ind = Indicator.objects.get(framework=fw, code="I9")
    assert answer["Location"] == f"/assessment/indicators/{ind.id}/"
    assert ind.definitions.get().formula == RATIO_FORMULA
    assert (ind.name, ind.unit, str(ind.baseline_value), ind.baseline_period_label, str(ind.target_value),
            ind.direction, ind.disaggregation, ind.owner.username, ind.sensitivity) == \
        ("Share of armed robberies", "%", "12.500000", "2024", "8.000000", "decrease", ["area", "unit"], "ana", 1)

    # An analyst may plan, not activate: the button is not shown and a POST is refused.
    page = client.get(f"/assessment/indicators/{ind.id}/").content.decode()
    assert 'id="activate-indicator"' not in page and 'id="gaps"' not in page
    assert client.post(f"/assessment/indicators/{ind.id}/", {"action": "activate"}).status_code == 403
    _login(client, world, "sam")
    assert client.post(f"/assessment/indicators/{ind.id}/", {"action": "activate"}).status_code == 302
    assert client.post(url, {"action": "activate"}).status_code == 302
    ind.refresh_from_db()
    fw.refresh_from_db()
    assert (ind.status, fw.status) == ("active", "active")
    page = client.get(url).content.decode()
    assert 'data-indicator="I9"' in page and "Share of armed robberies" in page
    actions = set(ChangeEntry.objects.filter(object_id__in=[str(fw.id), str(ind.id)]).values_list("action",
                                                                                                 flat=True))
    assert {"framework.create", "framework.objective", "framework.outcome", "framework.output", "indicator.create",
            "indicator.definition", "indicator.activate", "framework.activate"} <= actions


def test_the_form_and_the_json_give_the_same_formula(plan, client, world, actor):
    from sitaware.assessment import services
    from sitaware.assessment.models import Indicator

    _login(client, world, "ana")
    answer = client.post(f"/assessment/frameworks/{plan.framework.id}/indicators/new",
                         {**RATIO_POST, "output_id": plan.output.pk})
    assert answer.status_code == 302
    by_form = Indicator.objects.get(framework=plan.framework, code="I9")
    by_json = services.create_indicator(actor("ana"), plan.framework.id, {
        "output_id": plan.output.pk, "code": "I10", "name": "Twin", "formula": {
            "type": "ratio", "factor": 100,
            "numerator": {"type": "count", "filter": {"categories": ["police.armed_robbery"], "kinds": ["incident"],
                                                      "statuses": ["verified", "published"], "sensitivity_max": 2,
                                                      "admin1": ["Bangui", "Ouham"]}},
            "denominator": {"type": "count", "filter": {"statuses": ["verified", "published"],
                                                        "units": ["bangui-hq"], "source_types": ["patrol_report"]}}}})
    assert by_form.definitions.get().formula == by_json.definitions.get().formula == RATIO_FORMULA


def test_sum_and_duration_formulas_from_the_form(plan, client, world):
    from sitaware.assessment.models import Indicator

    _login(client, world, "ana")
    base = {"output_id": plan.output.pk, "name": "x", "frequency": "monthly", "data_source": "computed"}
    new = f"/assessment/frameworks/{plan.framework.id}/indicators/new"
    assert client.post(new, {**base, "code": "S1", "f-type": "sum", "f-field": "casualties.civilians.killed",
                             "f-statuses": ["verified"]}).status_code == 302
    assert client.post(new, {**base, "code": "D1", "f-type": "duration", "f-statistic": "mean", "f-unit": "days",
                             "f-kinds": ["incident"]}).status_code == 302
    assert Indicator.objects.get(code="S1").definitions.get().formula == {
        "type": "sum", "field": "casualties.civilians.killed", "filter": {"statuses": ["verified"]}}
    assert Indicator.objects.get(code="D1").definitions.get().formula == {
        "type": "duration", "statistic": "mean", "unit": "days", "filter": {"kinds": ["incident"]}}


ALERT_DECISION = {"type": "alert_decision", "statistic": "mean", "unit": "minutes",
                  "filter": {"outcomes": ["accept", "modify"], "categories": ["police.armed_robbery"],
                             "admin1": ["Bangui", "Ouham"], "sensitivity_max": 2}}
PATROL_COVERAGE = {"type": "patrol_coverage", "basis": "made", "weighting": "priority",
                   "filter": {"units": ["bangui-hq", "bria"], "sources": ["alert", "forecast"], "min_priority": 1.5,
                              "sensitivity_max": 1}}
# Fields another type uses, left filled in: a form keeps them when the type is switched, and they must not reach
# the formula (where they would be "unknown filter" or "not a setting").
LEFTOVERS = {"f-field": "fatalities", "f-kinds": ["incident"], "f-statuses": ["verified"],
             "f-source_types": ["patrol_report"]}


def _operational_post(plan, code: str, **fields):
    return {"output_id": plan.output.pk, "code": code, "name": f"Indicator {code}", "frequency": "monthly",
            "data_source": "computed", **LEFTOVERS, **fields}


ALERT_DECISION_FIELDS = {"f-type": "alert_decision", "f-statistic": "mean", "f-unit": "minutes",
                         "f-outcomes": ["modify", "accept"], "f-categories": ["police.armed_robbery"],
                         "f-admin1": "Bangui, Ouham", "f-sensitivity_max": "2",
                         # patrol coverage's own fields, left over
                         "f-units": "bangui-hq", "f-sources": ["manual"], "f-min_priority": "2", "f-basis": "made",
                         "f-weighting": "priority"}
PATROL_COVERAGE_FIELDS = {"f-type": "patrol_coverage", "f-basis": "made", "f-weighting": "priority",
                          "f-units": "bangui-hq, bria", "f-sources": ["forecast", "alert"], "f-min_priority": "1,5",
                          "f-sensitivity_max": "1",
                          # the time to decision's own fields, left over
                          "f-statistic": "mean", "f-outcomes": ["reject"], "f-categories": ["police.burglary"],
                          "f-admin1": "Ouham"}


def test_the_two_operational_measures_from_the_form_store_exactly_their_formula(plan, client, world):
    from sitaware.assessment import formula
    from sitaware.assessment.models import Indicator

    _login(client, world, "ana")
    new = f"/assessment/frameworks/{plan.framework.id}/indicators/new"
    for code, fields, expected in (("T1", ALERT_DECISION_FIELDS, ALERT_DECISION),
                                   ("P1", PATROL_COVERAGE_FIELDS, PATROL_COVERAGE)):
        answer = client.post(new, _operational_post(plan, code, **fields))
        assert answer.status_code == 302, answer.content.decode()[:3000]
        assert Indicator.objects.get(code=code).definitions.get().formula == expected
        assert formula.validate(expected) == expected  # what the services store from the same JSON


def test_an_operational_formula_is_shown_with_its_settings_for_editing(plan, client, world):
    _login(client, world, "ana")
    coverage = plan.indicator(code="P1", formula=PATROL_COVERAGE)
    page = client.get(f"/assessment/indicators/{coverage.id}/").content.decode()
    assert '<option value="patrol_coverage" selected>' in page
    assert '<option value="made" selected>' in page and '<option value="priority" selected>' in page
    assert 'id="f-sources-alert" name="f-sources" value="alert" checked' in page
    assert 'id="f-sources-forecast" name="f-sources" value="forecast" checked' in page
    assert 'id="f-sources-manual" name="f-sources" value="manual">' in page
    assert re.search(r'id="f-min_priority" name="f-min_priority" type="text" inputmode="decimal" value="1.5"', page)
    # The organisation's units are ticked in their list; no code is left over for the text field.
    assert 'id="f-unit-bangui-hq" name="f-units" value="bangui-hq" checked> Bangui HQ (bangui-hq)' in page
    assert 'id="f-unit-bria" name="f-units" value="bria" checked> Bria team site (bria)' in page
    assert 'id="f-units" name="f-units" type="text" value=""' in page
    decision = plan.indicator(code="T1", formula=ALERT_DECISION)
    page = client.get(f"/assessment/indicators/{decision.id}/").content.decode()
    assert '<option value="alert_decision" selected>' in page
    assert '<option value="mean" selected>' in page and '<option value="minutes" selected>' in page
    assert 'id="f-outcomes-accept" name="f-outcomes" value="accept" checked' in page
    assert 'id="f-outcomes-reject" name="f-outcomes" value="reject">' in page
    assert 'id="f-admin1" name="f-admin1" type="text" value="Bangui, Ouham"' in page
    # Saved again unchanged (other fields of the page included), the formula stays one version.
    post = {"action": "save", "name": "Indicator T1", "baseline_value": "10", "baseline_period": "2024",
            "target_value": "5", "target_period": "2025", "owner": "ana", "direction": "decrease",
            **LEFTOVERS, **ALERT_DECISION_FIELDS}
    assert client.post(f"/assessment/indicators/{decision.id}/", post).status_code == 302
    assert [d.formula for d in decision.definitions.all()] == [ALERT_DECISION]


@pytest.mark.parametrize("typed", ["-1", "abc", "nan"])
def test_a_bad_lowest_priority_is_shown_beside_it_and_nothing_typed_is_lost(plan, client, world, typed):
    from sitaware.assessment.models import Indicator

    _login(client, world, "ana")
    sent = _operational_post(plan, "P1", **{**PATROL_COVERAGE_FIELDS, "f-min_priority": typed})
    answer = client.post(f"/assessment/frameworks/{plan.framework.id}/indicators/new", sent)
    page = answer.content.decode()
    assert answer.status_code == 400
    assert not Indicator.objects.filter(code="P1").exists()
    assert "give a priority of 0 or more" in _field_error(page, "f-e-min_priority")
    assert 'aria-describedby="f-h-min_priority f-e-min_priority" aria-invalid="true"' in page
    assert f'id="f-min_priority" name="f-min_priority" type="text" inputmode="decimal" value="{typed}"' in page
    assert '<option value="patrol_coverage" selected>' in page
    assert 'name="f-units" value="bangui-hq" checked' in page and 'name="f-units" value="bria" checked' in page
    assert 'id="f-sources-alert" name="f-sources" value="alert" checked' in page
    assert '<option value="made" selected>' in page and '<option value="priority" selected>' in page
    # Only the field at fault is named: no problem about the other types' leftover fields.
    assert re.findall(r'<p id="([^"]+)" class="field-error">', page) == ["f-e-min_priority"]


def test_a_missing_or_unknown_choice_is_named_beside_its_field(plan, client, world):
    _login(client, world, "ana")
    new = f"/assessment/frameworks/{plan.framework.id}/indicators/new"
    answer = client.post(new, _operational_post(plan, "P1", **{**PATROL_COVERAGE_FIELDS, "f-basis": "",
                                                               "f-sources": ["alert", "rumour"]}))
    page = html.unescape(answer.content.decode())
    assert answer.status_code == 400
    assert "use one of planned, made" in _field_error(page, "f-e-basis")
    assert "unknown value 'rumour'" in _field_error(page, "f-e-sources")
    assert 'value="1,5"' in page and 'id="f-sources-alert" name="f-sources" value="alert" checked' in page
    answer = client.post(new, _operational_post(plan, "T1", **{**ALERT_DECISION_FIELDS, "f-outcomes": ["maybe"],
                                                               "f-unit": ""}))
    page = html.unescape(answer.content.decode())
    assert answer.status_code == 400
    assert "unknown value 'maybe'" in _field_error(page, "f-e-outcomes")
    assert "use one of minutes, hours, days" in _field_error(page, "f-e-unit")
    assert 'value="Bangui, Ouham"' in page and '<option value="mean" selected>' in page


def test_the_operational_measures_are_offered_in_french(plan, client, world):
    _login(client, world, "ana")
    new = f"/assessment/frameworks/{plan.framework.id}/indicators/new"
    page = html.unescape(client.get(new, HTTP_ACCEPT_LANGUAGE="fr").content.decode())
    for words in ("délai entre une alerte précoce et la décision (médiane ou moyenne)",
                  "couverture des cellules prioritaires par les patrouilles (%)",
                  "Délai entre l'alerte et la décision : quelles décisions", "Décisions comptées (aucune : toutes)",
                  "Couverture par les patrouilles : comment elle est calculée", "Visites comptées", "Pondération",
                  "faites : visites confirmées par le prévu / réalisé", "Raison de la priorité de la cellule",
                  "une alerte précoce", "la couverture par les patrouilles par unité"):
        assert words in page, words
    assert "%%" not in page and "Time from alert" not in page
    answer = client.post(new, _operational_post(plan, "P1", **{**PATROL_COVERAGE_FIELDS, "f-min_priority": "-1"}),
                         HTTP_ACCEPT_LANGUAGE="fr")
    assert answer.status_code == 400
    assert "donnez une priorité de 0 ou plus" in _field_error(answer.content.decode(), "f-e-min_priority")


@pytest.mark.parametrize(("formula", "language", "label"), [
    (shared.ROBBERY, "en", "Records counted"), (ALERT_DECISION, "en", "Alerts decided"),
    (PATROL_COVERAGE, "en", "Priority cells counted"), (ALERT_DECISION, "fr", "Alertes décidées"),
    (PATROL_COVERAGE, "fr", "Cellules prioritaires comptées"),
])
def test_the_value_page_says_what_its_count_counts(plan, client, world, monkeypatch, formula, language, label):
    import datetime as dt
    from decimal import Decimal

    from sitaware.assessment import values
    from sitaware.assessment.errors import Conflict
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(formula=formula)
    v = IndicatorValue.objects.create(
        indicator=ind, organisation=plan.framework.organisation, period_start=dt.date(2025, 3, 1),
        period_end=dt.date(2025, 4, 1), value=Decimal("42.5"), record_count=7, source="computed",
        produced_by_label="system", definition=ind.definitions.get(), data_cutoff_seq=0)
    def nothing_behind(actor, value_id):
        raise Conflict("not listed here")

    # What lies behind the figure (records, alerts or plans) is the engine's business; here only the label.
    monkeypatch.setattr(values, "drill_down", nothing_behind)
    _login(client, world, "sam")
    answer = client.get(f"/assessment/values/{v.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    assert answer.status_code == 200
    assert f'<dt>{label}</dt><dd id="record-count">7</dd>' in answer.content.decode()


def test_bad_input_is_shown_beside_its_field_and_what_was_typed_is_kept(plan, client, world):
    from sitaware.assessment.models import Indicator

    _login(client, world, "ana")
    sent = {**RATIO_POST, "output_id": plan.output.pk, "baseline_period": "2024-13", "factor": "-3",
            "num-kinds": ["incident", "rumour"], "den-type": "sum", "den-field": ""}
    answer = client.post(f"/assessment/frameworks/{plan.framework.id}/indicators/new", sent)
    page = answer.content.decode()
    assert answer.status_code == 400
    assert not Indicator.objects.filter(code="I9").exists()
    assert _field_error(page, "e-baseline_period")
    # The formula is checked once the rest is valid: fix the period and send again.
    answer = client.post(f"/assessment/frameworks/{plan.framework.id}/indicators/new",
                         {**sent, "baseline_period": "2024"})
    page = answer.content.decode()
    assert answer.status_code == 400
    assert "unknown value &#x27;rumour&#x27;" in _field_error(page, "num-e-kinds")
    assert "positive number" in _field_error(page, "e-factor")
    assert "sum one of" in _field_error(page, "den-e-field")
    # What was typed is kept, including the multiple choices of the filters.
    assert 'value="Share of armed robberies"' in page and 'value="-3"' in page and 'value="Bangui, Ouham"' in page
    assert re.search(r'id="num-categories-?[^"]*"|<option value="police.armed_robbery" selected>', page)
    assert 'id="num-statuses-verified" name="num-statuses" value="verified" checked' in page
    assert '<option value="sum" selected>' in page


def test_a_french_form_error_is_in_french(plan, client, world):
    _login(client, world, "ana")
    answer = client.post(f"/assessment/frameworks/{plan.framework.id}/indicators/new",
                         {**RATIO_POST, "output_id": plan.output.pk, "factor": "0"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert answer.status_code == 400
    assert "nombre positif" in _field_error(answer.content.decode(), "e-factor")


def test_an_objective_with_a_used_code_is_refused_beside_the_code(plan, client, world):
    _login(client, world, "ana")
    answer = client.post(f"/assessment/frameworks/{plan.framework.id}/",
                         {"action": "objective", "code": "O1", "title": "Again"})
    page = answer.content.decode()
    assert answer.status_code == 400
    assert _field_error(page, "obj-e-code") == "this code is already used here"
    assert 'value="Again"' in page


def test_a_draft_indicator_is_edited_with_its_formula_prefilled(plan, client, world):
    ind = plan.indicator(formula=shared.ROBBERY)
    _login(client, world, "ana")
    page = client.get(f"/assessment/indicators/{ind.id}/").content.decode()
    assert 'id="i-target_value" name="target_value" type="text" value="5"' in page
    assert '<option value="police.armed_robbery" selected>' in page
    assert 'id="f-statuses-verified" name="f-statuses" value="verified" checked' in page
    post = {"action": "save", "name": "Armed robberies", "baseline_value": "10", "baseline_period": "2024",
            "target_value": "4", "target_period": "2025", "owner": "ana", "direction": "decrease",
            "f-type": "count", "f-categories": ["police.armed_robbery"], "f-statuses": ["verified"]}
    assert client.post(f"/assessment/indicators/{ind.id}/", post).status_code == 302
    ind.refresh_from_db()
    assert (ind.name, str(ind.target_value)) == ("Armed robberies", "4.000000")
    assert [d.formula for d in ind.definitions.order_by("version")] == [
        {"type": "count", "filter": {"categories": ["police.armed_robbery"], "statuses": ["published", "verified"]}},
        {"type": "count", "filter": {"categories": ["police.armed_robbery"],
                                                     "statuses": ["verified"]}}]


# ---------------------------------------------------------------- who may do what


def test_forms_are_for_those_allowed_and_other_organisations_see_nothing(plan, client, world):
    ind = plan.indicator()
    fw_url = f"/assessment/frameworks/{plan.framework.id}/"
    _login(client, world, "rita")  # a reporter: may view, not plan
    assert 'id="new-framework"' not in client.get("/assessment/frameworks/").content.decode()
    page = client.get(fw_url).content.decode()
    assert 'id="obj-add"' not in page and 'id="assessment-form"' not in page and 'id="import-form"' not in page
    assert client.post("/assessment/frameworks/", {"code": "x", "title": "X"}).status_code == 403
    assert client.post(fw_url, {"action": "objective", "code": "O9", "title": "X"}).status_code == 403
    assert client.post(fw_url, {"action": "assessment", "title": "X"}).status_code == 403
    assert client.get(f"/assessment/frameworks/{plan.framework.id}/indicators/new").status_code == 403
    assert client.post(f"/assessment/indicators/{ind.id}/", {"action": "save", "name": "X"}).status_code == 403
    _login(client, world, "ana")
    assert client.post(fw_url, {"action": "activate"}).status_code == 403
    assert client.post(fw_url, {"action": "decide", "parent": "x"}).status_code == 403
    _login(client, world, "hugo")  # another organisation's analyst
    assert client.get(fw_url).status_code == 404
    assert client.post(fw_url, {"action": "objective", "code": "O9", "title": "X"}).status_code == 404
    assert client.get(f"/assessment/indicators/{ind.id}/").status_code == 404
    assert client.get(f"/assessment/frameworks/{plan.framework.id}/report.pdf").status_code == 404
    assert plan.framework.title not in client.get("/assessment/frameworks/").content.decode()


# ---------------------------------------------------------------- values


def test_a_value_is_entered_by_hand_with_a_comment(plan, client, world):
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(code="E1", data_source="entered")
    url = f"/assessment/indicators/{ind.id}/"
    _login(client, world, "ana")
    answer = client.post(url, {"action": "value", "period": "2025-03", "value": "7", "comment": ""})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert _field_error(page, "e-comment") and 'value="2025-03"' in page
    answer = client.post(url, {"action": "value", "period": "2025-03", "value": "7,5", "comment": "district report"})
    assert answer.status_code == 302
    v = IndicatorValue.objects.get(indicator=ind)
    assert (str(v.value), v.comment, v.source, v.period_start.isoformat()) == ("7.500000", "district report",
                                                                               "entered", "2025-03-01")
    page = client.get(url).content.decode()
    assert "district report" in page and "2025-03" in page
    assert f"/assessment/values/{v.pk}/" in client.get(f"/assessment/frameworks/{plan.framework.id}/").content.decode()
    computed = plan.indicator(code="C1", formula=shared.ROBBERY)
    assert 'id="value-form"' not in client.get(f"/assessment/indicators/{computed.id}/").content.decode()
    assert client.post(f"/assessment/indicators/{computed.id}/", {"action": "value", "period": "2025-03",
                                                                  "value": "1", "comment": "x"}).status_code == 409


def _value_post(**fields):
    return {"action": "value", "period": "2025-03", "value": "12", "comment": "gender survey, March", **fields}


def test_a_value_is_entered_by_hand_with_its_breakdown(plan, client, world):
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(code="E2", data_source="entered", disaggregation=["sex", "unit"])
    url = f"/assessment/indicators/{ind.id}/"
    _login(client, world, "ana")
    page = client.get(url).content.decode()
    # One optional field per key of the indicator: units from the organisation's list, sex as text.
    assert '<legend>Breakdown (blank: the total)</legend>' in page
    assert 'id="v-dis-sex" name="dis-sex" type="text" value=""' in page and 'id="v-dis-area"' not in page
    assert '<option value="">all units (the total)</option><option value="bangui-hq">Bangui HQ (bangui-hq)</option>' \
        '<option value="bria">Bria team site (bria)</option></select>' in page
    assert 'cnp-bangui' not in page  # another organisation's unit

    assert client.post(url, _value_post(**{"dis-sex": " female ", "dis-unit": "bria"})).status_code == 302
    assert client.post(url, _value_post(value="30", comment="all staff")).status_code == 302
    stored = {v.disaggregation_key: (v.disaggregation, str(v.value), v.comment)
              for v in IndicatorValue.objects.filter(indicator=ind)}
    assert stored == {'{"sex":"female","unit":"bria"}': ({"sex": "female", "unit": "bria"}, "12.000000",
                                                        "gender survey, March"),
                      "{}": ({}, "30.000000", "all staff")}
    # The page lists every value with its breakdown, and offers the groups already entered.
    page = client.get(url).content.decode()
    rows = re.findall(r'<tr><td>2025-03</td><td class="breakdown">([^<]*)</td><td><a [^>]+>([^<]+)</a>', page)
    assert sorted(rows) == [("total", "30"), ("unit: bria · sex: female", "12")]
    assert '<datalist id="dl-dis-sex"><option value="female"></option></datalist>' in page
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<td class="breakdown">unité : bria · sexe : female</td>' in page
    assert '<option value="">toutes les unités (le total)</option>' in page


def test_a_bad_breakdown_is_named_beside_its_field_and_nothing_typed_is_lost(plan, client, world):
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(code="E2", data_source="entered", disaggregation=["sex", "unit"])
    url = f"/assessment/indicators/{ind.id}/"
    _login(client, world, "ana")
    answer = client.post(url, _value_post(**{"dis-sex": "female", "dis-unit": "cnp-bangui"}))
    page = html.unescape(answer.content.decode())
    assert answer.status_code == 400
    assert _field_error(page, "e-dis-unit") == \
        "cnp-bangui is not a unit of your organisation; use one of bangui-hq, bria"
    assert 'aria-invalid="true" aria-describedby="e-dis-unit"' in page
    assert '<option value="cnp-bangui" selected>not a unit of your organisation (cnp-bangui)</option>' in page
    assert 'id="v-dis-sex" name="dis-sex" type="text" value="female"' in page
    assert 'value="2025-03"' in page and 'value="12"' in page and 'value="gender survey, March"' in page
    answer = client.post(url, _value_post(**{"dis-sex": "x" * 61}), HTTP_ACCEPT_LANGUAGE="fr")
    assert answer.status_code == 400
    assert _field_error(answer.content.decode(), "e-dis-sex") == "60 caractères au plus"
    # The service's own checks: a key the indicator is not broken down by (a page older than a change of its
    # keys) is named, with the other problems of the form beside their fields.
    answer = client.post(url, _value_post(period="2025-Q1", **{"dis-area": "Ouham", "dis-sex": "male"}))
    page = html.unescape(answer.content.decode())
    assert answer.status_code == 400
    assert "disaggregation.area: indicator E2 is not broken down by area" in page
    assert "give a monthly period" in _field_error(page, "e-period") and 'value="male"' in page
    assert not IndicatorValue.objects.filter(indicator=ind).exists()


def test_the_formula_offers_the_units_and_known_areas_and_keeps_codes_no_longer_listed(plan, client, world):
    import datetime as dt

    from sitaware.assessment.models import Indicator, IndicatorValue

    # Areas are known from the organisation's figures by area that the viewer may see: not another
    # organisation's, not one above the viewer's clearance (ana: 2).
    by_area = plan.indicator(code="A1", formula=shared.ROBBERY, disaggregation=["area"])
    for organisation, area, sensitivity in ((world.unpol, "Ouham", 1), (world.unpol, "Vakaga", 3),
                                            (world.hsp, "Lobaye", 0)):
        IndicatorValue.objects.create(
            indicator=by_area, organisation=organisation, period_start=dt.date(2025, 3, 1),
            period_end=dt.date(2025, 4, 1), disaggregation={"area": area}, disaggregation_key=f'{{"area":"{area}"}}',
            value=1, source="computed", produced_by_label="system", sensitivity=sensitivity)
    stale = {**PATROL_COVERAGE, "filter": {**PATROL_COVERAGE["filter"], "units": ["bangui-hq", "old-post"]}}
    coverage = plan.indicator(code="P1", formula=stale)
    decision = plan.indicator(code="T1", formula=ALERT_DECISION)  # admin1: Bangui, Ouham
    _login(client, world, "ana")
    page = client.get(f"/assessment/indicators/{coverage.id}/").content.decode()
    assert 'id="f-unit-bangui-hq" name="f-units" value="bangui-hq" checked>' in page
    assert 'id="f-unit-bria" name="f-units" value="bria">' in page
    # A code the list no longer offers (a unit renamed) is shown in the text field, not dropped.
    assert 'id="f-units" name="f-units" type="text" value="old-post"' in page
    post = {"action": "save", "name": "Indicator P1", "baseline_value": "10", "baseline_period": "2024",
            "target_value": "5", "target_period": "2025", "owner": "ana", "direction": "decrease",
            **PATROL_COVERAGE_FIELDS, "f-units": ["bangui-hq", "old-post"]}
    assert client.post(f"/assessment/indicators/{coverage.id}/", post).status_code == 302
    assert [d.formula for d in coverage.definitions.all()] == [stale]  # unchanged: still one version
    assert client.post(f"/assessment/indicators/{coverage.id}/",
                       {**post, "f-units": ["bangui-hq", "bria", "old-post"]}).status_code == 302
    assert coverage.definitions.order_by("-version").first().formula["filter"]["units"] == \
        ["bangui-hq", "bria", "old-post"]

    page = client.get(f"/assessment/indicators/{decision.id}/").content.decode()
    assert re.search(r'id="f-area-\d+" name="f-admin1" value="Ouham" checked> Ouham</label>', page)
    assert 'id="f-admin1" name="f-admin1" type="text" value="Bangui"' in page
    assert "Vakaga" not in page and "Lobaye" not in page
    _login(client, world, "sam")  # clearance 3
    assert 'value="Vakaga"' in client.get(f"/assessment/indicators/{decision.id}/").content.decode()

    # Ticked and typed together, on a new indicator.
    answer = client.post(f"/assessment/frameworks/{plan.framework.id}/indicators/new", _operational_post(
        plan, "T2", **{**ALERT_DECISION_FIELDS, "f-admin1": ["Ouham", "Bangui, Ouham"]}))
    assert answer.status_code == 302
    assert Indicator.objects.get(code="T2").definitions.get().formula == ALERT_DECISION


def _csv(text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("values.csv", text.encode("utf-8"), content_type="text/csv")


def test_values_are_imported_from_csv_and_wrong_rows_are_named(plan, client, world):
    from sitaware.assessment.models import IndicatorValue

    ind = plan.indicator(code="M1", data_source="imported")
    url = f"/assessment/frameworks/{plan.framework.id}/"
    _login(client, world, "ana")
    bad = "indicator,period,value\nM1,2025-01,3\nM1,2025-13,4\nNOPE,2025-02,1\n"
    answer = client.post(url, {"action": "import", "file": _csv(bad), "comment": "monthly sheet"})
    assert answer.status_code == 400
    page = answer.content.decode()
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\w+)</td><td>[^<]+</td></tr>", page)
    assert rows == [("3", "period"), ("4", "indicator")]
    assert 'value="monthly sheet"' in page
    assert not IndicatorValue.objects.exists()
    good = "indicator,period,value,comment\nM1,2025-01,3,\nM1,2025-02,4,from HQ\n"
    answer = client.post(url, {"action": "import", "file": _csv(good), "comment": "monthly sheet"})
    assert answer.status_code == 302 and "imported=2" in answer["Location"]
    assert sorted((v.period_start.month, str(v.value), v.comment) for v in IndicatorValue.objects.filter(
        indicator=ind)) == [(1, "3.000000", "monthly sheet"), (2, "4.000000", "from HQ")]
    assert "2 values imported." in client.get(answer["Location"]).content.decode()
    assert client.post(url, {"action": "import"}).status_code == 400


# ---------------------------------------------------------------- assessments


def test_an_assessment_is_written_decided_and_leads_to_a_new_version(plan, client, world):
    from sitaware.assessment.models import Assessment, ResultsFramework

    plan.indicator()
    url = f"/assessment/frameworks/{plan.framework.id}/"
    _login(client, world, "ana")
    bad = {"action": "assessment", "title": "Q1 review", "period_start": "2025-04-01", "period_end": "2025-01-01",
           "findings": "Fewer robberies", "recommendations": "More night patrols\nReport faster"}
    answer = client.post(url, bad)
    assert answer.status_code == 400
    page = answer.content.decode()
    assert _field_error(page, "a-e-end") and "Fewer robberies" in page and 'value="Q1 review"' in page
    assert client.post(url, {**bad, "period_start": "2025-01-01", "period_end": "2025-04-01"}).status_code == 302
    a = Assessment.objects.get(framework=plan.framework)
    assert (a.findings, a.recommendations, a.status) == ("Fewer robberies",
                                                         ["More night patrols", "Report faster"], "open")
    _login(client, world, "sam")
    bad_decision = {"action": "decide", "parent": a.pk, "leadership_decision": "Keep the plan",
                    "follow_up_actions": "Add night patrols; sam; 2025-13-01"}
    answer = client.post(url, bad_decision)
    assert answer.status_code == 400 and _field_error(answer.content.decode(), f"d-{a.pk}-e-actions")
    answer = client.post(url, {**bad_decision, "follow_up_actions": "Add night patrols; sam; 2025-06-01\nReview"})
    assert answer.status_code == 302
    a.refresh_from_db()
    assert (a.status, a.leadership_decision, a.decided_by.username) == ("decided", "Keep the plan", "sam")
    assert a.follow_up_actions == [{"action": "Add night patrols", "owner": "sam", "due": "2025-06-01",
                                    "status": "open"}, {"action": "Review", "owner": "", "due": None,
                                                        "status": "open"}]
    page = client.get(url).content.decode()
    assert "Keep the plan" in page and "Add night patrols" in page and 'id="make-version"' in page
    _login(client, world, "rita")
    assert 'id="make-version"' not in client.get(url).content.decode()
    _login(client, world, "ana")
    answer = client.post(url, {"action": "new_version", "assessment_id": str(a.pk), "title": ""})
    assert answer.status_code == 302
    new = ResultsFramework.objects.get(code="cpas", version=2)
    assert answer["Location"] == f"/assessment/frameworks/{new.id}/"
    assert new.based_on_assessment_id == a.pk and new.indicators.count() == 1
    assert "Q1 review" in client.get(answer["Location"]).content.decode()


# ---------------------------------------------------------------- the report


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_report_button_gives_a_pdf_and_a_spreadsheet_in_the_page_language(plan, client, world, language):
    from openpyxl import load_workbook

    plan.indicator()
    _login(client, world, "sam")
    page = client.get(f"/assessment/frameworks/{plan.framework.id}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    links = dict(re.findall(r'href="([^"]+)" id="report-(pdf|xlsx)"', page))
    links = {kind: href for href, kind in links.items()}
    pdf = client.get(links["pdf"], HTTP_ACCEPT_LANGUAGE=language)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and f"-report-{language}.pdf" in pdf["Content-Disposition"]
    xlsx = client.get(links["xlsx"], HTTP_ACCEPT_LANGUAGE=language)
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK\x03\x04")
    assert f"-report-{language}.xlsx" in xlsx["Content-Disposition"]
    book = load_workbook(io.BytesIO(xlsx.content))
    cells = [c for row in book.worksheets[0].iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert any("I1" in c for c in cells)
    assert client.get(f"/assessment/frameworks/{plan.framework.id}/report.doc").status_code == 404


# ---------------------------------------------------------------- the form ↔ formula mapping (pure)


def test_service_problems_land_on_their_form_fields_and_stored_formulas_round_trip():
    from sitaware.assessment import framework_forms as forms

    assert [forms.field_for(f) for f in ("formula.numerator.filter.kinds", "formula.denominator.field",
                                          "formula.factor", "formula.type", "formula", "formula.filter.units",
                                          "formula.statistic", "formula.numerator.type", "baseline_period",
                                          "disaggregation.0", "formula.basis", "formula.weighting",
                                          "formula.filter.outcomes", "formula.filter.sources",
                                          "formula.filter.min_priority")] == \
        ["num-kinds", "den-field", "factor", "f-type", "f-type", "f-units", "f-statistic", "num-type",
         "baseline_period", "disaggregation", "f-basis", "f-weighting", "f-outcomes", "f-sources", "f-min_priority"]
    duration = {"type": "duration", "statistic": "mean", "unit": "days", "filter": {"kinds": ["incident"],
                                                                                    "sensitivity_max": 0}}
    bare_coverage = {"type": "patrol_coverage", "basis": "planned", "weighting": "cells", "filter": {"min_priority": 0}}
    bare_decision = {"type": "alert_decision", "statistic": "median", "unit": "hours", "filter": {}}
    for stored in (RATIO_FORMULA, duration, shared.ROBBERY, ALERT_DECISION, PATROL_COVERAGE, bare_coverage,
                   bare_decision):
        assert forms.formula_from_state(forms.formula_state_from_stored(stored)) == stored
    # A lowest priority that is no number is passed on as typed, for the formula's check to name.
    state = forms.formula_state_from_stored(PATROL_COVERAGE)
    for typed, sent in (("abc", "abc"), (" 2 ", 2), ("0,25", 0.25), ("inf", "inf"), ("", None)):
        state["f"]["filter"]["min_priority"] = typed
        assert forms.formula_from_state(state)["filter"].get("min_priority") == sent
    assert forms.formula_from_state(forms.empty_formula_state()) is None


class _Post(dict):
    """What a form POST looks like to the pure module: `get` and `getlist`."""

    def get(self, key, default=None):
        value = super().get(key, default)
        return value[-1] if isinstance(value, list) else value

    def getlist(self, key):
        value = super().get(key, [])
        return value if isinstance(value, list) else [value]


def test_units_and_areas_round_trip_between_lists_typed_codes_and_the_formula():
    from sitaware.assessment import framework_forms as forms

    listed = ["bangui-hq", "bria"]
    post = _Post({"f-type": "patrol_coverage", "f-basis": "planned", "f-weighting": "cells",
                  "f-units": ["bria", "bangui-hq", " old-post, partner-unit ,, bria"]})
    state = forms.formula_state_from_post(post)
    assert state["f"]["filter"]["units"] == ["bria", "bangui-hq", "old-post", "partner-unit"]
    formula = forms.formula_from_state(state)
    assert formula["filter"]["units"] == ["bria", "bangui-hq", "old-post", "partner-unit"]
    again = forms.formula_state_from_stored(formula)
    assert again["f"]["filter"]["units"] == state["f"]["filter"]["units"]
    assert forms.others(again["f"]["filter"]["units"], listed) == "old-post, partner-unit"
    assert forms.others(["bria"], listed) == ""
    # Nothing ticked or typed: no filter (all units).
    assert "units" not in forms.formula_from_state(forms.formula_state_from_post(_Post({**post, "f-units": []})))[
        "filter"]


def test_an_entered_value_form_gives_the_service_payload_and_its_problems_land_on_their_fields():
    from sitaware.assessment import framework_forms as forms

    post = _Post({"period": " 2025-03 ", "value": "7,5", "comment": "survey", "dis-sex": " female ", "dis-unit": "",
                  "dis-area": "  ", "dis-colour": "red"})
    assert forms.entered_value_payload(post) == {"period": "2025-03", "value": "7.5", "empty_reason": "",
                                                 "comment": "survey", "disaggregation": {"sex": "female"}}
    assert [forms.value_field_for(f) for f in ("disaggregation.sex", "disaggregation.age_group", "period",
                                               "disaggregation.colour", "empty_reason")] == \
        ["dis-sex", "dis-age_group", "period", "disaggregation", "empty_reason"]


def test_a_computed_indicators_page_lists_its_latest_period_by_group(plan, client, world, make_record, actor):
    from sitaware.assessment import values
    from tests.conftest import _system

    ind = plan.indicator(code="G1", formula=shared.ROBBERY, disaggregation=["area"])
    shared.make(make_record, 1, admin1="Lobaye")
    for area in ("Ouham", "Ouham", "Bangui"):
        shared.make(make_record, 3, admin1=area)
    shared.make(make_record, 3, author="sam", sensitivity="strictly_confidential", admin1="Ouham")
    values.compute(_system(), ind, *shared.RANGE)

    def groups(who: str) -> list[tuple[str, str]]:
        _login(client, world, who)
        page = html.unescape(client.get(f"/assessment/indicators/{ind.id}/").content.decode())
        assert "By group in 2025-03" in page  # the latest period with groups, not June (no records)
        table = page[page.index('id="group-table"'):]
        return re.findall(r'<td class="breakdown">([^<]*)</td><td><a [^>]*>([^<]*)</a>( \(partial\))?', table[
            :table.index("</table>")])

    assert groups("sam") == [("area: Ouham", "3", ""), ("area: Bangui", "1", "")]
    # ana (clearance 2) sees her share, marked partial, never the organisation's figure.
    assert ("area: Ouham", "2", " (partial)") in groups("ana")
