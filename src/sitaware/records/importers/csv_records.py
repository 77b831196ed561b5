"""Our own CSV layout: one column per record field, an HXL hashtag row second. Pure: no Django.

The same column list drives the exporter, so what we write we can read back. Importing accepts files with
or without the HXL row; a column whose name we do not know is still read when its hashtag is one of ours
(so a partner's HXL-tagged sheet with its own column names imports too).

A column that is absent, or a field the file marks as redacted, is *not given*: a new record gets the
default, an existing one keeps its value. An empty cell of a text column is given, and means empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sitaware.records import vocab
from sitaware.records.importers.base import (
    CsvTable,
    Importer,
    ImportFileError,
    ImportOptions,
    ParsedRow,
    require_columns,
    row_shape_problem,
)


@dataclass(frozen=True)
class Column:
    name: str
    hxl: str
    importable: bool = True


def _casualty_columns() -> list[Column]:
    return [
        Column(f"{group}_{count}", f"#affected+{count}+{group}")
        for group in vocab.CASUALTY_GROUPS
        for count in vocab.CASUALTY_COUNTS
    ]


COLUMNS: tuple[Column, ...] = (
    Column("id", "#meta+id"),
    Column("kind", "#event+kind"),
    Column("category", "#event+type"),
    Column("taxonomy_version", "#meta+taxonomy"),
    Column("title", "#description+title"),
    Column("narrative", "#description+narrative"),
    Column("occurred_at", "#date+occurred"),
    Column("occurred_until", "#date+occurred+end"),
    Column("time_precision", "#date+precision"),
    Column("reported_at", "#date+reported"),
    Column("latitude", "#geo+lat"),
    Column("longitude", "#geo+lon"),
    Column("location_precision", "#geo+precision"),
    Column("admin1", "#adm1+name"),
    Column("admin2", "#adm2+name"),
    Column("place_name", "#loc+name"),
    Column("h3_cell", "#geo+h3", importable=False),
    Column("source_type", "#meta+source+type"),
    Column("source_reliability", "#meta+source+reliability"),
    Column("information_credibility", "#meta+credibility"),
    Column("source_identity", "#meta+source+identity"),
    Column("source_reference", "#meta+source"),
    *_casualty_columns(),
    Column("fatalities", "#affected+killed", importable=False),
    Column("sensitivity", "#meta+sensitivity"),
    Column("status", "#status"),
    Column("organisation", "#org+code", importable=False),
    Column("reporting_unit", "#org+unit"),
    Column("origin_site", "#meta+site", importable=False),
    Column("version", "#meta+version", importable=False),
    Column("external_source", "#meta+external+source"),
    Column("external_id", "#meta+external+id"),
    Column("created_at", "#date+created", importable=False),
    Column("updated_at", "#date+updated", importable=False),
    Column("redacted_fields", "#meta+redacted", importable=False),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
CASUALTY_COLUMNS = {f"{g}_{c}": (g, c) for g in vocab.CASUALTY_GROUPS for c in vocab.CASUALTY_COUNTS}
REQUIRED = ("category", "occurred_at", "latitude", "longitude")
# Given but empty means "" for these, None for NULLABLE; other empty values count as not given.
TEXT_FIELDS = frozenset({"title", "narrative", "admin1", "admin2", "place_name", "source_identity",
                         "source_reference", "external_source", "external_id"})
NULLABLE_FIELDS = frozenset({"occurred_until"})
# Read by the exporter for information only: derived, or set by the receiving system.
READ_ONLY = frozenset(c.name for c in COLUMNS if not c.importable)
KNOWN_FIELDS = frozenset(COLUMN_NAMES) | {"casualties"}


def normalise_hxl(tag: str) -> str:
    """HXL compares a hashtag's attributes as a set, case-insensitively: '#geo +LAT' == '#geo+lat'."""
    parts = [p.strip().lower() for p in tag.replace(" ", "").split("+")]
    if not parts or not parts[0].startswith("#"):
        return ""
    return "+".join([parts[0], *sorted(p for p in parts[1:] if p)])


COLUMN_BY_HXL = {normalise_hxl(c.hxl): c.name for c in COLUMNS}


def split_redacted(value: Any) -> set[str]:
    if isinstance(value, list):
        return {str(v) for v in value}
    return {part.strip() for part in str(value or "").split(";") if part.strip()}


