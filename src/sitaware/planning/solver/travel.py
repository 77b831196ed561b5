"""Travel-time providers: how long a unit takes between two points, in seconds and metres.

Three kinds, one interface (`TravelProvider`):
- `StraightLine`: great-circle distance x a detour factor at the unit's speed. The default, and the only one
  that needs no mission data.
- `CellGraph`: a grid of speeds (raster or H3) where a speed of 0 means impassable (river, mined area,
  no-go zone). Shortest paths by Dijkstra, so impassable cells are never crossed.
- `CellGraph.from_road_edges`: a road graph from edges the mission supplies (e.g. an OSM extract turned
  into (from, to, metres, speed) rows). Nothing is downloaded. `osm.RoadGraph` reads an OSM extract into
  such graphs, one per mode.

Unreachable pairs are `inf`, never a large made-up number: the solver decides what to do with them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from .problem import Unit

EARTH_RADIUS_M = 6_371_008.8
Point = tuple[float, float]  # (lat, lon)


class TravelProvider(Protocol):
    def matrices(self, points: Sequence[Point], unit: Unit) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, metres) between every pair of points for this unit; inf where there is no way."""
        ...

    def leg(self, a: Point, b: Point, unit: Unit) -> tuple[float, float]:
        """(seconds, metres) of one leg, computed afresh (the feasibility checker relies on this)."""
        ...

    def profile_key(self, unit: Unit) -> tuple[object, ...]:
        """Units with the same key get the same matrices, so the solver computes them once."""
        ...


def haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _mps(kmh: float) -> float:
    return kmh / 3.6


@dataclass(frozen=True)
class StraightLine:
    """Great-circle metres x detour / speed. Detour 1.3 is a common road-network average; foot paths less."""

    detour: Mapping[str, float] = field(default_factory=lambda: {"vehicle": 1.3, "foot": 1.2})

    def _factor(self, unit: Unit) -> float:
        return float(self.detour.get(unit.mode, 1.3))

    def profile_key(self, unit: Unit) -> tuple[object, ...]:
        return ("straight", self._factor(unit), unit.speed_kmh)

    def matrices(self, points: Sequence[Point], unit: Unit) -> tuple[np.ndarray, np.ndarray]:
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        metres = haversine_m(pts[:, None, 0], pts[:, None, 1], pts[None, :, 0], pts[None, :, 1]) * self._factor(unit)
        return metres / _mps(unit.speed_kmh), metres

    def leg(self, a: Point, b: Point, unit: Unit) -> tuple[float, float]:
        metres = float(haversine_m(np.array(a[0]), np.array(a[1]), np.array(b[0]), np.array(b[1])))
        metres *= self._factor(unit)
        return metres / _mps(unit.speed_kmh), metres


