"""GeoJSON FeatureCollection of Point features whose properties are record fields. Pure: no Django.

Row numbers are feature positions, counting from 1. The geometry gives the place; `latitude` and
`longitude` properties, if any, are ignored so the two cannot disagree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from sitaware.records.importers.base import Importer, ImportFileError, ImportOptions, ParsedRow, check_text
from sitaware.records.importers.csv_records import KNOWN_FIELDS, payload_from_fields


class GeoJsonImporter(Importer):
    format = "geojson"
    label = "a GeoJSON FeatureCollection"

    def __init__(self, path, options: ImportOptions) -> None:
        super().__init__(path, options)
        self._features: list[Any] | None = None
        self._ignored: set[str] = set()

    def _load(self) -> list[Any]:
        if self._features is not None:
            return self._features
        check_text(self.path, self.label)
        try:
            with self.path.open(encoding="utf-8-sig") as handle:
                doc = json.load(handle)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"this is not {self.label}: invalid JSON at line {exc.lineno}, column "
                                  f"{exc.colno} ({exc.msg})") from None
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"this is not {self.label} in UTF-8: {exc.reason}") from None
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
            raise ImportFileError(f"this is not {self.label}: the top-level type is {found!r}, "
                                  "expected \"FeatureCollection\"")
        features = doc.get("features")
        if not isinstance(features, list):
            raise ImportFileError(f"this is not {self.label}: \"features\" must be a list", field="features")
        self._features = features
        return features

    def count(self) -> int:
        return len(self._load())

    def rows(self) -> Iterator[ParsedRow]:
        for index, feature in enumerate(self._load(), start=1):
            yield self._row(index, feature)
        if self._ignored:
            self.notes.append(f"properties not recognised and ignored: {', '.join(sorted(self._ignored))}")

    def _row(self, row: int, feature: Any) -> ParsedRow:
        def bad(field_name: str, message: str) -> ParsedRow:
            return ParsedRow(row, None, [{"row": row, "field": field_name, "message": message}])

        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            return bad("feature", "is not a GeoJSON Feature")
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            return bad("properties", "must be an object of record fields")
        point = _point(feature.get("geometry"))
        if isinstance(point, str):
            return bad("geometry", point)
        self._ignored.update(k for k in properties if k not in KNOWN_FIELDS)
        values = {k: v for k, v in properties.items() if k in KNOWN_FIELDS and k not in ("latitude", "longitude")}
        if "id" not in values and feature.get("id") is not None:
            values["id"] = feature["id"]
        values["longitude"], values["latitude"] = point
        return payload_from_fields(row, values, self.options)


def _point(geometry: Any) -> tuple[float, float] | str:
    """(lon, lat) of a Point, or a message saying what is wrong with it."""
    if not isinstance(geometry, dict):
        return "is missing; give a Point with coordinates [longitude, latitude]"
    if geometry.get("type") != "Point":
        return f"is a {geometry.get('type')!r}; only Point geometries can be records"
    coords = geometry.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        return "a Point needs coordinates [longitude, latitude]"
    lon, lat = coords[0], coords[1]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (lon, lat)):
        return f"coordinates {coords[:2]!r} must be two numbers [longitude, latitude]"
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return (f"coordinates {coords[:2]!r} are outside WGS84 (longitude -180..180, latitude -90..90); "
                "GeoJSON puts longitude first")
    return float(lon), float(lat)