def payload_from_fields(row: int, values: Mapping[str, Any], options: ImportOptions) -> ParsedRow:
    """Turn one row's field values (CSV strings or GeoJSON values) into a record payload."""
    problems: list[dict[str, Any]] = []
    redacted = split_redacted(values.get("redacted_fields"))
    payload: dict[str, Any] = {}
    for name, value in values.items():
        if name in READ_ONLY or name in CASUALTY_COLUMNS or name == "casualties" or name in redacted:
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            if name in TEXT_FIELDS:
                payload[name] = ""
            elif name in NULLABLE_FIELDS:
                payload[name] = None
            continue
        payload[name] = value.strip() if isinstance(value, str) else value
    casualties = _casualties(row, values, problems)
    if casualties is not None and "casualties" not in redacted:
        payload["casualties"] = casualties
    taxonomy = options.taxonomy
    payload.setdefault("taxonomy_version", taxonomy.key)
    if "kind" not in payload and "category" in payload and payload["taxonomy_version"] == taxonomy.key:
        category = taxonomy.get(str(payload["category"]))
        if category is None:
            problems.append({"row": row, "field": "category",
                             "message": f"{payload['category']!r} is not a category of {taxonomy.key}"})
        else:
            payload["kind"] = category.kind
    _apply_options(payload, options)
    if problems:
        return ParsedRow(row, None, problems)
    return ParsedRow(row, payload)


def _casualties(row: int, values: Mapping[str, Any], problems: list[dict[str, Any]]) -> dict | None:
    nested = values.get("casualties")
    if isinstance(nested, dict):
        return nested
    if nested not in (None, ""):
        problems.append({"row": row, "field": "casualties",
                         "message": "must be an object like {\"civilians\": {\"killed\": 2}}"})
        return None
    out: dict[str, dict[str, int]] = {}
    seen = False
    for column, (group, count) in CASUALTY_COLUMNS.items():
        if column not in values:
            continue
        seen = True
        raw = values[column]
        text = str(raw).strip() if raw is not None else ""
        if not text:
            continue
        try:
            number = int(text)
        except ValueError:
            problems.append({"row": row, "field": column, "message": f"{text!r} is not a whole number"})
            continue
        if number < 0:
            problems.append({"row": row, "field": column, "message": f"{number} is below 0"})
            continue
        out.setdefault(group, {})[count] = number
    return out if seen else None


def _apply_options(payload: dict[str, Any], options: ImportOptions) -> None:
    if options.sensitivity is not None:
        payload.setdefault("sensitivity", options.sensitivity)
    if options.status is not None:
        payload.setdefault("status", options.status)
    if options.reporting_unit is not None:
        payload.setdefault("reporting_unit", options.reporting_unit)


class CsvRecordsImporter(Importer):
    format = "csv"
    label = "a sitaware CSV file"

    def __init__(self, path, options: ImportOptions) -> None:
        super().__init__(path, options)
        self._table = CsvTable(self.path)

    def count(self) -> int:
        return self._table.count(self.label)

    def _mapping(self) -> list[str | None]:
        """The field each column holds (None: ignored), by column name first, then by hashtag."""
        header, hxl = self._table.header, self._table.hxl
        fields: list[str | None] = []
        ignored: list[str] = []
        for index, name in enumerate(header):
            field_name = name if name in COLUMN_NAMES else None
            if field_name is None and index < len(hxl):
                field_name = COLUMN_BY_HXL.get(normalise_hxl(hxl[index]))
            if field_name is None and name:
                ignored.append(name)
            fields.append(field_name)
        taken = [f for f in fields if f]
        doubled = sorted({f for f in taken if taken.count(f) > 1})
        if doubled:
            raise ImportFileError(f"more than one column gives {', '.join(doubled)}; keep one of each",
                                  field="header", row=1)
        require_columns(set(taken), REQUIRED, self.label)
        if ignored:
            self.notes.append(f"columns not recognised and ignored: {', '.join(ignored)}")
        return fields

    def rows(self) -> Iterator[ParsedRow]:
        records = self._table.open(self.label)
        fields: list[str | None] | None = None
        for number, cells, error in records:
            if fields is None:
                fields = self._mapping()
            if cells is None:
                yield ParsedRow(number, None, [{"row": number, "field": "row", "message": error}])
                continue
            shape = row_shape_problem(number, cells, self._table.header)
            if shape:
                yield ParsedRow(number, None, [shape])
                continue
            values = {f: cells[i] for i, f in enumerate(fields) if f}
            yield payload_from_fields(number, values, self.options)
        if fields is None:
            # A header with no rows: still check it, so a wrong file is not reported as a clean, empty import.
            self._mapping()
