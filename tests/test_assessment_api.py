"""The assessment API end to end: a non-specialist defines, activates and computes an indicator without code
(R-PA-04), reads values with provenance, drills down, enters and imports values, runs an assessment."""

from __future__ import annotations

import json

import pytest

from tests.test_assessment_engine import ROBBERY, make

BASE = "/api/v1/assessment"


@pytest.fixture
def api(world, client):
    from sitaware.core.services import create_token

    tokens: dict[str, str] = {}

    class As:
        def __init__(self, name: str):
            if name not in tokens:
                tokens[name] = create_token(world.users[name], "tests")
            self.auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens[name]}"}

        def get(self, path: str):
            return client.get(BASE + path, **self.auth)

        def post(self, path: str, body: dict | None = None, method: str = "post"):
            data = json.dumps(body) if body is not None else ""
            return getattr(client, method)(BASE + path, data=data, content_type="application/json", **self.auth)

        def upload(self, path: str, text: str):
            from django.core.files.uploadedfile import SimpleUploadedFile

            return client.post(BASE + path, {"file": SimpleUploadedFile("values.csv", text.encode())}, **self.auth)

    return As


@pytest.fixture
def framework(api):
    ana = api("ana")
    fw = ana.post("/frameworks", {"code": "cpas", "title": "Plan"}).json()
    objective = ana.post(f"/frameworks/{fw['id']}/objectives", {"code": "O1", "title": "Safer"}).json()
    outcome = ana.post(f"/objectives/{objective['id']}/outcomes", {"code": "OC1", "title": "Less crime"}).json()
    output = ana.post(f"/outcomes/{outcome['id']}/outputs", {"code": "OP1", "title": "Reporting"}).json()
    return {**fw, "output_id": output["id"]}


def indicator_body(framework, **fields):
    return {"output_id": framework["output_id"], "code": "I1", "name": "Armed robberies", "unit": "incidents",
            "frequency": "monthly", "baseline_value": 10, "baseline_period": "2024", "target_value": 5,
            "target_period": "2025", "owner": "ana", "direction": "decrease", "disaggregation": ["area"],
            "formula": ROBBERY, **fields}


def test_an_indicator_is_defined_activated_computed_and_drilled_into_without_code(api, framework, make_record):
    make(make_record, 1)
    make(make_record, 1, admin1="Ouham")
    ana, sam = api("ana"), api("sam")
    created = ana.post(f"/frameworks/{framework['id']}/indicators", indicator_body(framework))
    assert created.status_code == 201, created.json()
    ind = created.json()
    assert ind["missing_for_activation"] == [] and ind["definition_version"] == 1
    assert sam.post(f"/indicators/{ind['id']}/activate").json()["status"] == "active"
    run = ana.post(f"/indicators/{ind['id']}/compute", {"first": "2025-01", "last": "2025-03"})
    assert run.status_code == 200 and run.json()["periods"] == 3
    listed = sam.get(f"/indicators/{ind['id']}/values?total=true").json()
    assert [(v["period"], v["value"]) for v in listed["items"]] == [
        ("2025-01", "2.000000"), ("2025-02", "0.000000"), ("2025-03", "0.000000")]
    assert listed["partial"] is False and listed["items"][0]["definition_version"] == 1
    ouham = sam.get(f"/indicators/{ind['id']}/values?area=Ouham").json()["items"]
    assert [v["value"] for v in ouham] == ["1.000000"]
    drill = sam.get(f"/values/{listed['items'][0]['id']}/records").json()
    assert len(drill["record_ids"]) == 2
    assert ana.post(f"/indicators/{ind['id']}/refresh").json()["periods"] == 0
    tree = ana.get(f"/frameworks/{framework['id']}").json()
    assert tree["objectives"][0]["outcomes"][0]["outputs"][0]["indicators"][0]["code"] == "I1"


