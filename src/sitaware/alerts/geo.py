"""Shapes of an alert's zone from its H3 cells: GeoJSON for the map, CAP polygon or circle. Pure (no Django).

CAP 1.2 polygons are "lat,lon" pairs separated by spaces, first pair repeated last, WGS 84; a zone whose
cells form several separate pieces becomes several <polygon> elements of one <area>. CAP has no holes: a ring
of cells around an empty one is published as its outer outline (the empty middle is covered), which errs on
the side of warning too wide rather than too narrow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import h3

EARTH_RADIUS_KM = 6371.0088
DIGITS = 5  # about 1 m: finer than any cell, short enough for a message


def zone_geojson(cells: Sequence[str]) -> dict[str, Any]:
    """The union of the cells as a GeoJSON Polygon or MultiPolygon ([lon, lat] order)."""
    if not cells:
        raise ValueError("a zone needs at least one cell")
    return dict(h3.cells_to_geo(list(cells)))


def outer_rings(cells: Sequence[str]) -> list[list[tuple[float, float]]]:
    """The outer boundary of each separate piece of the zone, as (lat, lon) rings, closed."""
    shape = h3.cells_to_h3shape(list(cells))
    polys = list(shape.polys) if hasattr(shape, "polys") else [shape]
    rings = []
    for poly in polys:
        ring = [(round(lat, DIGITS), round(lon, DIGITS)) for lat, lon in poly.outer]
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        rings.append(ring)
    return rings


def cap_polygons(cells: Sequence[str]) -> list[str]:
    """CAP <polygon> texts, one per piece of the zone."""
    return [" ".join(f"{lat},{lon}" for lat, lon in ring) for ring in outer_rings(cells)]


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def cap_circle(cells: Sequence[str]) -> str:
    """A CAP <circle> ("lat,lon radius_km") centred on the cells' mean centre and covering every cell."""
    if not cells:
        raise ValueError("a zone needs at least one cell")
    centres = [h3.cell_to_latlng(c) for c in cells]
    lat = sum(p[0] for p in centres) / len(centres)
    lon = sum(p[1] for p in centres) / len(centres)
    corners = [v for c in cells for v in h3.cell_to_boundary(c)]
    radius = max(_haversine_km((lat, lon), v) for v in corners)
    return f"{round(lat, DIGITS)},{round(lon, DIGITS)} {math.ceil(radius * 100) / 100}"
