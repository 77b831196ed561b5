"""The boundary shape of a record: what a client, an importer or a form may send. Pure: no Django.

Validation failures name the field and say what to fix. Taxonomy membership is checked by the
services (it needs the registry), everything else here.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from sitaware.records import vocab

Kind = Literal["incident", "event", "activity"]
Status = Literal["draft", "in_review", "verified", "published", "archived"]
TimePrecision = Literal["exact", "hour", "day", "week", "month", "year"]
LocationPrecision = Literal["exact", "near", "admin2", "admin1", "region", "country"]
SourceType = Literal[
    "field_report", "patrol_report", "host_state_police", "un_component", "partner", "ngo",
    "community", "hotline", "media", "social_media", "sensor", "dataset", "other",
]
Reliability = Literal["A", "B", "C", "D", "E", "F"]
Count = Annotated[int, Field(ge=0, le=100_000)]
ShortText = Annotated[str, Field(max_length=200)]

NARRATIVE_MAX = 20_000


class CasualtyCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    killed: Count = 0
    injured: Count = 0
    missing: Count = 0


class Casualties(BaseModel):
    """Counts by group, never names."""

    model_config = ConfigDict(extra="forbid")
    civilians: CasualtyCounts = CasualtyCounts()
    security_forces: CasualtyCounts = CasualtyCounts()
    un_personnel: CasualtyCounts = CasualtyCounts()
    armed_groups: CasualtyCounts = CasualtyCounts()
    unknown: CasualtyCounts = CasualtyCounts()

    def total(self, count: str) -> int:
        return sum(getattr(getattr(self, group), count) for group in vocab.CASUALTY_GROUPS)

    def compact(self) -> dict[str, dict[str, int]]:
        """Only non-zero counts, so stored snapshots stay small."""
        out: dict[str, dict[str, int]] = {}
        for group in vocab.CASUALTY_GROUPS:
            counts = {k: v for k, v in getattr(self, group).model_dump().items() if v}
            if counts:
                out[group] = counts
        return out


def _sensitivity(value: object) -> int:
    names = {"public": 0, "restricted": 1, "confidential": 2, "strictly_confidential": 3}
    if isinstance(value, bool):
        raise ValueError("sensitivity must be a level name or 0-3")
    if isinstance(value, int) and 0 <= value <= 3:
        return value
    text = str(value).strip().lower().replace(" ", "_")
    if text in names:
        return names[text]
    if text.isdigit() and 0 <= int(text) <= 3:
        return int(text)
    raise ValueError("sensitivity must be one of public, restricted, confidential, strictly_confidential")


class RecordFields(BaseModel):
    """Editable fields shared by create and update."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: ShortText = ""
    narrative: str = Field("", max_length=NARRATIVE_MAX)
    occurred_until: AwareDatetime | None = None
    time_precision: TimePrecision = "day"
    reported_at: AwareDatetime | None = None
    location_precision: LocationPrecision = "exact"
    admin1: ShortText = ""
    admin2: ShortText = ""
    place_name: ShortText = ""
    source_type: SourceType = "field_report"
    source_reliability: Reliability = "F"
    information_credibility: int = Field(6, ge=1, le=6)
    source_identity: ShortText = ""
    source_reference: str = Field("", max_length=1000)
    casualties: Casualties = Casualties()
    sensitivity: int = 1

    @field_validator("sensitivity", mode="before")
    @classmethod
    def _parse_sensitivity(cls, value: object) -> int:
        return _sensitivity(value)

    @field_validator("source_reliability", mode="before")
    @classmethod
    def _upper_reliability(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class RecordCreate(RecordFields):
    """A new record. Every record has a kind, a category and the taxonomy version it was coded with."""

    id: UUID | None = Field(None, description="Made by the client where the record is first written.")
    kind: Kind
    category: str = Field(..., min_length=1, max_length=120)
    taxonomy_version: str = Field(..., min_length=3, max_length=60, description="e.g. sitaware-default@1.0")
    occurred_at: AwareDatetime
    latitude: float = Field(..., ge=-90, le=90)
    longitude: float = Field(..., ge=-180, le=180)
    reporting_unit: str | None = Field(None, description="Unit code; defaults to the author's unit.")
    status: Status = "draft"
    external_source: str = Field("", max_length=40)
    external_id: str = Field("", max_length=120)

    @field_validator("latitude", "longitude")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> RecordCreate:
        if self.latitude == 0 and self.longitude == 0:
            raise ValueError("latitude 0, longitude 0 is almost always a missing location; give the real one")
        if self.occurred_until is not None and self.occurred_until < self.occurred_at:
            raise ValueError("occurred_until is before occurred_at")
        now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
        if self.occurred_at > now:
            raise ValueError("occurred_at is in the future")
        if self.external_id and not self.external_source:
            raise ValueError("external_id needs external_source (the system the id comes from)")
        return self


class RecordUpdate(BaseModel):
    """A partial change. `base_version` is the version the editor saw; a stale one is a conflict."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    base_version: int = Field(..., ge=1)
    reason: str = Field("", max_length=1000)
    kind: Kind | None = None
    category: str | None = Field(None, min_length=1, max_length=120)
    taxonomy_version: str | None = Field(None, min_length=3, max_length=60)
    occurred_at: AwareDatetime | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    title: ShortText | None = None
    narrative: str | None = Field(None, max_length=NARRATIVE_MAX)
    occurred_until: AwareDatetime | None = None
    time_precision: TimePrecision | None = None
    reported_at: AwareDatetime | None = None
    location_precision: LocationPrecision | None = None
    admin1: ShortText | None = None
    admin2: ShortText | None = None
    place_name: ShortText | None = None
    source_type: SourceType | None = None
    source_reliability: Reliability | None = None
    information_credibility: int | None = Field(None, ge=1, le=6)
    source_identity: ShortText | None = None
    source_reference: str | None = Field(None, max_length=1000)
    casualties: Casualties | None = None
    sensitivity: int | None = None

    @field_validator("sensitivity", mode="before")
    @classmethod
    def _parse_sensitivity(cls, value: object) -> int | None:
        return None if value is None else _sensitivity(value)

    def changes(self) -> dict:
        return self.model_dump(exclude_unset=True, exclude={"base_version", "reason"})
