"""Road graphs from the mission's own OpenStreetMap extract (.osm.pbf, or .osm XML), as a travel provider.

`OsmExtract.read(path)` reads the ways tagged `highway` once (pyosmium; nothing is downloaded);
`RoadGraph(extract)` turns them into one directed graph per mode and answers travel times like every other
provider (`matrices`, `leg`, `profile_key`):

- **vehicle**: motor roads (motorway … track), minus ways closed to motor vehicles (`access`/`motor_vehicle`/
  `motorcar`/`vehicle` = no or private). One-way streets are followed: `oneway=yes|true|1`, `-1|reverse`,
  roundabouts and motorways imply it; `reversible`/`alternating` ways are left out (we cannot know the
  direction at the time of the patrol). Speed: `maxspeed` (km/h, mph, `XX:urban` …) else a default per
  highway type; the unit's own speed caps it.
- **foot**: every road and path a person may walk (not motorways; not `foot=no`, nor closed by `access`
  unless `foot=yes`), in both directions unless `oneway:foot=yes`; the unit's speed, slower on steps.

Only the largest strongly connected component of each mode's graph is kept: a shortest path between two of
its nodes never leaves it, and a point snapped to a fragment (a car park cut off by the extract's edge) could
otherwise reach nothing. Points snap to the nearest node of that component; the snap distance is covered at
the mode's off-network speed (`access_speed_kmh`), and a point farther than `max_snap_m` from the mode's
roads is unreachable.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .problem import Unit
from .travel import CellGraph, Point, haversine_m

MODES = ("vehicle", "foot")
# km/h when a way has no usable maxspeed. Conservative: roads in a mission area are often in poor repair.
VEHICLE_DEFAULT_KMH: Mapping[str, float] = {
    "motorway": 100, "motorway_link": 60, "trunk": 80, "trunk_link": 50, "primary": 65, "primary_link": 45,
    "secondary": 55, "secondary_link": 40, "tertiary": 45, "tertiary_link": 35, "unclassified": 35,
    "residential": 30, "living_street": 10, "service": 20, "road": 30, "track": 20,
}  # fmt: skip
FOOT_HIGHWAYS = frozenset(set(VEHICLE_DEFAULT_KMH) - {"motorway", "motorway_link"}) | {
    "footway", "path", "pedestrian", "steps", "cycleway", "bridleway", "corridor",
}  # fmt: skip
FOOT_FREE_KMH = 1000.0  # no cap of its own: the unit's walking speed applies
STEPS_KMH = 3.0
# `XX:urban` style maxspeed values (zone types) that carry no number.
ZONE_KMH: Mapping[str, float] = {"urban": 50, "rural": 80, "living_street": 20, "motorway": 110, "trunk": 90,
                                 "walk": 6}  # fmt: skip
CLOSED = frozenset({"no", "private"})
OPEN = frozenset({"yes", "designated", "permissive", "destination"})
DEFAULT_MAX_SNAP_M = 500.0
DEFAULT_ACCESS_KMH: Mapping[str, float] = {"vehicle": 15.0, "foot": 5.0}
_TAGS = ("highway", "oneway", "oneway:foot", "junction", "maxspeed", "access", "motor_vehicle", "motorcar",
         "vehicle", "foot")  # fmt: skip
_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?$")


class OsmExtractError(ValueError):
    """The file is missing, not an OSM extract, or holds no usable roads. The message says which."""


def parse_maxspeed(value: str | None) -> float | None:
    """km/h from an OSM maxspeed value, or None when it gives no number (`none`, `signals`, unknown zones)."""
    if not value:
        return None
    first = value.split(";")[0].strip().lower()
    m = _NUMBER.match(first)
    if m:
        number = float(m.group(1)) * {"mph": 1.609344, "knots": 1.852}.get(m.group(2) or "", 1.0)
        return number if number > 0 else None
    zone = first.split(":")[-1]
    return float(ZONE_KMH[zone]) if zone in ZONE_KMH else None


def way_rule(tags: Mapping[str, str], mode: str) -> tuple[float, bool, bool] | None:
    """(speed km/h, usable forward, usable backward) of a way for a mode, or None when the mode may not use it."""
    highway = tags.get("highway", "")
    access = tags.get("access", "")
    if mode == "vehicle":
        if highway not in VEHICLE_DEFAULT_KMH:
            return None
        motor = tags.get("motor_vehicle") or tags.get("motorcar") or tags.get("vehicle") or ""
        if motor in CLOSED or (access in CLOSED and motor not in OPEN):
            return None
        oneway = tags.get("oneway", "")
        if oneway in ("reversible", "alternating"):
            return None
        speed = parse_maxspeed(tags.get("maxspeed")) or float(VEHICLE_DEFAULT_KMH[highway])
        implied = tags.get("junction") in ("roundabout", "circular") or highway == "motorway"
        if oneway in ("-1", "reverse"):
            return speed, False, True
        if oneway in ("yes", "true", "1") or (implied and oneway != "no"):
            return speed, True, False
        return speed, True, True
    if mode == "foot":
        foot = tags.get("foot", "")
        if highway not in FOOT_HIGHWAYS or foot in CLOSED or (access in CLOSED and foot not in OPEN):
            return None
        speed = STEPS_KMH if highway == "steps" else FOOT_FREE_KMH
        return speed, True, tags.get("oneway:foot", "") not in ("yes", "true", "1")
    raise ValueError(f"unknown mode {mode!r}")


@dataclass(frozen=True)
class _Way:
    id: int
    tags: Mapping[str, str]
    refs: np.ndarray  # OSM node ids; a run broken by a node missing from the extract is split (ref -1)
    lat: np.ndarray
    lon: np.ndarray


@dataclass(frozen=True)
class OsmExtract:
    """The highway ways of one extract, with the file's SHA-256 so a plan names exactly what it used."""

    path: str
    sha256: str
    bounds: tuple[float, float, float, float]  # min_lat, min_lon, max_lat, max_lon
    ways: tuple[_Way, ...] = field(repr=False)

    @classmethod
    def read(cls, path: str | Path) -> OsmExtract:
        import osmium

        p = Path(path)
        if not p.is_file():
            raise OsmExtractError(f"no OSM extract at {p}: the file does not exist")
        digest = hashlib.sha256()
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        ways: list[_Way] = []
        try:
            processor = (
                osmium.FileProcessor(str(p), osmium.osm.NODE | osmium.osm.WAY)
                .with_locations()
                .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
                .with_filter(osmium.filter.KeyFilter("highway"))
            )
            for w in processor:
                refs, lat, lon = [], [], []
                for nd in w.nodes:
                    loc = nd.location
                    ok = loc.valid()
                    refs.append(nd.ref if ok else -1)
                    lat.append(loc.lat if ok else math.nan)
                    lon.append(loc.lon if ok else math.nan)
                tags = {k: w.tags[k] for k in _TAGS if k in w.tags}
                ways.append(_Way(w.id, tags, np.array(refs, dtype=np.int64), np.array(lat), np.array(lon)))
            header_box = osmium.io.Reader(str(p), osmium.osm.NOTHING).header().box()
        except RuntimeError as exc:  # pyosmium reports format errors as RuntimeError
            raise OsmExtractError(f"{p.name} is not a readable OSM extract (.osm.pbf or .osm): {exc}") from None
        if not ways:
            raise OsmExtractError(f"{p.name} holds no roads (no way tagged highway)")
        if header_box.valid():
            bl, tr = header_box.bottom_left, header_box.top_right
            bounds = (bl.lat, bl.lon, tr.lat, tr.lon)
        else:
            lats = np.concatenate([w.lat for w in ways])
            lons = np.concatenate([w.lon for w in ways])
            bounds = (float(np.nanmin(lats)), float(np.nanmin(lons)), float(np.nanmax(lats)), float(np.nanmax(lons)))
        return cls(str(p), digest.hexdigest(), bounds, tuple(ways))

    def covers(self, lat: float, lon: float, margin_m: float = 0.0) -> bool:
        """Inside the extract's bounds (its header box, else the box of its roads), widened by margin_m."""
        dlat = margin_m / 111_195.0
        dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
        min_lat, min_lon, max_lat, max_lon = self.bounds
        return min_lat - dlat <= lat <= max_lat + dlat and min_lon - dlon <= lon <= max_lon + dlon

    def edges(self, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Directed edges of a mode: (from OSM id, to OSM id, metres, km/h) and node (id, lat, lon) table."""
        src, dst, speed, node_ids, node_lat, node_lon = [], [], [], [], [], []
        for w in self.ways:
            rule = way_rule(w.tags, mode)
            if rule is None or len(w.refs) < 2:
                continue
            kmh, forward, backward = rule
            ok = (w.refs[:-1] >= 0) & (w.refs[1:] >= 0)
            a, b = w.refs[:-1][ok], w.refs[1:][ok]
            node_ids.append(w.refs[w.refs >= 0])
            node_lat.append(w.lat[w.refs >= 0])
            node_lon.append(w.lon[w.refs >= 0])
            if forward:
                src.append(a), dst.append(b), speed.append(np.full(len(a), kmh))
            if backward:
                src.append(b), dst.append(a), speed.append(np.full(len(a), kmh))
        if not src:
            raise OsmExtractError(f"{Path(self.path).name} has no roads usable on {mode}")
        ids = np.concatenate(node_ids)
        uniq, first = np.unique(ids, return_index=True)
        lat, lon = np.concatenate(node_lat)[first], np.concatenate(node_lon)[first]
        s, d = np.concatenate(src), np.concatenate(dst)
        si, di = np.searchsorted(uniq, s), np.searchsorted(uniq, d)
        metres = haversine_m(lat[si], lon[si], lat[di], lon[di])
        table = np.column_stack([uniq.astype(float), lat, lon])
        return s, d, metres, np.concatenate(speed), table


def mode_graph(extract: OsmExtract, mode: str) -> CellGraph:
    """The mode's directed graph, restricted to its largest strongly connected component (see module doc)."""
    s, d, metres, speed, table = extract.edges(mode)
    uniq = table[:, 0].astype(np.int64)
    si, di = np.searchsorted(uniq, s), np.searchsorted(uniq, d)
    n = len(uniq)
    adjacency = csr_matrix((np.ones(len(si)), (si, di)), shape=(n, n))
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    largest = np.bincount(labels).argmax()
    graph = CellGraph(table[:, 1], table[:, 2], np.column_stack([si, di]), metres, speed, labels == largest,
                      f"osm-{mode}")  # fmt: skip
    graph.node_ids = list(uniq)
    return graph


class RoadGraph:
    """Travel provider over an OSM extract: a unit uses its mode's roads (vehicle or foot)."""

    def __init__(
        self,
        extract: OsmExtract,
        *,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        access_speed_kmh: Mapping[str, float] = DEFAULT_ACCESS_KMH,
    ) -> None:
        if not max_snap_m > 0:
            raise ValueError("max_snap_m must be positive")
        self.extract = extract
        self.max_snap_m = float(max_snap_m)
        self.access_speed_kmh = dict(access_speed_kmh)
        self._graphs: dict[str, CellGraph] = {}

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: object) -> RoadGraph:
        return cls(OsmExtract.read(path), **kwargs)  # type: ignore[arg-type]

    def describe(self) -> dict[str, object]:
        """What a plan records to be reproducible: the extract's hash and the rules' parameters."""
        return {"provider": "osm", "extract": Path(self.extract.path).name, "sha256": self.extract.sha256,
                "bounds": list(self.extract.bounds), "max_snap_m": self.max_snap_m,
                "access_speed_kmh": self.access_speed_kmh}  # fmt: skip

    def graph(self, mode: str) -> CellGraph:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if mode not in self._graphs:
            g = mode_graph(self.extract, mode)
            g.snap_speed_kmh = self.access_speed_kmh
            g.max_snap_m = self.max_snap_m
            self._graphs[mode] = g
        return self._graphs[mode]

    def profile_key(self, unit: Unit) -> tuple[object, ...]:
        return ("osm", self.extract.sha256, unit.mode, unit.speed_kmh)

    def matrices(self, points: Sequence[Point], unit: Unit) -> tuple[np.ndarray, np.ndarray]:
        return self.graph(unit.mode).matrices(points, unit)

    def leg(self, a: Point, b: Point, unit: Unit) -> tuple[float, float]:
        return self.graph(unit.mode).leg(a, b, unit)

    def snap(self, points: Sequence[Point], mode: str) -> tuple[np.ndarray, np.ndarray]:
        """Nearest usable node per point and the metres to it (farther than max_snap_m: unreachable)."""
        return self.graph(mode).snap(points)

    def path_points(self, a: Point, b: Point, unit: Unit) -> list[Point]:
        """The fastest path as (lat, lon) points, from a through the roads to b; [] when there is none."""
        g = self.graph(unit.mode)
        if not np.isfinite(self.leg(a, b, unit)[0]):
            return []
        nodes = g.path(a, b, unit)
        return [a, *[(float(g.lat[i]), float(g.lon[i])) for i in nodes], b] if nodes else []
