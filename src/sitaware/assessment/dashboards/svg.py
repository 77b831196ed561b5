"""Charts drawn as SVG on the server. Pure: no Django; text comes in already translated.

Why server-side SVG rather than a chart library: the pages stay light (no script to load, nothing to run on a
slow field laptop), work without JavaScript, print and screenshot as they are shown, and every mark can be a
plain link to its drill-down. Drawings are decoration for sighted mouse users (`aria-hidden`, links out of the
tab order); the numbers and their links are always also in an HTML table beside the drawing, which is what
keyboards and screen readers use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# Colour-blind-safe series colours (Okabe-Ito) and the traffic lights.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
LIGHT_COLOURS = {"green": "#1a7f37", "amber": "#b7791f", "red": "#c0392b", "grey": "#8a8a8a"}


@dataclass(frozen=True)
class Point:
    label: str  # the period
    value: float | None
    href: str = ""
    title: str = ""  # tooltip text


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[Point]


def _a(href: str, inner: str, title: str) -> str:
    tip = f"<title>{escape(title)}</title>" if title else ""
    if not href:
        return f"<g>{tip}{inner}</g>"
    return f'<a href="{escape(href)}" tabindex="-1">{tip}{inner}</a>'


def _fmt(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _ticks(high: float, low: float = 0.0, steps: int = 4) -> list[float]:
    """Round axis steps (1, 2 or 5 times a power of ten), about `steps` of them, covering [low, high]."""
    span = (high - low) or 1.0
    raw = span / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    count = max(1, math.ceil((high - first) / step - 1e-9))
    return [first + step * i for i in range(count + 1)]


def sparkline(values: Sequence[float | None], width: int = 120, height: int = 28, colour: str = "#0b5cad") -> str:
    """A small trend line; gaps where there is no value; the last point marked."""
    known = [v for v in values if v is not None]
    if len(known) < 1:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = width / max(1, len(values) - 1)
    parts, run = [], []
    last = None
    for i, v in enumerate(values):
        if v is None:
            if run:
                parts.append(run)
            run = []
            continue
        x, y = i * step, height - 3 - (v - low) / span * (height - 6)
        run.append(f"{x:.1f},{y:.1f}")
        last = (x, y)
    if run:
        parts.append(run)
    lines = "".join(f'<polyline points="{" ".join(p)}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
                    for p in parts)
    dot = f'<circle cx="{last[0]:.1f}" cy="{last[1]:.1f}" r="2.5" fill="{colour}"/>' if last else ""
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="-3 0 {width + 6} {height}" '
            f'aria-hidden="true" focusable="false">{lines}{dot}</svg>')


def series_chart(periods: Sequence[str], series: Sequence[Series], *, target: float | None = None,
                 target_label: str = "", style: str = "line", width: int = 640, height: int = 220) -> str:
    """Values period by period (a line or bars per series) against the target (a dashed line)."""
    left, right, top_pad, bottom = 48, 12, 10, 34
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    values = [p.value for s in series for p in s.points if p.value is not None]
    if target is not None:
        values.append(target)
    ticks = _ticks(max(values, default=0.0), min(0.0, min(values, default=0.0)))
    low, top = ticks[0], ticks[-1]
    span = (top - low) or 1.0
    n = max(1, len(periods))
    slot = plot_w / n

    def y(v: float) -> float:
        return top_pad + plot_h - (v - low) / span * plot_h

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
           f'aria-hidden="true" focusable="false">']
    for v in ticks:  # grid and y labels
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e3e3e3"/>'
                   f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11" fill="#555">'
                   f'{escape(_fmt(v))}</text>')
    every = max(1, math.ceil(n / 12))
    for i, label in enumerate(periods):
        if i % every == 0 or i == n - 1:
            out.append(f'<text x="{left + slot * (i + 0.5):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                       f'font-size="11" fill="#555">{escape(label)}</text>')
    if style == "bar":
        bar_w = max(1.0, slot * 0.8 / max(1, len(series)))
        for k, s in enumerate(series):
            colour = PALETTE[k % len(PALETTE)]
            for i, p in enumerate(s.points):
                if p.value is None:
                    continue
                x = left + slot * i + slot * 0.1 + bar_w * k
                y0, y1 = y(max(0.0, low)), y(p.value)
                rect = (f'<rect x="{x:.1f}" y="{min(y0, y1):.1f}" width="{bar_w:.1f}" '
                        f'height="{max(1.0, abs(y0 - y1)):.1f}" fill="{colour}"/>')
                out.append(_a(p.href, rect, p.title))
    else:
        for k, s in enumerate(series):
            colour = PALETTE[k % len(PALETTE)]
            run: list[str] = []
            for i, p in enumerate(s.points):
                if p.value is None:
                    if len(run) > 1:
                        out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                                   f'stroke-width="2"/>')
                    run = []
                    continue
                run.append(f"{left + slot * (i + 0.5):.1f},{y(p.value):.1f}")
            if len(run) > 1:
                out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for i, p in enumerate(s.points):
                if p.value is not None:
                    dot = f'<circle cx="{left + slot * (i + 0.5):.1f}" cy="{y(p.value):.1f}" r="4" fill="{colour}"/>'
                    out.append(_a(p.href, dot, p.title))
    if target is not None:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
                   f'stroke="#1a7f37" stroke-width="1.5" stroke-dasharray="6 4"/>'
                   f'<text x="{width - right}" y="{y(target) - 4:.1f}" text-anchor="end" font-size="11" '
                   f'fill="#1a7f37">{escape(target_label)} {escape(_fmt(target))}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- map


@dataclass(frozen=True)
class Place:
    name: str
    lat: float
    lon: float
    value: float | None
    href: str = ""
    title: str = ""


def _project(bbox: tuple[float, float, float, float], width: int, height: int):
    west, south, east, north = bbox
    kx = math.cos(math.radians((south + north) / 2))
    scale = min(width / ((east - west) * kx or 1), height / ((north - south) or 1))
    off_x = (width - (east - west) * kx * scale) / 2
    off_y = (height - (north - south) * scale) / 2

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return off_x + (lon - west) * kx * scale, off_y + (north - lat) * scale

    return xy


def _rings(geometry: dict) -> list[list[list[float]]]:
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


def outline_paths(features: Sequence[dict], bbox: tuple[float, float, float, float], width: int,
                  height: int) -> str:
    """The basemap's polygons that touch the box, as SVG paths, with points closer than a pixel dropped."""
    xy = _project(bbox, width, height)
    west, south, east, north = bbox
    out = []
    for feature in features:
        d = []
        for ring in _rings(feature.get("geometry") or {}):
            lons = [p[0] for p in ring]
            lats = [p[1] for p in ring]
            if not lons or max(lons) < west or min(lons) > east or max(lats) < south or min(lats) > north:
                continue
            last = None
            pts = []
            for lon, lat, *_ in ring:
                x, y = xy(lon, lat)
                if last is None or abs(x - last[0]) + abs(y - last[1]) >= 1.0:
                    pts.append(f"{x:.0f} {y:.0f}")
                    last = (x, y)
            if len(pts) > 2:
                d.append("M" + "L".join(pts) + "Z")
        if d:
            out.append(f'<path d="{"".join(d)}"/>')
    return "".join(out)


