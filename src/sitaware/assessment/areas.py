"""Admin-1 areas (prefectures, provinces, states) as polygons, and the area names of the figures matched to them.
Pure: no Django.

The polygons are Natural Earth's (public domain), simplified and shipped as
`web/static/web/vendor/natural-earth/admin1-areas.json` by `tools/admin1_areas.py`, which describes the file. They
are read once per process and file version (`load`), and an area's outline is decoded the first time it is drawn.

A figure's area is a name as the records give it ("Ombella-M'Poko", "OMBELLA MPOKO", "Commune de Bangui").
`match` finds its polygon by the name or one of Natural Earth's other names for it (alternative names, French,
English, local, GeoNames), or its ISO 3166-2 code, ignoring case, accents, spaces and punctuation and, as a last
resort, words such as "prefecture" or "province". When a name is the name of areas in several countries, the
position of the area's records decides, else the country most of the other areas are in. A name with no polygon,
a polygon far from the records that name it, or a second name for a polygon already taken is left unmatched:
the caller draws those as before (a symbol at the records' mean position).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
import threading
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

FORMAT = "sitaware-admin1-areas/1"
NEAR = 1.0  # degrees: records further than this from an area's polygon do not name that area
EXACT, OTHER_NAME, LOOSE = 0, 1, 2  # how a name matched, best first

# Words that say what kind of area it is, and the small words around them: left out by the loose comparison.
DESIGNATORS = frozenset("""
prefecture prefectures province provinces provincia provinsi region regions regione regiao state etat estado
district districts distrito department departement departamento governorate gouvernorat muhafazah county
commune municipality municipio oblast krai kray okrug republic autonomous economic territory
of the de del la le les l du des d
""".split())

LonLat = tuple[float, float]
Ring = list[LonLat]


_NOT_ASCII_ALNUM = re.compile(r"[^0-9a-z]+")


def _plain(text: str) -> str:
    """Lower case without accents (the marks NFKD splits off are dropped)."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


def key(text: str) -> str:
    """The name compared: lower case, without accents, spaces or punctuation ("Ombella-M'Poko" -> "ombellampoko")."""
    plain = _plain(text)
    if plain.isascii():
        return _NOT_ASCII_ALNUM.sub("", plain)
    return "".join(c for c in plain if c.isalnum())


def loose_key(text: str) -> str:
    """The key without the words that say what kind of area it is ("Préfecture de la Kémo" -> "kemo")."""
    kept = "".join(w for w in re.split(r"[\W_]+", _plain(text)) if w and w not in DESIGNATORS)
    return kept or key(text)


@dataclass(frozen=True, eq=False)
class Area:
    """One admin-1 polygon of the atlas."""

    index: int
    name: str
    country: str  # ISO 3166-1 alpha-2 (alpha-3 for the few places without one)
    code: str  # ISO 3166-2, as "CF-BGF"; "" when Natural Earth has none
    names: tuple[str, ...]  # the other names
    label: LonLat  # where its name is written (inside it)
    shape: tuple[tuple[str, ...], ...] = field(repr=False)  # polygons of rings of encoded arc references


def _decode(text: str, count: int = -1) -> list[int]:
    """Integers of the polyline encoding (zigzag, 5-bit groups as characters 63..126); the first `count` only
    when given."""
    out, value, shift = [], 0, 0
    for char in text:
        b = ord(char) - 63
        value |= (b & 0x1F) << shift
        shift += 5
        if b < 0x20:
            out.append(~(value >> 1) if value & 1 else value >> 1)
            value, shift = 0, 0
            if len(out) == count:
                break
    return out


def _cumulative(deltas: list[int], total: int = 0) -> list[int]:
    out = []
    for d in deltas:
        total += d
        out.append(total)
    return out


