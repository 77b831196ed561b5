"""Exports: who may export what, for whom, and the CSV and GeoJSON writers.

What leaves the system is what the exporter may see (scope), narrowed by the filter, with the fields they
may not see left empty (Redactor). An export to another organisation also needs an active sharing
agreement from the exporter's organisation to it: only the exporter's own records within the agreement's
sensitivity and statuses go, its redacted fields are emptied, and source identities never leave.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils import timezone

from sitaware.core.choices import Sensitivity
from sitaware.core.models import Organisation, SharingAgreement
from sitaware.core.scope import Actor
from sitaware.records import geo, vocab
from sitaware.records.errors import RecordValidationError
from sitaware.records.importers.csv_records import CASUALTY_COLUMNS, COLUMNS
from sitaware.records.models import Record
from sitaware.records.services import (
    REDACTED,
    SNAPSHOT_FIELDS,
    RecordFilter,
    Redactor,
    filter_records,
    scoped_records,
    serialize,
)

FORMATS = ("csv", "geojson")
EXTENSIONS = {"csv": "csv", "geojson": "geojson"}
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json"}
FILTER_KEYS = tuple(RecordFilter.__dataclass_fields__)
LIST_FILTERS = ("kinds", "categories", "statuses", "sensitivities", "source_types", "units")


# ---------------------------------------------------------------- filters


def _problem(field: str, message: str) -> RecordValidationError:
    return RecordValidationError([{"field": field, "message": message}])


def _when(name: str, value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _problem(f"filters.{name}", f"{text!r} is not a date (YYYY-MM-DD) or a date and time "
                                              "with a time zone (2024-01-31T14:00:00Z)") from None
    if parsed.tzinfo is None:
        raise _problem(f"filters.{name}", "needs a time zone, e.g. 2024-01-31T14:00:00+00:00 or ...Z")
    return parsed


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise _problem(f"filters.{name}", "must be a list of values")
    return tuple(str(v).strip() for v in items if str(v).strip())


def filter_from_dict(raw: dict[str, Any] | None) -> RecordFilter:
    """A RecordFilter from stored or submitted JSON, with messages that say what to fix."""
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(FILTER_KEYS))
    if unknown:
        raise _problem("filters", f"unknown filter(s) {', '.join(unknown)}; use {', '.join(FILTER_KEYS)}")
    flt = RecordFilter()
    bbox = raw.get("bbox")
    if bbox not in (None, "", []):
        text = ",".join(str(v) for v in bbox) if isinstance(bbox, (list, tuple)) else str(bbox)
        try:
            flt.bbox = geo.parse_bbox(text)
        except ValueError as exc:
            raise _problem("filters.bbox", str(exc)) from None
    flt.since = _when("since", raw.get("since"))
    flt.until = _when("until", raw.get("until"))
    if flt.since and flt.until and flt.until <= flt.since:
        raise _problem("filters.until", "is not after since")
    for name in LIST_FILTERS:
        setattr(flt, name, _strings(name, raw.get(name)))
    for kind in flt.kinds:
        if kind not in vocab.KINDS:
            raise _problem("filters.kinds", f"unknown kind {kind!r}; use {', '.join(vocab.KINDS)}")
    for status in flt.statuses:
        if status not in vocab.STATUSES:
            raise _problem("filters.statuses", f"unknown status {status!r}; use {', '.join(vocab.STATUSES)}")
    for source_type in flt.source_types:
        if source_type not in vocab.SOURCE_TYPES:
            raise _problem("filters.source_types", f"unknown source type {source_type!r}")
    try:
        flt.sensitivities = tuple(Sensitivity.parse(v) for v in flt.sensitivities)
    except ValueError as exc:
        raise _problem("filters.sensitivities", str(exc)) from None
    text = raw.get("text") or ""
    if not isinstance(text, str) or len(text) > 200:
        raise _problem("filters.text", "must be text of at most 200 characters")
    flt.text = text.strip()
    return flt


# ---------------------------------------------------------------- who may export what, for whom


@dataclass
class ExportPlan:
    format: str
    filters: RecordFilter
    recipient: str
    purpose: str
    recipient_organisation: Organisation | None
    agreement: SharingAgreement | None

    @property
    def to_other_organisation(self) -> bool:
        return self.recipient_organisation is not None or self.agreement is not None

    def describe(self) -> dict[str, Any]:
        """What the change log keeps about the export."""
        return {
            "format": self.format,
            "filters": self.filters.as_dict(),
            "recipient": self.recipient,
            "recipient_organisation": self.recipient_organisation.code if self.recipient_organisation else None,
            "purpose": self.purpose,
            "agreement": self.agreement.reference if self.agreement else None,
        }


def _active(qs: QuerySet) -> QuerySet:
    now = timezone.now()
    return qs.filter(active=True, valid_from__lte=now).filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))


def plan_export(actor: Actor, *, format: str, filters: dict[str, Any] | None, recipient: str, purpose: str,
                agreement: str | None = None) -> ExportPlan:
    """Check an export request and resolve its recipient and agreement. Raises before anything is written."""
    actor.require("export")
    if actor.organisation_id is None:
        raise PermissionDenied("exports are made for an organisation; this account has none")
    if format not in FORMATS:
        raise _problem("format", f"unknown export format {format!r}; use {' or '.join(FORMATS)}")
    recipient = (recipient or "").strip()
    purpose = (purpose or "").strip()
    if not recipient:
        raise _problem("recipient", "say who the export is for (an organisation code, a unit or a person)")
    if len(recipient) > 200:
        raise _problem("recipient", "at most 200 characters")
    if not purpose:
        raise _problem("purpose", "say what the export is for")
    if len(purpose) > 500:
        raise _problem("purpose", "at most 500 characters")
    flt = filter_from_dict(filters)
    organisation = Organisation.objects.filter(code=recipient).first()
    if organisation is not None and organisation.pk == actor.organisation_id:
        return ExportPlan(format, flt, recipient, purpose, None, None)
    offered = _active(SharingAgreement.objects.filter(provider_id=actor.organisation_id))
    chosen: SharingAgreement | None = None
    if agreement:
        chosen = offered.filter(reference=agreement).first()
        if chosen is None:
            raise _problem("agreement", f"no active sharing agreement {agreement!r} from your organisation")
        if organisation is not None and chosen.recipient_id != organisation.pk:
            raise _problem("agreement", f"agreement {agreement!r} is not with {organisation.code}")
    elif organisation is not None:
        chosen = offered.filter(recipient=organisation).order_by("pk").first()
        if chosen is None:
            raise _problem("agreement", f"exporting to {organisation.code} needs an active sharing agreement "
                                        f"from your organisation to {organisation.code}; there is none")
    return ExportPlan(format, flt, recipient, purpose, organisation, chosen)


def export_queryset(actor: Actor, plan: ExportPlan) -> QuerySet:
    """The records this export may contain, oldest first."""
    qs = filter_records(scoped_records(actor), plan.filters)
    if plan.to_other_organisation:
        # Only what is ours to share: never pass on what another organisation shared with us.
        qs = qs.filter(organisation_id=actor.organisation_id)
    if plan.agreement is not None:
        qs = qs.filter(sensitivity__lte=plan.agreement.max_sensitivity,
                       status__in=list(plan.agreement.statuses or ["published"]))
    return qs.select_related("organisation", "reporting_unit").order_by("occurred_at", "id")


def export_rows(actor: Actor, plan: ExportPlan, records: Iterable[Record]) -> Iterator[dict[str, Any]]:
    """Serialized records with every field the recipient may not have emptied and listed."""
    redactor = Redactor.for_actor(actor)
    withheld: list[str] = []
    if plan.to_other_organisation:
        withheld.extend(vocab.SOURCE_IDENTITY_FIELDS)
    if plan.agreement is not None:
        withheld.extend(f for f in plan.agreement.redacted_fields if f in SNAPSHOT_FIELDS)
    for record in records:
        data = serialize(record, redactor)
        for name in withheld:
            if name not in data["redacted_fields"]:
                data[name] = REDACTED
                data["redacted_fields"].append(name)
        yield data


# ---------------------------------------------------------------- writers


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return str(value)


def csv_row(data: dict[str, Any]) -> list[str]:
    casualties = data.get("casualties")
    out: list[str] = []
    for column in COLUMNS:
        if column.name in CASUALTY_COLUMNS:
            if casualties is None:
                out.append("")
            else:
                group, count = CASUALTY_COLUMNS[column.name]
                out.append(str(casualties.get(group, {}).get(count, 0)))
        elif column.name == "sensitivity" and data.get("sensitivity") is not None:
            out.append(Sensitivity.slug(data["sensitivity"]))
        else:
            out.append(_cell(data.get(column.name)))
    return out


def write_csv(rows: Iterable[dict[str, Any]], handle: IO[str]) -> Iterator[dict[str, Any]]:
    """Header, HXL hashtag row, then one line per record. Yields each row once written (for progress)."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([c.name for c in COLUMNS])
    writer.writerow([c.hxl for c in COLUMNS])
    for data in rows:
        writer.writerow(csv_row(data))
        yield data


def geojson_feature(data: dict[str, Any]) -> dict[str, Any]:
    lat, lon = data.get("latitude"), data.get("longitude")
    geometry = {"type": "Point", "coordinates": [lon, lat]} if lat is not None and lon is not None else None
    properties = {k: v for k, v in data.items() if k not in ("latitude", "longitude")}
    return {"type": "Feature", "id": data["id"], "geometry": geometry, "properties": properties}


def write_geojson(rows: Iterable[dict[str, Any]], handle: IO[str], *,
                  about: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """A FeatureCollection written feature by feature, so a large export never sits in memory whole.
    `about` goes in a foreign member ("export") saying where the file came from."""
    handle.write('{"type": "FeatureCollection",')
    if about:
        handle.write(' "export": ' + json.dumps(about, ensure_ascii=False) + ",")
    handle.write(' "features": [\n')
    first = True
    for data in rows:
        if not first:
            handle.write(",\n")
        handle.write(json.dumps(geojson_feature(data), ensure_ascii=False))
        first = False
        yield data
    handle.write("\n]}\n")


def write(format: str, rows: Iterable[dict[str, Any]], handle: IO[str], *,
          about: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    if format == "csv":
        return write_csv(rows, handle)
    return write_geojson(rows, handle, about=about)