# Sequential, colour-blind safe (ColorBrewer YlGnBu without its lightest step, which is too close to the land):
# the darker, the higher. Fewer classes take colours spread over the whole ramp.
SEQUENTIAL = ("#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494")
NO_FIGURE = "#d4d4d4"
LAND, WATER, BORDER = "#fbfbf8", "#eef3f7", "#9aa5ad"


@dataclass(frozen=True)
class Shape:
    """An area drawn as its outline, filled by its figure's class."""

    name: str
    rings: Sequence[Sequence[tuple[float, float]]]  # closed rings of (longitude, latitude)
    label: tuple[float, float]  # (longitude, latitude) where the name is written
    value: float | None
    href: str = ""
    title: str = ""


@dataclass(frozen=True)
class Class:
    low: float
    high: float
    colour: str
    label: str


def classes(values: Sequence[float | None], fmt: Callable[[float], str] = _fmt) -> list[Class]:
    """Classes of equal, round width (1, 2 or 5 times a power of ten) covering the values' range (at most five:
    the palette's steps), each with its colour and
    its range as text: "0-4" holds 0 up to, not including, 4 (the last class includes its top); whole-number
    figures read as whole numbers ("0-3", "4-7", "8-12"; written with an en dash)."""
    known = [v for v in values if v is not None]
    if not known:
        return []
    if min(known) == max(known):  # one figure: one class, the ramp's middle
        return [Class(known[0], known[0], SEQUENTIAL[len(SEQUENTIAL) // 2], fmt(known[0]))]
    ticks = _ticks(max(known), min(known), len(SEQUENTIAL))
    while len(ticks) > 2 and ticks[-2] >= max(known) and ticks[-2] > min(known):
        ticks.pop()  # no empty class on top
    count = len(ticks) - 1
    step = ticks[1] - ticks[0]
    whole = all(v == int(v) for v in known) and step == int(step)
    out = []
    for i in range(count):
        low, high = ticks[i], ticks[i + 1]
        colour = SEQUENTIAL[round(i * (len(SEQUENTIAL) - 1) / (count - 1)) if count > 1 else len(SEQUENTIAL) // 2]
        last = i == count - 1
        top = high if last or not whole else high - 1
        label = fmt(low) if whole and top == low else f"{fmt(low)}\u2013{fmt(top)}"
        out.append(Class(low, high, colour, label))
    return out


def class_of(value: float | None, shades: Sequence[Class]) -> Class | None:
    if value is None or not shades:
        return None
    for shade in shades:
        if value < shade.high:
            return shade
    return shades[-1]


def _extent(places: Sequence[Place], shapes: Sequence[Shape]) -> tuple[float, float, float, float]:
    lons = [p.lon for p in places] + [x for s in shapes for ring in s.rings for x, _y in ring]
    lats = [p.lat for p in places] + [y for s in shapes for ring in s.rings for _x, y in ring]
    return min(lons), min(lats), max(lons), max(lats)


def _fit(extent: tuple[float, float, float, float], width: int, height: int, least: float, share: float):
    """The extent padded (at least `least` degrees, or `share` of its size) and widened to the drawing's shape."""
    west, south, east, north = extent
    pad_lat = max(least, (north - south) * share)
    pad_lon = max(least, (east - west) * share)
    west, south, east, north = west - pad_lon, south - pad_lat, east + pad_lon, north + pad_lat
    kx = math.cos(math.radians((south + north) / 2))
    want = width / height
    have = (east - west) * kx / (north - south)
    if have < want:
        grow = ((north - south) * want / kx - (east - west)) / 2
        west, east = west - grow, east + grow
    else:
        grow = ((east - west) * kx / want - (north - south)) / 2
        south, north = south - grow, north + grow
    return west, south, east, north


def _path(rings: Sequence[Sequence[tuple[float, float]]], xy, fine: bool = True) -> str:
    """Rings as SVG path data, points closer than a pixel (`fine`: most of a pixel, to a tenth) dropped."""
    d = []
    step, digits = (0.7, 1) if fine else (1.0, 0)
    for ring in rings:
        last = None
        pts = []
        for lon, lat in ring:
            x, y = xy(lon, lat)
            if last is None or abs(x - last[0]) + abs(y - last[1]) >= step:
                pts.append(f"{x:.{digits}f} {y:.{digits}f}")
                last = (x, y)
        if len(pts) > 2:
            d.append("M" + "L".join(pts) + "Z")
    return "".join(d)


def _label(x: float, y: float, text: str) -> str:
    # A white halo keeps the words legible on the darkest fill and over borders.
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" font-size="11" fill="#1b1b1b" stroke="#fff" '
            f'stroke-width="3" stroke-linejoin="round" paint-order="stroke">{escape(text)}</text>')


def area_map(places: Sequence[Place], features: Sequence[dict], *, shapes: Sequence[Shape] = (),
             outlines: Sequence[Sequence[Sequence[tuple[float, float]]]] = (), shades: Sequence[Class] = (),
             width: int = 640, height: int = 360) -> str:
    """The areas on the basemap: each area with a known outline filled by its figure's class (`shades`, the
    darker, the higher), the others as circles at their positions (area ∝ value), every one labelled with its
    name and figure, so that nothing rests on colour alone. `outlines` are the other areas of the same countries,
    drawn as borders only."""
    if not places and not shapes:
        return ""
    if shapes:
        bbox = _fit(_extent(places, shapes), width, height, 0.4, 0.06)
    else:  # at least a few degrees around lone circles, so that borders and neighbours place them
        bbox = _fit(_extent(places, shapes), width, height, 1.5, 0.2)
    xy = _project(bbox, width, height)
    countries = outline_paths(features, bbox, width, height)
    out = [f'<svg class="map" viewBox="0 0 {width} {height}" width="100%" aria-hidden="true" focusable="false">'
           f'<rect width="{width}" height="{height}" fill="{WATER}"/>'
           f'<g fill="{LAND}" stroke="{BORDER}" stroke-width="0.8">{countries}</g>']
    near = [rings for rings in outlines if _touches(rings, bbox)]
    if near:
        out.append(f'<g fill="{LAND}" stroke="#b5bdc3" stroke-width="0.6">'
                   + "".join(f'<path d="{_path(rings, xy, fine=False)}"/>' for rings in near) + "</g>")
    labels = []
    borders = ""
    if shapes:
        # The countries' borders again over the filled areas, which cover them.
        borders = f'<g fill="none" stroke="#6f7a82" stroke-width="1.2">{countries}</g>'
        out.append('<g stroke="#4a4a4a" stroke-width="0.7" fill-rule="evenodd">')
        for s in sorted(shapes, key=lambda s: -_size(s.rings)):  # the larger first: an enclave stays on top
            shade = class_of(s.value, shades)
            fill = shade.colour if shade else NO_FIGURE
            out.append(_a(s.href, f'<path class="area" d="{_path(s.rings, xy)}" fill="{fill}"/>', s.title))
            if s.name:  # a thumbnail's made-up areas have none
                x, y = xy(*s.label)
                labels.append(_label(x, y - 2, s.name))
                labels.append(_label(x, y + 11, "-" if s.value is None else _fmt(s.value)))
        out.append("</g>" + borders)
    top = max((p.value for p in places if p.value is not None), default=0.0) or 1.0
    for p in sorted(places, key=lambda p: -(p.value or 0)):  # small circles drawn last, on top
        x, y = xy(p.lon, p.lat)
        r = 3 + 22 * math.sqrt(max(0.0, p.value or 0.0) / top)
        fill = "#0072B2" if p.value is not None else "#bbbbbb"
        circle = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" fill-opacity="0.55" '
                  f'stroke="#00446b"/>')
        out.append(_a(p.href, circle, p.title))
        value = "-" if p.value is None else _fmt(p.value)
        labels.append(_label(x, y + r + 12, f"{p.name} {value}"))
    out.extend(labels)
    out.append("</svg>")
    return "".join(out)


def _size(rings: Sequence[Sequence[tuple[float, float]]]) -> float:
    lons = [lon for ring in rings for lon, _lat in ring]
    lats = [lat for ring in rings for _lon, lat in ring]
    return (max(lons) - min(lons)) * (max(lats) - min(lats)) if lons else 0.0


def _touches(rings: Sequence[Sequence[tuple[float, float]]], bbox: tuple[float, float, float, float]) -> bool:
    west, south, east, north = bbox
    lons = [lon for ring in rings for lon, _lat in ring]
    lats = [lat for ring in rings for _lon, lat in ring]
    return bool(lons) and min(lons) <= east and max(lons) >= west and min(lats) <= north and max(lats) >= south
