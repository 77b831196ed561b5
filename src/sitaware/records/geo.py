"""Place helpers for records: H3 cells and bounding boxes. Pure: no Django."""

from __future__ import annotations

import h3

# A coarse cell kept beside the fine one so bbox queries can narrow on an indexed integer column.
COARSE_RESOLUTION = 5


def cells_for(lat: float, lon: float, resolution: int) -> tuple[int, int]:
    """(fine cell, coarse cell) as integers, which index and compare faster than hex strings."""
    fine = h3.latlng_to_cell(lat, lon, resolution)
    coarse = h3.cell_to_parent(fine, COARSE_RESOLUTION)
    return h3.str_to_int(fine), h3.str_to_int(coarse)


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