def test_activation_without_owner_is_refused_naming_it(api, framework):
    ind = api("ana").post(f"/frameworks/{framework['id']}/indicators", indicator_body(framework, owner=None)).json()
    assert ind["missing_for_activation"] == [{"field": "owner", "message": "the indicator has no owner"}]
    answer = api("sam").post(f"/indicators/{ind['id']}/activate")
    assert answer.status_code == 400
    assert answer.json()["detail"] == "indicator I1 cannot be activated: missing owner"


def test_a_bad_formula_is_a_400_naming_the_field(api, framework):
    answer = api("ana").post(f"/frameworks/{framework['id']}/indicators",
                             indicator_body(framework, formula={"type": "count", "filter": {"statuses": ["done"]}}))
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "formula.filter.statuses"


def test_a_lower_clearance_viewer_is_told_figures_are_partial(api, framework, make_record):
    make(make_record, 1)
    make(make_record, 1, author="sam", sensitivity="strictly_confidential")
    ind = api("ana").post(f"/frameworks/{framework['id']}/indicators", indicator_body(framework)).json()
    api("ana").post(f"/indicators/{ind['id']}/compute", {"first": "2025-01", "last": "2025-01"})
    mine = api("ana").get(f"/indicators/{ind['id']}/values?total=true").json()
    assert mine["partial"] is True and mine["items"][0]["value"] == "1.000000"
    full = api("sam").get(f"/indicators/{ind['id']}/values?total=true").json()
    assert full["partial"] is False and full["items"][0]["value"] == "2.000000"
    assert api("hugo").get(f"/indicators/{ind['id']}/values").status_code == 404
    assert api("ana").get(f"/indicators/{ind['id']}/values?colour=red").status_code == 400


def test_values_are_entered_by_hand_with_a_comment(api, framework):
    ind = api("ana").post(f"/frameworks/{framework['id']}/indicators", indicator_body(
        framework, data_source="entered", formula=None, disaggregation=["sex"], frequency="quarterly")).json()
    body = {"period": "2025-Q1", "value": 12, "disaggregation": {"sex": "female"}, "comment": "station registers"}
    entered = api("ana").post(f"/indicators/{ind['id']}/values", body)
    assert entered.status_code == 201
    assert (entered.json()["source"], entered.json()["produced_by"]) == ("entered", "ana")
    wrong = api("ana").post(f"/indicators/{ind['id']}/values", {**body, "period": "2025-03"})
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "period"
    no_comment = api("ana").post(f"/indicators/{ind['id']}/values", {**body, "comment": ""})
    assert no_comment.status_code == 400 and no_comment.json()["errors"][0]["field"] == "comment"
    empty = api("ana").post(f"/indicators/{ind['id']}/values", {"period": "2025-Q2", "comment": "x"})
    assert empty.json()["errors"][0]["field"] == "empty_reason"
    assert api("rita").post(f"/indicators/{ind['id']}/values", body).status_code == 403


def test_an_entered_breakdown_names_a_unit_of_another_organisation_and_one_too_long(api, framework):
    ind = api("ana").post(f"/frameworks/{framework['id']}/indicators", indicator_body(
        framework, data_source="entered", formula=None, disaggregation=["unit", "area"], frequency="quarterly")).json()
    body = {"period": "2025-Q1", "value": 4, "comment": "training register"}
    stranger = api("ana").post(f"/indicators/{ind['id']}/values", {**body, "disaggregation": {"unit": "cnp-bangui"}})
    assert stranger.status_code == 400
    [problem] = stranger.json()["errors"]
    assert problem["field"] == "disaggregation.unit" and "bangui-hq, bria" in problem["message"]
    long = api("ana").post(f"/indicators/{ind['id']}/values", {**body, "disaggregation": {"area": "x" * 420}})
    assert long.status_code == 400 and long.json()["errors"][0]["field"] == "disaggregation"
    ours = api("ana").post(f"/indicators/{ind['id']}/values", {**body, "disaggregation": {"unit": "bria"}})
    assert ours.status_code == 201


