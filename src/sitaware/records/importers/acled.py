"""ACLED CSV, as a user downloads it from the ACLED data export tool or API. Pure: no Django.

Mapping (ACLED codebook 2023):
- sub_event_type → the taxonomy category carrying that ACLED label. The few codebook sub-event types the
  taxonomy does not split out (e.g. "Arrests") go to their event type's category; anything else is refused.
- time_precision and geo_precision through `vocab`'s ACLED maps; event_date at 00:00 UTC.
- fatalities → civilians killed for violence against civilians, otherwise unknown killed (ACLED does not
  say whose); `timestamp` (when ACLED last changed the row) → reported_at.
- event_id_cnty is the external id, so importing a newer download updates the events already imported.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sitaware.records import vocab
from sitaware.records.importers.base import (
    FixedColumnsCsvImporter,
    ParsedRow,
    RowReader,
    parse_day,
    utc_midnight,
)
from sitaware.records.schema import NARRATIVE_MAX
from sitaware.records.taxonomy import Category, Taxonomy

EXTERNAL_SOURCE = "acled"
REQUIRED = ("event_id_cnty", "event_date", "time_precision", "event_type", "sub_event_type", "latitude",
            "longitude", "geo_precision", "fatalities")
DATE_FORMATS = ("%d %B %Y", "%d-%B-%Y", "%d %b %Y")
# The codebook's event types and their sub-event types.
ACLED_EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "Battles": ("Government regains territory", "Non-state actor overtakes territory", "Armed clash"),
    "Explosions/Remote violence": ("Chemical weapon", "Air/drone strike", "Suicide bomb",
                                   "Shelling/artillery/missile attack", "Remote explosive/landmine/IED", "Grenade"),
    "Violence against civilians": ("Sexual violence", "Attack", "Abduction/forced disappearance"),
    "Protests": ("Peaceful protest", "Protest with intervention", "Excessive force against protesters"),
    "Riots": ("Violent demonstration", "Mob violence"),
    "Strategic developments": ("Agreement", "Arrests", "Change to group/activity", "Disrupted weapons use",
                               "Headquarters or base established", "Looting/property destruction",
                               "Non-violent transfer of territory", "Other"),
}
CIVILIAN_EVENT_TYPE = "violence against civilians"


def acled_category(taxonomy: Taxonomy, event_type: str, sub_event_type: str) -> Category | tuple[str, str]:
    """The category for an ACLED event, or (field, message) saying why there is none."""
    known = {name.lower(): name for name in ACLED_EVENT_TYPES}
    canonical = known.get(event_type.strip().lower())
    if canonical is None:
        return "event_type", f"{event_type!r} is not an ACLED event type; expected one of {', '.join(known.values())}"
    subtypes = {s.lower() for s in ACLED_EVENT_TYPES[canonical]}
    if sub_event_type.strip().lower() not in subtypes:
        return "sub_event_type", (f"{sub_event_type!r} is not an ACLED sub-event type of {canonical!r}; expected "
                                  f"one of {', '.join(ACLED_EVENT_TYPES[canonical])}")
    found = taxonomy.by_acled_label(sub_event_type) or taxonomy.by_acled_label(canonical)
    if found is None:
        return "sub_event_type", f"taxonomy {taxonomy.key} has no category for {canonical!r} / {sub_event_type!r}"
    return found


class AcledImporter(FixedColumnsCsvImporter):
    format = "acled"
    label = "an ACLED CSV file"
    required_columns = REQUIRED

    def _row(self, r: RowReader) -> ParsedRow:
        event_id = r.required("event_id_cnty")
        raw_date = r.required("event_date")
        day = parse_day(raw_date, DATE_FORMATS) if raw_date else None
        if raw_date and day is None:
            r.problem("event_date", f"{raw_date!r} is not a date; expected YYYY-MM-DD or e.g. 15 January 2023")
        time_precision = _coded(r, "time_precision", vocab.ACLED_TIME_PRECISION)
        geo_precision = _coded(r, "geo_precision", vocab.ACLED_GEO_PRECISION)
        place = r.coordinates()
        fatalities = r.integer("fatalities", minimum=0)
        reported_at = _timestamp(r)
        event_type, sub_event_type = r.required("event_type"), r.required("sub_event_type")
        category: Category | None = None
        if event_type and sub_event_type:
            found = acled_category(self.options.taxonomy, event_type, sub_event_type)
            if isinstance(found, tuple):
                r.problem(*found)
            else:
                category = found
        if r.problems:
            return ParsedRow(r.row, None, r.problems)
        assert day and place and category and fatalities is not None and time_precision and geo_precision
        lat, lon = place
        actors = " - ".join(a for a in (r.text("actor1"), r.text("actor2")) if a)
        group = "civilians" if event_type.strip().lower() == CIVILIAN_EVENT_TYPE else "unknown"
        source = r.text("source")
        scale = r.text("source_scale")
        payload: dict[str, Any] = {
            "kind": category.kind,
            "category": category.code,
            "taxonomy_version": self.options.taxonomy.key,
            "title": f"{sub_event_type}: {actors}"[:200] if actors else sub_event_type[:200],
            "narrative": r.text("notes")[:NARRATIVE_MAX],
            "occurred_at": utc_midnight(day),
            "time_precision": time_precision,
            "reported_at": reported_at or utc_midnight(day),
            "latitude": lat,
            "longitude": lon,
            "location_precision": geo_precision,
            "admin1": r.text("admin1", 200),
            "admin2": r.text("admin2", 200),
            "place_name": r.text("location", 200),
            "source_type": "dataset",
            "source_reference": (f"{source} ({scale})" if source and scale else source)[:1000],
            "casualties": {group: {"killed": fatalities}},
            "sensitivity": self.options.sensitivity if self.options.sensitivity is not None else 0,
            "external_source": EXTERNAL_SOURCE,
            "external_id": event_id,
        }
        if self.options.status is not None:
            payload["status"] = self.options.status
        if self.options.reporting_unit is not None:
            payload["reporting_unit"] = self.options.reporting_unit
        return ParsedRow(r.row, payload)


def _coded(r: RowReader, name: str, codes: dict[int, str]) -> str | None:
    value = r.integer(name)
    if value is None:
        return None
    if value not in codes:
        r.problem(name, f"{value} is not an ACLED {name}; expected {', '.join(map(str, codes))}")
        return None
    return codes[value]


def _timestamp(r: RowReader) -> dt.datetime | None:
    if not r.text("timestamp"):
        return None
    seconds = r.integer("timestamp", minimum=0)
    if seconds is None:
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        r.problem("timestamp", f"{seconds} is not a Unix time in seconds")
        return None
