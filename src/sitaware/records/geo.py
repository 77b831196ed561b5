"""Place helpers for records: H3 cells and bounding boxes. Pure: no Django."""

from __future__ import annotations

import math

import h3

# A coarse cell kept beside the fine one so bbox queries can narrow on an indexed integer column.
COARSE_RESOLUTION = 5


def cells_for(lat: float, lon: float, resolution: int) -> tuple[int, int]:
    """(fine cell, coarse cell) as integers, which index and compare faster than hex strings."""
    fine = h3.latlng_to_cell(lat, lon, resolution)
    coarse = h3.cell_to_parent(fine, COARSE_RESOLUTION)
    return h3.str_to_int(fine), h3.str_to_int(coarse)


# Above this many coarse cells a box is so large that narrowing on them selects little and costs a long IN list.
MAX_COVERING_CELLS = 4000


def coarse_cells_covering(bbox: tuple[float, float, float, float]) -> list[int] | None:
    """The coarse cells (as integers) that every point inside `bbox` falls in, or None for a box too large to
    be worth narrowing. Used only to narrow: the exact latitude/longitude test still applies afterwards.

    The box is widened before asking H3 for overlapping cells, because H3 draws polygon edges as great-circle
    arcs while a bbox's north and south edges are parallels; the sag of an arc over a span of w radians at
    latitude φ is about w²/8 · sin 2φ / 2 radians, and the margin is twice that plus a fixed 0.01°.
    """
    min_lon, min_lat, max_lon, max_lat = bbox
    width = math.radians(max_lon - min_lon)
    worst_lat = math.radians(max(abs(min_lat), abs(max_lat)))
    sag = math.degrees(width * width / 8 * abs(math.sin(2 * worst_lat)) / 2)
    margin = 0.01 + 2 * sag
    south, north = max(-90.0, min_lat - margin), min(90.0, max_lat + margin)
    west, east = max(-180.0, min_lon - margin), min(180.0, max_lon + margin)
    if (east - west) >= 180 or (north - south) >= 90:
        return None
    shape = h3.LatLngPoly([(south, west), (south, east), (north, east), (north, west)])
    cells = h3.h3shape_to_cells_experimental(shape, COARSE_RESOLUTION, contain="overlap")
    if len(cells) > MAX_COVERING_CELLS:
        return None
    return sorted(h3.str_to_int(cell) for cell in cells)


def cell_hex(cell: int | None) -> str | None:
    return h3.int_to_str(cell) if cell is not None else None


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """'min_lon,min_lat,max_lon,max_lat' (the OGC order) into floats, with messages a user can act on."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise ValueError("bbox needs four numbers: min_lon,min_lat,max_lon,max_lat")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise ValueError("bbox values must be numbers: min_lon,min_lat,max_lon,max_lat") from None
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180 and -90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise ValueError("bbox is outside WGS84 bounds (lon -180..180, lat -90..90)")
    if min_lat > max_lat:
        raise ValueError("bbox min_lat is greater than max_lat")
    if min_lon > max_lon:
        raise ValueError("bbox crossing the antimeridian is not supported; split it in two")
    return min_lon, min_lat, max_lon, max_lat
