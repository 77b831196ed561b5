"""What the system will never do (ARCHITECTURE §6, R-AI-01): the API and the data model offer no person-level
risk scoring, no biometric identification, no emotion recognition — checked against what is actually served."""

from __future__ import annotations

import re

import pytest

PROHIBITED = re.compile(
    r"(person|individual|offender|suspect|people).{0,40}?(risk|score|predict)|"
    r"\bfac(e|es|ial)\b|biometric|fingerprint|\biris\b|voiceprint|emotion|\bgait\b",
    re.IGNORECASE,
)


def test_no_api_operation_offers_a_prohibited_capability(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["paths"], "the OpenAPI document lists no paths"
    for path, operations in schema["paths"].items():
        assert not PROHIBITED.search(path), path
        for operation in operations.values():
            text = " ".join(str(operation.get(k, "")) for k in ("summary", "description", "operationId"))
            assert not PROHIBITED.search(text), (path, text)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/persons/1/risk", "/api/v1/people/risk-scores", "/api/v1/faces/search", "/api/v1/biometrics/match",
     "/api/v1/emotions"],
)
def test_requests_for_person_level_risk_or_biometrics_find_nothing(path, client, world):
    from sitaware.core.services import create_token

    token = create_token(world.users["sam"], "probe")
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404


def test_no_model_stores_biometrics_or_person_level_scores():
    from django.apps import apps

    for model in apps.get_models():
        for field in model._meta.get_fields():
            name = getattr(field, "name", "")
            assert not PROHIBITED.search(name.replace("_", " ")), f"{model.__name__}.{name}"
            assert not re.search(r"risk_score|person_risk|suspect", name), f"{model.__name__}.{name}"
