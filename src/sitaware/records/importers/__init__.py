"""File importers: one module per format, all yielding record payloads row by row. Pure: no Django."""

from __future__ import annotations

from sitaware.records.importers.acled import AcledImporter
from sitaware.records.importers.base import Importer, ImportFileError, ImportOptions, ParsedRow
from sitaware.records.importers.csv_records import CsvRecordsImporter
from sitaware.records.importers.geojson import GeoJsonImporter
from sitaware.records.importers.ucdp_ged import UcdpGedImporter

IMPORTERS: dict[str, type[Importer]] = {
    cls.format: cls for cls in (CsvRecordsImporter, GeoJsonImporter, UcdpGedImporter, AcledImporter)
}
FORMATS = tuple(IMPORTERS)

__all__ = ["FORMATS", "IMPORTERS", "ImportFileError", "ImportOptions", "Importer", "ParsedRow"]