def test_csv_import_writes_all_rows_or_names_each_bad_row(api, framework):
    from sitaware.assessment.models import IndicatorValue

    api("ana").post(f"/frameworks/{framework['id']}/indicators", indicator_body(
        framework, code="IMP", data_source="imported", formula=None, disaggregation=["sex", "age_group"]))
    bad = ("indicator,period,sex,age_group,value,comment\n"
           "IMP,2025-01,female,18-24,3,ok\n"
           "NOPE,2025-01,,,3,\n"
           "IMP,2025-13,,,3,\n"
           "IMP,2025-02,,,three,\n"
           "IMP,2025-02,,,,\n")
    answer = api("ana").upload(f"/frameworks/{framework['id']}/values/import", bad)
    assert answer.status_code == 400
    assert [(e["row"], e["field"]) for e in answer.json()["errors"]] == [
        (3, "indicator"), (4, "period"), (5, "value"), (6, "value")]
    assert not IndicatorValue.objects.exists()
    good = "indicator,period,sex,age_group,value,comment\nIMP,2025-01,female,18-24,3,ok\nIMP,2025-01,,,7,\n"
    answer = api("ana").upload(f"/frameworks/{framework['id']}/values/import", good)
    assert answer.status_code == 200 and answer.json() == {"written": 2}
    v = IndicatorValue.objects.get(disaggregation_key='{"age_group":"18-24","sex":"female"}')
    assert (v.source, v.value, v.comment) == ("imported", 3, "ok")


def test_the_assessment_cycle_over_the_api(api, framework):
    a = api("ana").post(f"/frameworks/{framework['id']}/assessments", {
        "title": "Q1 review", "period_start": "2025-01-01", "period_end": "2025-04-01",
        "findings": "On track", "recommendations": ["Keep going"]}).json()
    assert api("cora").post(f"/assessments/{a['id']}/decision",
                            {"leadership_decision": "Adopt v2"}).json()["status"] == "decided"
    v2 = api("ana").post(f"/frameworks/{framework['id']}/versions", {"assessment_id": a["id"]})
    assert v2.status_code == 201 and v2.json()["based_on_assessment"] == a["id"]
    assert api("hugo").get(f"/assessments/{a['id']}").status_code == 404


def test_values_are_reviewed_by_someone_other_than_their_producer(api, framework):
    ind = api("ana").post(f"/frameworks/{framework['id']}/indicators", indicator_body(
        framework, data_source="entered", formula=None, disaggregation=[])).json()
    body = {"period": "2025-01", "value": 3, "comment": "logbook"}
    value = api("sam").post(f"/indicators/{ind['id']}/values", body).json()
    assert api("sam").post(f"/values/{value['id']}/review", {"qa_status": "accepted"}).status_code == 403
    assert api("ana").post(f"/values/{value['id']}/review", {"qa_status": "accepted"}).status_code == 403
    queried = api("cora").post(f"/values/{value['id']}/review", {"qa_status": "queried"})
    assert queried.status_code == 400 and queried.json()["errors"][0]["field"] == "comment"
    reviewed = api("cora").post(f"/values/{value['id']}/review", {"qa_status": "queried", "comment": "source?"})
    assert (reviewed.json()["qa_status"], reviewed.json()["comment"]) == ("queried", "source?")
    assert api("cora").post(f"/values/{value['id']}/review", {"qa_status": "fine"}).status_code == 400
    # Entering the value again (corrected) sends it back to review.
    again = api("sam").post(f"/indicators/{ind['id']}/values", {**body, "value": 4, "comment": "logbook p.2"})
    assert again.json()["qa_status"] == "unreviewed"


def test_the_openapi_document_names_assessment_bodies_apart_from_other_apps(api):
    from sitaware.api.api import api as ninja_api

    schema = ninja_api.get_openapi_schema()
    paths = [p for p in schema["paths"] if p.startswith("/api/v1/assessment/")]
    assert "/api/v1/assessment/indicators/{indicator_id}/values" in paths
    body = schema["paths"]["/api/v1/assessment/assessments/{assessment_id}/decision"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert ref == "AssessmentDecisionIn"
    assert set(schema["components"]["schemas"]["DecisionIn"]["properties"]) == {"outcome", "reason",
                                                                               "modified_output"}
