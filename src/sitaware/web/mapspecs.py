"""What the recommendation pages hand to `static/web/mapkit.js`: the offline basemap plus the page's layers.

Presentation only: the facts come from the owning apps' services (an alert's output, a risk map, a plan's GeoJSON
export); this module picks what the map needs and nothing more (H3 ids rather than polygons, compact rows, caps),
and the MapLibre styles that draw it. Every fact drawn is also in the page's text or tables.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

# The most risk-map cells sent to a page (the highest expected counts); the rest are listed as not drawn. The map
# page's own cap (services.MAX_CELLS) is the same order: 5,000 hexagons draw smoothly in software WebGL.
RISK_CELLS_MAX = 5000
# Positions per patrol unit sent for its trail; longer tracks are thinned evenly (first and last kept).
TRAIL_MAX = 1000
UNIT_COLOURS = ("#1f6fb2", "#c0392b", "#2e8b57", "#8e44ad", "#b36b00", "#117a8b", "#6d4c41", "#d81b60")
# Expected-count scale of the risk map (shared with the legend in the template).
RISK_COLOURS = ("#fff3c4", "#fdbf6f", "#f08a4b", "#d7301f", "#7f0000")


def basemap() -> dict[str, Any]:
    """The basemap config the map page uses (static/web/basemap.js reads it: GeoJSON, or the mission's tiles)."""
    from sitaware.web import views

    if hasattr(views, "basemap_config"):
        return views.basemap_config()
    return {"type": "geojson", "url": views.basemap_url(), "attribution": "Natural Earth (world-atlas)"}


def base(spec: dict[str, Any]) -> dict[str, Any]:
    return {"basemap": basemap(), "view": list(getattr(settings, "SITAWARE_MAP_VIEW", (20.0, 5.0, 4.0))),
            "noWebgl": _("This browser cannot draw the map (WebGL is off); the same facts are in the text and "
                         "tables on this page."), **spec}


# ---------------------------------------------------------------- alert zone (review queue)


def alert_zone(output: dict[str, Any]) -> dict[str, Any] | None:
    """The zone of an early-warning alert: its H3 cells, highlighted. None when the output has no cells."""
    cells = [c for c in output.get("cells") or [] if isinstance(c, str)]
    if not cells:
        return None
    return base({
        "sources": {"zone": {"cells": [[c] for c in cells], "fields": ["cell"]}},
        "layers": [
            {"id": "zone-fill", "type": "fill", "source": "zone",
             "paint": {"fill-color": "#d7301f", "fill-opacity": 0.45}},
            {"id": "zone-line", "type": "line", "source": "zone", "paint": {"line-color": "#7f0000", "line-width": 2}},
        ],
    })


# ---------------------------------------------------------------- risk map


def risk_breaks(top_expected: float) -> list[float]:
    """Four class breaks of the expected count (square-root spaced: counts are skewed), for map and legend."""
    top = max(top_expected, 1e-9)
    return [round(top * (k / 5) ** 2, 4) for k in range(1, 5)]


def risk_map(cells: list[dict[str, Any]], patrol: list[str], exploration: list[str]) -> tuple[dict[str, Any], int]:
    """(spec, cells left out). Rows [cell, expected, lower, upper, role]; role 1 = patrol, 2 = exploration."""
    ranked = sorted(cells, key=lambda c: (-float(c.get("expected") or 0), c["cell"]))
    shown = ranked[:RISK_CELLS_MAX]
    listed = {c["cell"] for c in shown}
    roles = {**dict.fromkeys(exploration, 2), **dict.fromkeys(patrol, 1)}
    # Patrol and exploration cells are drawn even when they have no expectation (exploration draws at random).
    rows = [[c["cell"], c.get("expected", 0), c.get("lower", 0), c.get("upper", 0), roles.get(c["cell"], 0)]
            for c in shown]
    rows += [[cell, 0, 0, 0, role] for cell, role in roles.items() if cell not in listed]
    breaks = risk_breaks(float(ranked[0]["expected"]) if ranked else 0.0)
    colour = ["step", ["get", "expected"], RISK_COLOURS[0]]
    for value, col in zip(breaks, RISK_COLOURS[1:], strict=True):
        colour += [value, col]
    spec = base({
        "sources": {"risk": {"cells": rows, "fields": ["cell", "expected", "lower", "upper", "role"]}},
        "layers": [
            {"id": "risk-fill", "type": "fill", "source": "risk",
             "paint": {"fill-color": colour, "fill-opacity": 0.75}},
            {"id": "patrol-line", "type": "line", "source": "risk", "filter": ["==", ["get", "role"], 1],
             "paint": {"line-color": "#111111", "line-width": 2.5}},
            {"id": "explore-line", "type": "line", "source": "risk", "filter": ["==", ["get", "role"], 2],
             "paint": {"line-color": "#1f6fb2", "line-width": 2.5, "line-dasharray": [2, 1]}},
        ],
        "breaks": breaks,
    })
    return spec, max(0, len(ranked) - len(shown))


# ---------------------------------------------------------------- patrol plan


def _thin(points: list[list[float]], limit: int) -> list[list[float]]:
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def unit_colours(unit_ids: list[str]) -> dict[str, str]:
    return {u: UNIT_COLOURS[i % len(UNIT_COLOURS)] for i, u in enumerate(unit_ids)}


def plan(geojson: dict[str, Any], cells: list[dict[str, Any]], decisions: dict[str, Any],
         outcomes: dict[tuple[str, int], str], trails: dict[str, list[list[float]]],
         colours: dict[str, str]) -> dict[str, Any]:
    """Routes, bases and visits from the plan's GeoJSON export; candidate cells covered or not; the trail of
    positions per unit when tracked. `outcomes` maps (unit, order) to made / late / missed."""
    import h3

    features = []
    for f in geojson["features"]:
        props = dict(f["properties"])
        props["colour"] = colours.get(props.get("unit"), "#555555")
        if props.get("kind") == "visit":
            props["outcome"] = outcomes.get((props["unit"], props["order"] - 1), "")
        features.append({**f, "properties": props})
    for unit, points in trails.items():
        if len(points) >= 2:
            features.append({"type": "Feature", "geometry": {"type": "LineString",
                                                             "coordinates": _thin(points, TRAIL_MAX)},
                             "properties": {"kind": "trail", "unit": unit, "colour": colours.get(unit, "#555555")}})
    hexes = [[c["id"], 1 if (decisions.get(c["id"]) or {}).get("planned") else 0] for c in cells
             if isinstance(c.get("id"), str) and h3.is_valid_cell(c["id"])]
    visit_colour = ["match", ["get", "outcome"], "made", "#2e8b57", "late", "#b36b00", "missed", "#c0392b",
                    ["get", "colour"]]
    return base({
        "sources": {"cells": {"cells": hexes, "fields": ["cell", "planned"]},
                    "plan": {"type": "FeatureCollection", "features": features}},
        "layers": [
            {"id": "cells-fill", "type": "fill", "source": "cells",
             "paint": {"fill-color": ["match", ["get", "planned"], 1, "#7fbf7b", "#bbbbbb"], "fill-opacity": 0.35}},
            {"id": "cells-line", "type": "line", "source": "cells",
             "paint": {"line-color": ["match", ["get", "planned"], 1, "#2e7d32", "#888888"], "line-width": 1}},
            {"id": "trail", "type": "line", "source": "plan", "filter": ["==", ["get", "kind"], "trail"],
             "paint": {"line-color": ["get", "colour"], "line-width": 2, "line-dasharray": [1, 1.5]}},
            {"id": "route", "type": "line", "source": "plan", "filter": ["==", ["get", "kind"], "route"],
             "paint": {"line-color": ["get", "colour"], "line-width": 3}},
            {"id": "base", "type": "circle", "source": "plan", "filter": ["==", ["get", "kind"], "base"],
             "paint": {"circle-radius": 7, "circle-color": "#ffffff", "circle-stroke-color": ["get", "colour"],
                       "circle-stroke-width": 3}},
            {"id": "visit", "type": "circle", "source": "plan", "filter": ["==", ["get", "kind"], "visit"],
             "paint": {"circle-radius": 6, "circle-color": visit_colour, "circle-stroke-color": "#ffffff",
                       "circle-stroke-width": 1.5}},
        ],
    })
