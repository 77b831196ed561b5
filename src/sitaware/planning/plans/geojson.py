"""GeoJSON (RFC 7946) for a plan: per unit a LineString of its route, a Point per visit and one for its base.

Coordinates are [longitude, latitude] as RFC 7946 requires (the opposite of the rest of the code base).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def feature(geometry: dict[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": dict(properties)}


def point(lat: float, lon: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}


def line(points: Sequence[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [[round(lon, 7), round(lat, 7)] for lat, lon in points]}


def collection(features: Sequence[dict[str, Any]], **members: Any) -> dict[str, Any]:
    # Foreign members (RFC 7946 §6.1) carry the plan's id and status alongside the features.
    return {"type": "FeatureCollection", **members, "features": list(features)}
