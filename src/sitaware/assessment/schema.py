"""The boundary shapes of the assessment app (API, forms, importers). Pure: no Django."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sitaware.assessment.periods import PeriodError, parse_label

Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Title = Annotated[str, Field(min_length=1, max_length=300)]
Frequency = Literal["weekly", "monthly", "quarterly", "semiannual", "annual"]
DisaggregationKey = Literal["area", "unit", "category", "sex", "age_group"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _period_label(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    try:
        parse_label(value)
    except PeriodError as exc:
        raise ValueError(str(exc)) from None
    return value.strip().upper()


class FrameworkIn(_In):
    code: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""


class FrameworkNodeIn(_In):
    code: Code
    title: Title


class IndicatorIn(_In):
    output_id: int
    code: Code
    name: Title
    definition: str = ""
    unit: Annotated[str, Field(max_length=60)] = ""
    baseline_value: Decimal | None = None
    baseline_period: str | None = None
    target_value: Decimal | None = None
    target_period: str | None = None
    direction: Literal["increase", "decrease"] = "increase"
    frequency: Frequency = "monthly"
    disaggregation: list[DisaggregationKey] = []
    owner: str | None = Field(None, description="username of the indicator's owner")
    data_source: Literal["computed", "entered", "imported"] = "computed"
    sensitivity: Annotated[int, Field(ge=0, le=3)] = 1
    formula: dict[str, Any] | None = None

    _periods = field_validator("baseline_period", "target_period")(_period_label)

    @field_validator("disaggregation")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class IndicatorChange(_In):
    """Fields of a draft or active indicator that may change; a formula change is a new definition version."""

    name: Title | None = None
    definition: str | None = None
    unit: Annotated[str, Field(max_length=60)] | None = None
    baseline_value: Decimal | None = None
    baseline_period: str | None = None
    target_value: Decimal | None = None
    target_period: str | None = None
    direction: Literal["increase", "decrease"] | None = None
    owner: str | None = None
    disaggregation: list[DisaggregationKey] | None = None

    _periods = field_validator("baseline_period", "target_period")(_period_label)


class EnteredValueIn(_In):
    period: str
    value: Decimal | None = None
    empty_reason: Annotated[str, Field(max_length=200)] = ""
    disaggregation: dict[str, str] = {}
    comment: Annotated[str, Field(min_length=1, max_length=2000)]

    _period = field_validator("period")(_period_label)


class FollowUpAction(_In):
    action: Annotated[str, Field(min_length=1, max_length=500)]
    owner: Annotated[str, Field(max_length=150)] = ""
    due: dt.date | None = None
    status: Literal["open", "done", "dropped"] = "open"


class AssessmentIn(_In):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    period_start: dt.date
    period_end: dt.date
    findings: str = ""
    recommendations: list[Annotated[str, Field(min_length=1, max_length=2000)]] = []
    follow_up_actions: list[FollowUpAction] = []


class AssessmentDecisionIn(_In):
    leadership_decision: Annotated[str, Field(min_length=1, max_length=5000)]
    follow_up_actions: list[FollowUpAction] | None = None


class NewVersionIn(_In):
    assessment_id: str
    title: Annotated[str, Field(max_length=200)] = ""
