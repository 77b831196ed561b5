"""Plan vs. actual from positions alone, so the figures can be recomputed at any time from what was stored.

A planned visit is *made* when the unit's own positions put it within `radius_m` of the cell centre, inside
the visit's window, for at least half the planned dwell; *late* when made but first seen there more than
`late_after_s` after the planned start; *missed* otherwise. Presence is summed over consecutive positions
that are both inside the radius and the window, each gap capped at `max_gap_s`: a unit that reports once at a
place and then goes silent for an hour has not shown it stayed. Deviation is each position's distance to the
planned route (base → cells → base), as a polyline in a local flat projection (fine at patrol distances).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

EARTH_M = 6_371_008.8


@dataclass(frozen=True)
class PlannedVisit:
    key: str  # stable id of the stored visit
    unit_id: str
    cell_id: str
    lat: float
    lon: float
    start: float  # planned start of the visit (epoch seconds)
    dwell_s: float
    window_start: float  # when a presence counts for this visit
    window_end: float


@dataclass(frozen=True)
class Position:
    t: float
    lat: float
    lon: float


@dataclass(frozen=True)
class Params:
    radius_m: float = 250.0
    late_after_s: float = 900.0
    max_gap_s: float = 600.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))


def _to_xy(lat: float, lon: float, lat0: float) -> tuple[float, float]:
    return (math.radians(lon) * math.cos(math.radians(lat0)) * EARTH_M, math.radians(lat) * EARTH_M)


def distance_to_route_m(lat: float, lon: float, route: Sequence[tuple[float, float]]) -> float:
    """Shortest distance from a point to a polyline of (lat, lon) vertices."""
    if not route:
        return math.inf
    if len(route) == 1:
        return distance_m(lat, lon, *route[0])
    px, py = _to_xy(lat, lon, lat)
    best = math.inf
    for (alat, alon), (blat, blon) in itertools.pairwise(route):
        ax, ay = _to_xy(alat, alon, lat)
        bx, by = _to_xy(blat, blon, lat)
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        u = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
        best = min(best, math.hypot(px - (ax + u * dx), py - (ay + u * dy)))
    return best


def visit_outcome(visit: PlannedVisit, track: Sequence[Position], params: Params) -> dict[str, object]:
    inside = [
        (p, distance_m(p.lat, p.lon, visit.lat, visit.lon))
        for p in track if visit.window_start <= p.t <= visit.window_end
    ]
    closest = min((d for _, d in inside), default=None)
    presence = 0.0
    first: float | None = None
    for (a, da), (b, db) in itertools.pairwise(inside):
        if da <= params.radius_m and db <= params.radius_m:
            presence += min(b.t - a.t, params.max_gap_s)
            first = a.t if first is None else first
    made = presence >= visit.dwell_s / 2
    late = made and first is not None and first > visit.start + params.late_after_s
    return {
        "key": visit.key,
        "unit": visit.unit_id,
        "cell": visit.cell_id,
        "status": "late" if late else ("made" if made else "missed"),
        "first_seen": first if made else None,
        "presence_s": round(presence, 1),
        "closest_m": None if closest is None else round(closest, 1),
        "delay_s": round(first - visit.start, 1) if made and first is not None else None,
    }


def plan_vs_actual(
    visits: Sequence[PlannedVisit],
    tracks: Mapping[str, Sequence[Position]],
    routes: Mapping[str, Sequence[tuple[float, float]]],
    params: Params = Params(),
) -> dict[str, object]:
    """Outcome of every planned visit, deviation per unit and the totals; deterministic in its inputs."""
    ordered = {u: sorted(track, key=lambda p: (p.t, p.lat, p.lon)) for u, track in tracks.items()}
    outcomes = [visit_outcome(v, ordered.get(v.unit_id, ()), params) for v in visits]
    deviation: dict[str, dict[str, object]] = {}
    for unit_id, route in sorted(routes.items()):
        track = ordered.get(unit_id, [])
        d = [distance_to_route_m(p.lat, p.lon, route) for p in track]
        deviation[unit_id] = {
            "positions": len(d),
            "mean_m": round(sum(d) / len(d), 1) if d else None,
            "max_m": round(max(d), 1) if d else None,
            "off_route": sum(1 for x in d if x > params.radius_m),
        }
    counts = {s: sum(1 for o in outcomes if o["status"] == s) for s in ("made", "late", "missed")}
    total = len(outcomes)
    return {
        "params": asdict(params),
        "visits": outcomes,
        "deviation": deviation,
        "summary": {**counts, "planned": total,
                    "made_share": round((counts["made"] + counts["late"]) / total, 4) if total else None},
    }
