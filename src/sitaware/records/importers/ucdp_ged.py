"""UCDP Georeferenced Event Dataset (GED) CSV. Pure: no Django.

Mapping (UCDP GED codebook 23.1):
- type_of_violence 1 (state-based) and 2 (non-state) → armed clash; 3 (one-sided) → attack on civilians.
- date_prec and where_prec through `vocab`'s UCDP maps. Extracts without date_prec get it from the
  date_start..date_end span, by the codebook's own rule (same day; within 6 days; a week; a month; longer).
- deaths_civilians → civilians killed; the rest of `best` (the best estimate of all deaths) → unknown killed,
  since this extract has no deaths_a / deaths_b split.
- The UCDP event id is the external id, so importing a file again updates instead of duplicating.
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

EXTERNAL_SOURCE = "ucdp-ged"
REQUIRED = ("id", "date_start", "date_end", "type_of_violence", "where_prec", "latitude", "longitude", "best")
VIOLENCE = {
    1: ("conflict.battles.armed_clash", "State-based conflict"),
    2: ("conflict.battles.armed_clash", "Non-state conflict"),
    3: ("conflict.violence_against_civilians.attack", "One-sided violence"),
}


def date_precision(start: dt.date, end: dt.date) -> int:
    """UCDP date_prec from the span: 1 one day, 2 within 2-6 days, 3 a week, 4 a month, 5 longer."""
    span = (end - start).days
    if span <= 0:
        return 1
    if span <= 5:
        return 2
    if span == 6:
        return 3
    if span <= 30:
        return 4
    return 5


class UcdpGedImporter(FixedColumnsCsvImporter):
    format = "ucdp"
    label = "a UCDP GED CSV file"
    required_columns = REQUIRED

    def _row(self, r: RowReader) -> ParsedRow:
        ucdp_id = r.required("id")
        start = _day(r, "date_start")
        end = _day(r, "date_end")
        if start and end and end < start:
            r.problem("date_end", f"{end} is before date_start {start}")
        precision = self._date_precision(r, start, end)
        violence = r.integer("type_of_violence")
        if violence is not None and violence not in VIOLENCE:
            r.problem("type_of_violence", f"{violence} is not a UCDP type of violence; expected 1, 2 or 3")
        where = r.integer("where_prec")
        if where is not None and where not in vocab.UCDP_WHERE_PRECISION:
            r.problem("where_prec", f"{where} is not a UCDP where_prec; expected 1 to 7")
        place = r.coordinates()
        best = r.integer("best", minimum=0)
        civilians = r.integer("deaths_civilians", default=0, minimum=0) if "deaths_civilians" in r.cells else 0
        if best is not None and civilians is not None and civilians > best:
            r.problem("deaths_civilians", f"{civilians} is more than the best estimate of all deaths ({best})")
        category = None
        if violence in VIOLENCE:
            code, _ = VIOLENCE[violence]
            category = self.options.taxonomy.get(code)
            if category is None:
                r.problem("type_of_violence", f"taxonomy {self.options.taxonomy.key} has no category {code}")
        if r.problems:
            return ParsedRow(r.row, None, r.problems)
        assert start and end and place and category and best is not None and civilians is not None
        lat, lon = place
        _, violence_label = VIOLENCE[violence]
        dyad = r.text("dyad_name")
        narrative = "\n\n".join(p for p in (r.text("where_description"), r.text("source_headline")) if p)
        payload: dict[str, Any] = {
            "kind": category.kind,
            "category": category.code,
            "taxonomy_version": self.options.taxonomy.key,
            "title": f"{violence_label}: {dyad}"[:200] if dyad else violence_label,
            "narrative": narrative[:NARRATIVE_MAX],
            "occurred_at": utc_midnight(start),
            "occurred_until": utc_midnight(end) if end > start else None,
            "time_precision": vocab.UCDP_DATE_PRECISION[precision],
            # GED carries no report date; the end of the event window is the earliest it can have been known.
            "reported_at": utc_midnight(end),
            "latitude": lat,
            "longitude": lon,
            "location_precision": vocab.UCDP_WHERE_PRECISION[where],
            "admin1": r.text("adm_1", 200),
            "admin2": r.text("adm_2", 200),
            "place_name": r.text("where_coordinates", 200),
            "source_type": "dataset",
            "source_reference": r.text("source_article", 1000),
            "casualties": {"civilians": {"killed": civilians}, "unknown": {"killed": best - civilians}},
            "sensitivity": self.options.sensitivity if self.options.sensitivity is not None else 0,
            "external_source": EXTERNAL_SOURCE,
            "external_id": ucdp_id,
        }
        if self.options.status is not None:
            payload["status"] = self.options.status
        if self.options.reporting_unit is not None:
            payload["reporting_unit"] = self.options.reporting_unit
        return ParsedRow(r.row, payload)

    def _date_precision(self, r: RowReader, start: dt.date | None, end: dt.date | None) -> int:
        if r.text("date_prec"):
            given = r.integer("date_prec")
            if given in vocab.UCDP_DATE_PRECISION:
                return given
            if given is not None:
                r.problem("date_prec", f"{given} is not a UCDP date_prec; expected 1 to 5")
            return 1
        return date_precision(start, end) if start and end else 1


def _day(r: RowReader, name: str) -> dt.date | None:
    raw = r.required(name)
    if not raw:
        return None
    day = parse_day(raw, ())
    if day is None:
        r.problem(name, f"{raw!r} is not a date; expected YYYY-MM-DD")
    return day