class CellGraph:
    """Shortest travel time over a graph of nodes with speeds; points snap to their nearest passable node.

    A node's speed (km/h) caps the unit's own speed while inside it; 0 makes the node impassable. Edge time
    is half the edge in each end node's speed. For road graphs the speed is on the edge instead.
    Snapping adds the straight-line distance from the point to its node at the unit's speed, or at
    `snap_speed_kmh[mode]` when that is slower (walking or driving off the mapped network); a point farther
    than `max_snap_m` from every passable node is unreachable (inf to and from everything else).
    """

    # Off-graph access: None means at the unit's own speed and without a distance limit.
    snap_speed_kmh: Mapping[str, float] | None = None
    max_snap_m: float | None = None
    # Dijkstra rows per batch: memory is about 3 x 8 bytes x rows x nodes, so ~480 MB at most per batch.
    max_cells_per_batch: int = 20_000_000

    def __init__(
        self,
        lat: np.ndarray,
        lon: np.ndarray,
        edges: np.ndarray,
        edge_metres: np.ndarray,
        edge_speed_kmh: np.ndarray,
        passable: np.ndarray,
        name: str = "graph",
    ) -> None:
        self.lat = np.asarray(lat, dtype=float)
        self.lon = np.asarray(lon, dtype=float)
        self.edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        self.edge_metres = np.asarray(edge_metres, dtype=float)
        self.edge_speed = np.asarray(edge_speed_kmh, dtype=float)
        self.passable = np.asarray(passable, dtype=bool)
        self.name = name
        keep = self.passable[self.edges[:, 0]] & self.passable[self.edges[:, 1]] & (self.edge_speed > 0)
        self.edges, self.edge_metres, self.edge_speed = self.edges[keep], self.edge_metres[keep], self.edge_speed[keep]
        self._passable_idx = np.flatnonzero(self.passable)
        # Snapping in an equirectangular projection is good enough at mission scale (tens of km).
        self._lat0 = float(np.mean(self.lat)) if len(self.lat) else 0.0
        self._tree = cKDTree(self._project(self.lat[self._passable_idx], self.lon[self._passable_idx]))
        self._graphs: dict[float, tuple[csr_matrix, csr_matrix]] = {}

    def _project(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        k = math.cos(math.radians(self._lat0))
        return np.column_stack([np.asarray(lat) * 111_195.0, np.asarray(lon) * 111_195.0 * k])

    # --- constructors -------------------------------------------------------------------------------------
    @classmethod
    def from_raster(
        cls, speeds_kmh: np.ndarray, min_lat: float, min_lon: float, max_lat: float, max_lon: float
    ) -> CellGraph:
        """Row 0 is the southernmost row; 8-connected so diagonal moves are not penalised like a taxi's."""
        speeds = np.nan_to_num(np.asarray(speeds_kmh, dtype=float), nan=0.0)
        rows, cols = speeds.shape
        dlat, dlon = (max_lat - min_lat) / rows, (max_lon - min_lon) / cols
        r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        lat = (min_lat + (r + 0.5) * dlat).ravel()
        lon = (min_lon + (c + 0.5) * dlon).ravel()
        idx = (r * cols + c)
        pairs = []
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            r0, r1 = max(0, -dr), rows - max(0, dr)
            c0, c1 = max(0, -dc), cols - max(0, dc)
            a = idx[r0:r1, c0:c1].ravel()
            b = idx[r0 + dr : r1 + dr, c0 + dc : c1 + dc].ravel()
            pairs.append(np.column_stack([a, b]))
        return cls._from_node_speeds(lat, lon, np.vstack(pairs), speeds.ravel(), "raster")

    @classmethod
    def from_h3(cls, speeds_kmh: Mapping[str, float]) -> CellGraph:
        """Speeds keyed by H3 cell; neighbours are the cells' ring-1 cells that are also in the mapping."""
        import h3

        cells = list(speeds_kmh)
        index = {c: i for i, c in enumerate(cells)}
        centres = np.array([h3.cell_to_latlng(c) for c in cells], dtype=float).reshape(-1, 2)
        pairs = [
            (index[c], index[n]) for c in cells for n in h3.grid_ring(c, 1) if n in index and index[n] > index[c]
        ]
        edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        speeds = np.array([float(speeds_kmh[c]) for c in cells])
        graph = cls._from_node_speeds(centres[:, 0], centres[:, 1], edges, speeds, "h3")
        graph.node_ids = cells
        return graph

    @classmethod
    def _from_node_speeds(
        cls, lat: np.ndarray, lon: np.ndarray, edges: np.ndarray, speeds: np.ndarray, name: str
    ) -> CellGraph:
        a, b = edges[:, 0], edges[:, 1]
        metres = haversine_m(lat[a], lon[a], lat[b], lon[b])
        sa, sb = speeds[a], speeds[b]
        with np.errstate(divide="ignore"):
            # Half the edge at each end's speed: the harmonic mean of the two speeds.
            speed = np.where((sa > 0) & (sb > 0), 2.0 / (1.0 / np.maximum(sa, 1e-9) + 1.0 / np.maximum(sb, 1e-9)), 0.0)
        both = np.vstack([edges, edges[:, ::-1]])
        return cls(lat, lon, both, np.tile(metres, 2), np.tile(speed, 2), speeds > 0, name)

    @classmethod
    def from_road_edges(
        cls,
        nodes: Mapping[object, Point],
        edges: Iterable[tuple[object, object, float, float, bool]],
    ) -> CellGraph:
        """Edges as (from, to, metres, speed km/h, oneway); nodes as id → (lat, lon)."""
        ids = list(nodes)
        index = {n: i for i, n in enumerate(ids)}
        coords = np.array([nodes[n] for n in ids], dtype=float).reshape(-1, 2)
        rows: list[tuple[int, int, float, float]] = []
        for u, v, metres, speed, oneway in edges:
            rows.append((index[u], index[v], float(metres), float(speed)))
            if not oneway:
                rows.append((index[v], index[u], float(metres), float(speed)))
        arr = np.array(rows, dtype=float).reshape(-1, 4)
        graph = cls(
            coords[:, 0], coords[:, 1], arr[:, :2].astype(np.int64), arr[:, 2], arr[:, 3],
            np.ones(len(ids), dtype=bool), "road",
        )
        graph.node_ids = ids
        return graph

    node_ids: list[object] | None = None

    # --- queries -------------------------------------------------------------------------------------------
    def profile_key(self, unit: Unit) -> tuple[object, ...]:
        return (self.name, id(self), unit.speed_kmh)

    def _graph(self, speed_kmh: float) -> tuple[csr_matrix, csr_matrix]:
        if speed_kmh not in self._graphs:
            n = len(self.lat)
            seconds = self.edge_metres / _mps(np.minimum(self.edge_speed, speed_kmh))
            # csr_matrix sums duplicate edges; keep the fastest of parallel edges instead.
            order = np.lexsort((seconds, self.edges[:, 1], self.edges[:, 0]))
            e = self.edges[order]
            first = np.ones(len(e), dtype=bool)
            first[1:] = np.any(e[1:] != e[:-1], axis=1)
            sel = order[first]
            # Zero-length edges would vanish from a sparse matrix; a tiny time keeps them.
            t = csr_matrix((np.maximum(seconds[sel], 1e-9), (self.edges[sel, 0], self.edges[sel, 1])), shape=(n, n))
            m = csr_matrix((np.maximum(self.edge_metres[sel], 1e-9), (self.edges[sel, 0], self.edges[sel, 1])), (n, n))
            self._graphs[speed_kmh] = (t, m)
        return self._graphs[speed_kmh]

    def snap(self, points: Sequence[Point]) -> tuple[np.ndarray, np.ndarray]:
        """Nearest passable node for each point and the straight-line metres to it."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        _, near = self._tree.query(self._project(pts[:, 0], pts[:, 1]))
        node = self._passable_idx[np.asarray(near)]
        return node, haversine_m(pts[:, 0], pts[:, 1], self.lat[node], self.lon[node])

    def _from_sources(self, sources: np.ndarray, unit: Unit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tgraph, mgraph = self._graph(unit.speed_kmh)
        seconds, pred = dijkstra(tgraph, directed=True, indices=sources, return_predecessors=True)
        return seconds, pred, self._path_metres(pred, mgraph)

    @staticmethod
    def _path_metres(pred: np.ndarray, mgraph: csr_matrix) -> np.ndarray:
        """Metres along each shortest-time path, by pointer doubling over the predecessor tree.

        log2(depth) numpy steps instead of a Python walk per node. Invariant: acc[v] is the length from
        anc[v] to v; each step adds the ancestor's own acc and jumps to the ancestor's ancestor.
        """
        anc = np.atleast_2d(pred).astype(np.int64)
        rows = np.broadcast_to(np.arange(anc.shape[0])[:, None], anc.shape)
        cols = np.broadcast_to(np.arange(anc.shape[1]), anc.shape)
        acc = np.zeros(anc.shape)
        has = anc >= 0
        acc[has] = np.asarray(mgraph[anc[has], cols[has]]).ravel()
        while np.any(anc >= 0):
            ok = anc >= 0
            safe = np.where(ok, anc, 0)
            acc = np.where(ok, acc + acc[rows, safe], acc)
            anc = np.where(ok, anc[rows, safe], -1)
        return acc

    def access_speed_kmh(self, unit: Unit) -> float:
        """Speed between a point and its snapped node: the unit's, or the slower off-network speed of its mode."""
        if self.snap_speed_kmh is None or unit.mode not in self.snap_speed_kmh:
            return unit.speed_kmh
        return min(unit.speed_kmh, float(self.snap_speed_kmh[unit.mode]))

    def matrices(self, points: Sequence[Point], unit: Unit) -> tuple[np.ndarray, np.ndarray]:
        node, snap_m = self.snap(points)
        uniq, inverse = np.unique(node, return_inverse=True)
        # Dijkstra from each needed node only, in batches so a large graph never needs a dense all-nodes matrix.
        sec_u = np.empty((len(uniq), len(uniq)))
        met_u = np.empty((len(uniq), len(uniq)))
        step = max(1, self.max_cells_per_batch // max(1, len(self.lat)))
        for s in range(0, len(uniq), step):
            seconds, _, metres = self._from_sources(uniq[s : s + step], unit)
            sec_u[s : s + step] = seconds[:, uniq]
            met_u[s : s + step] = metres[:, uniq]
        sec = sec_u[np.ix_(inverse, inverse)]
        met = met_u[np.ix_(inverse, inverse)]
        access = snap_m[:, None] + snap_m[None, :]
        sec = sec + access / _mps(self.access_speed_kmh(unit))
        met = met + access
        if self.max_snap_m is not None:
            far = snap_m > self.max_snap_m
            sec[far, :] = sec[:, far] = np.inf
            met[far, :] = met[:, far] = np.inf
        same = np.arange(len(node))
        sec[same, same] = 0.0
        met[same, same] = 0.0
        return sec, met

    def leg(self, a: Point, b: Point, unit: Unit) -> tuple[float, float]:
        if a == b:
            return 0.0, 0.0
        sec, met = self.matrices([a, b], unit)
        return float(sec[0, 1]), float(met[0, 1])

    def path(self, a: Point, b: Point, unit: Unit) -> list[int]:
        """Node indices of the fastest path from a to b (empty when there is none)."""
        node, _ = self.snap([a, b])
        tgraph, _ = self._graph(unit.speed_kmh)
        _, pred = dijkstra(tgraph, directed=True, indices=int(node[0]), return_predecessors=True)
        out, cur = [], int(node[1])
        while cur >= 0:
            out.append(cur)
            if cur == node[0]:
                return out[::-1]
            cur = int(pred[cur])
        return []