class Atlas:
    """The areas of the shipped file, found by name; outlines decoded on first use and kept."""

    def __init__(self, document: dict) -> None:
        if document.get("format") != FORMAT:
            raise ValueError(f"not an admin-1 areas file ({FORMAT})")
        self.scale = float(document["scale"])
        self._arc_text: list[str] = document["arcs"]
        # An arc's first point is given from the previous arc's: where each starts is summed once, on loading.
        self._starts: list[tuple[int, int]] = []
        x = y = 0
        for text in self._arc_text:
            dx, dy = _decode(text, 2)
            x, y = x + dx, y + dy
            self._starts.append((x, y))
        self._arcs: dict[int, list[LonLat]] = {}
        self._rings: dict[int, list[list[Ring]]] = {}
        self._boxes: dict[int, tuple[float, float, float, float]] = {}
        self._lock = threading.Lock()
        self.areas: list[Area] = []
        for country, rows in document["countries"].items():
            for name, names, code, lon, lat, shape in rows:
                self.areas.append(Area(len(self.areas), name, country, f"{country}-{code}" if code else "",
                                       tuple(names), (lon, lat), tuple(tuple(p) for p in shape)))
        self._index: dict[str, list[tuple[int, int]]] = {}
        for area in self.areas:
            found: dict[str, int] = {}
            for text, rank in [(area.name, EXACT), (area.code, EXACT), *((n, OTHER_NAME) for n in area.names)]:
                for k, r in ((key(text), rank), (loose_key(text), LOOSE)):
                    if k and found.get(k, LOOSE + 1) > r:
                        found[k] = r
            for k, r in found.items():
                self._index.setdefault(k, []).append((r, area.index))

    def by_country(self, countries: set[str]) -> list[Area]:
        return [a for a in self.areas if a.country in countries]

    def candidates(self, name: str) -> list[tuple[int, Area]]:
        """The areas a name may mean, each with how it matched (EXACT, OTHER_NAME or LOOSE)."""
        best: dict[int, int] = {}
        exact = key(name)
        for k in (exact, loose_key(name)):
            for rank, i in self._index.get(k, ()):
                if k != exact:
                    rank = LOOSE  # the name's loose key met a key: only as good as a loose match
                best[i] = min(best.get(i, LOOSE), rank)
        return sorted(((r, self.areas[i]) for i, r in best.items()), key=lambda c: (c[0], c[1].index))

    def _arc(self, ref: int) -> list[LonLat]:
        i = ~ref if ref < 0 else ref
        points = self._arcs.get(i)
        if points is None:
            values = _decode(self._arc_text[i])
            x0, y0 = self._starts[i]
            xs, ys = _cumulative([x0, *values[2::2]]), _cumulative([y0, *values[3::2]])
            points = [(x / self.scale, y / self.scale) for x, y in zip(xs, ys, strict=True)]
            self._arcs[i] = points
        return points[::-1] if ref < 0 else points

    def polygons(self, area: Area) -> list[list[Ring]]:
        """The area's polygons, each a list of closed rings (exterior first) of (longitude, latitude)."""
        kept = self._rings.get(area.index)
        if kept is not None:
            return kept
        out: list[list[Ring]] = []
        with self._lock:
            for polygon in area.shape:
                rings = []
                for text in polygon:
                    ring: Ring = []
                    for ref in _cumulative(_decode(text)):
                        arc = self._arc(ref)
                        ring.extend(arc if not ring else arc[1:])
                    rings.append(ring)
                out.append(rings)
            self._rings[area.index] = out
        return out

    def rings(self, area: Area) -> list[Ring]:
        return [ring for polygon in self.polygons(area) for ring in polygon]

    def bbox(self, area: Area) -> tuple[float, float, float, float]:
        kept = self._boxes.get(area.index)
        if kept is None:
            lons = [lon for ring in self.rings(area) for lon, _lat in ring]
            lats = [lat for ring in self.rings(area) for _lon, lat in ring]
            kept = self._boxes[area.index] = (min(lons), min(lats), max(lons), max(lats))
        return kept

    def contains(self, area: Area, point: LonLat) -> bool:
        """Whether the point is inside the area (even-odd over all its rings)."""
        x, y = point
        inside = False
        for ring in self.rings(area):
            for (x1, y1), (x2, y2) in itertools.pairwise(ring):
                if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                    inside = not inside
        return inside

    def distance(self, area: Area, point: LonLat) -> float:
        """How far the point is from the area, in degrees (flat: only to compare with NEAR and each other); 0 inside.
        Beyond NEAR from its bounding box, the distance to the box."""
        west, south, east, north = self.bbox(area)
        x, y = point
        away = math.hypot(max(west - x, 0.0, x - east), max(south - y, 0.0, y - north))
        if away > NEAR:
            return away
        if self.contains(area, point):
            return 0.0
        return min(_to_segment(point, a, b) for ring in self.rings(area) for a, b in itertools.pairwise(ring))


def _to_segment(p: LonLat, a: LonLat, b: LonLat) -> float:
    (x, y), (x1, y1), (x2, y2) = p, a, b
    dx, dy = x2 - x1, y2 - y1
    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - x1 - t * dx, y - y1 - t * dy)


@dataclass
class Matching:
    """Which polygon each area name stands for, and the names that have none (drawn as symbols instead)."""

    matched: dict[str, Area]
    unmatched: list[str]


def match(atlas: Atlas, names: Sequence[str], positions: Mapping[str, LonLat] | None = None) -> Matching:
    """Each name's area. `positions` (longitude, latitude), where known, is the mean position of the records
    naming the area: an area more than NEAR degrees from it is not that name's, and among several it picks."""
    positions = positions or {}
    found: dict[str, list[tuple[int, Area]]] = {}
    for name in names:
        candidates = atlas.candidates(name) if name else []
        where = positions.get(name)
        if where is not None:
            candidates = [c for c in candidates if atlas.distance(c[1], where) <= NEAR]
        found[name] = candidates
    # The countries the names point at: a name votes for the countries of its best matches.
    votes: Counter[str] = Counter()
    for candidates in found.values():
        if candidates:
            best = {a.country for r, a in candidates if r == candidates[0][0]}
            for country in best:
                votes[country] += 1 / len(best)
    sure = [c[0][1].label for c in found.values() if len({a.index for _r, a in c}) == 1]
    centre = (statistics.median(p[0] for p in sure), statistics.median(p[1] for p in sure)) if sure else None

    def order(name: str, candidate: tuple[int, Area]) -> tuple:
        rank, area = candidate
        where = positions.get(name)
        away = atlas.distance(area, where) if where is not None else 0.0
        spread = math.dist(area.label, centre) if centre is not None else 0.0
        return (away, -votes[area.country], rank, spread, area.index)

    matched: dict[str, Area] = {}
    unmatched: list[str] = []
    taken: set[int] = set()
    for name in dict.fromkeys(names):
        best = min(found[name], key=lambda c: order(name, c))[1] if found[name] else None
        if best is None or best.index in taken:
            unmatched.append(name)  # no polygon, or its polygon already stands for another name
        else:
            matched[name] = best
            taken.add(best.index)
    return Matching(matched, unmatched)


@lru_cache(maxsize=2)
def _load(path: str, version: tuple[int, int]) -> Atlas:
    return Atlas(json.loads(Path(path).read_text(encoding="utf-8")))


def load(path: Path) -> Atlas:
    """The atlas of the file, read once per process and file version."""
    stat = path.stat()
    return _load(str(path), (stat.st_mtime_ns, stat.st_size))
