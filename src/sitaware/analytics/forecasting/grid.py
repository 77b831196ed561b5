"""Cells to forecast over: rectangular grids in a local metric projection, or H3 cells.

Every grid exposes the same three things the models need: cell centres in metres, cell areas in square metres,
and `assign(x, y)` mapping points (metres) to a cell index, -1 outside. Models therefore never care whether
cells are squares, 0.5-degree boxes or hexagons.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class LocalProjection:
    """Equirectangular projection about (lat0, lon0): metres good to ~1% over a country the size of CAR.

    Chosen over a real CRS library because forecasting needs distances between nearby cells, not survey accuracy,
    and it keeps this package free of GDAL/PROJ.
    """

    lat0: float
    lon0: float

    def to_xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = math.cos(math.radians(self.lat0))
        x = np.radians(np.asarray(lon, dtype=float) - self.lon0) * EARTH_RADIUS_M * k
        y = np.radians(np.asarray(lat, dtype=float) - self.lat0) * EARTH_RADIUS_M
        return x, y

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = math.cos(math.radians(self.lat0))
        lon = self.lon0 + np.degrees(np.asarray(x, dtype=float) / (EARTH_RADIUS_M * k))
        lat = self.lat0 + np.degrees(np.asarray(y, dtype=float) / EARTH_RADIUS_M)
        return lon, lat


@dataclass
class Grid(abc.ABC):
    """A finite set of cells; `spacing` is the typical centre-to-neighbour distance (m), for 'distance in cells'."""

    ids: list[str]
    centres: np.ndarray  # (C, 2) metres
    areas: np.ndarray  # (C,) square metres
    spacing: float

    @property
    def size(self) -> int:
        return len(self.ids)

    @abc.abstractmethod
    def assign(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The cell index of each point, -1 outside every cell."""

    def counts(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Events per cell; points outside every cell are dropped (they cannot be forecast or scored)."""
        idx = self.assign(x, y)
        return np.bincount(idx[idx >= 0], minlength=self.size).astype(float)


@dataclass
class RectGrid(Grid):
    """Axis-aligned rectangles of dx * dy metres; `keep` holds the (ix, iy) of the cells in the study area."""

    x0: float = 0.0
    y0: float = 0.0
    dx: float = 1.0
    dy: float = 1.0
    _lookup: dict[tuple[int, int], int] = field(default_factory=dict, repr=False)
    _table: np.ndarray | None = field(default=None, repr=False)
    _lo: np.ndarray | None = field(default=None, repr=False)

    def assign(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ix = np.floor((np.asarray(x, dtype=float) - self.x0) / self.dx).astype(np.int64)
        iy = np.floor((np.asarray(y, dtype=float) - self.y0) / self.dy).astype(np.int64)
        if self._table is None:  # a dense (ix, iy) -> index table: one array lookup instead of a dict per point
            keys = np.array(list(self._lookup), dtype=np.int64).reshape(-1, 2)
            self._lo = keys.min(axis=0) if keys.size else np.zeros(2, dtype=np.int64)
            shape = (keys.max(axis=0) - self._lo + 1) if keys.size else np.ones(2, dtype=np.int64)
            self._table = np.full(tuple(shape.tolist()), -1, dtype=np.int64)
            for (a, b), i in self._lookup.items():
                self._table[a - self._lo[0], b - self._lo[1]] = i
        ix, iy = ix - self._lo[0], iy - self._lo[1]
        ok = (ix >= 0) & (iy >= 0) & (ix < self._table.shape[0]) & (iy < self._table.shape[1])
        out = np.full(ix.shape, -1, dtype=np.int64)
        out[ok] = self._table[ix[ok], iy[ok]]
        return out


def rect_grid(x0: float, y0: float, dx: float, dy: float, cells: list[tuple[int, int]]) -> RectGrid:
    """A rectangular grid made of the listed (ix, iy) cells, in the order given (sorted for determinism)."""
    keep = sorted(set(cells))
    centres = np.array([[x0 + (ix + 0.5) * dx, y0 + (iy + 0.5) * dy] for ix, iy in keep], dtype=float).reshape(-1, 2)
    return RectGrid(
        ids=[f"{ix} {iy}" for ix, iy in keep],
        centres=centres,
        areas=np.full(len(keep), dx * dy),
        spacing=float(math.sqrt(dx * dy)),
        x0=x0,
        y0=y0,
        dx=dx,
        dy=dy,
        _lookup={c: i for i, c in enumerate(keep)},
    )


def square_grid_over(x: np.ndarray, y: np.ndarray, size: float, boundary: np.ndarray | None = None) -> RectGrid:
    """Square cells of `size` metres covering the bounding box of the points (or of `boundary`).

    With a boundary polygon ((K, 2) vertices), only cells whose centre lies inside it are kept: the study area A
    of PAI is then the area inside the boundary, as in the NIJ challenge.
    """
    bx, by = (boundary[:, 0], boundary[:, 1]) if boundary is not None else (np.asarray(x), np.asarray(y))
    x0, y0 = math.floor(float(np.min(bx)) / size) * size, math.floor(float(np.min(by)) / size) * size
    nx = math.floor((float(np.max(bx)) - x0) / size) + 1
    ny = math.floor((float(np.max(by)) - y0) / size) + 1
    cells = [(i, j) for i in range(nx) for j in range(ny)]
    if boundary is not None:
        cx = np.array([x0 + (i + 0.5) * size for i, _ in cells])
        cy = np.array([y0 + (j + 0.5) * size for _, j in cells])
        inside = points_in_polygon(cx, cy, boundary)
        cells = [c for c, ok in zip(cells, inside, strict=True) if ok]
    return rect_grid(x0, y0, size, size, cells)


def degree_grid(projection: LocalProjection, lon0: float, lat0: float, step: float,
                lon: np.ndarray, lat: np.ndarray) -> RectGrid:
    """`step`-degree boxes anchored at (lon0, lat0), keeping the boxes that contain at least one of the points.

    Under the equirectangular projection a degree box is the same rectangle everywhere, so this is a RectGrid.
    The cell id "cx cy" is floor((lon-lon0)/step), floor((lat-lat0)/step) as in the team's scan-statistic data.
    Note: keeping 'cells that ever had an event' uses the full point set you pass; pass training-era points only
    if the universe itself must not look ahead.
    """
    ox, oy = projection.to_xy(np.array([lon0]), np.array([lat0]))
    ex, ey = projection.to_xy(np.array([lon0 + step]), np.array([lat0 + step]))
    dx, dy = float(ex[0] - ox[0]), float(ey[0] - oy[0])
    ix = np.floor((np.asarray(lon) - lon0) / step).astype(int)
    iy = np.floor((np.asarray(lat) - lat0) / step).astype(int)
    return rect_grid(float(ox[0]), float(oy[0]), dx, dy, list(zip(ix.tolist(), iy.tolist(), strict=True)))


@dataclass
class H3Grid(Grid):
    """H3 cells at one resolution; events are projected back to lon/lat to find their cell."""

    projection: LocalProjection | None = None
    resolution: int = 0
    _lookup: dict[str, int] = field(default_factory=dict, repr=False)

    def assign(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        import h3

        assert self.projection is not None
        lon, lat = self.projection.to_lonlat(x, y)
        return np.array([self._lookup.get(h3.latlng_to_cell(la, lo, self.resolution), -1)
                         for lo, la in zip(lon.tolist(), lat.tolist(), strict=True)], dtype=np.int64)


def h3_grid(projection: LocalProjection, resolution: int, cells: list[str]) -> H3Grid:
    """Grid over the given H3 cells (sorted for determinism); areas are H3's own, centres projected to metres."""
    import h3

    keep = sorted(set(cells))
    lat, lon = (np.array(v, dtype=float) for v in zip(*[h3.cell_to_latlng(c) for c in keep], strict=True))
    cx, cy = projection.to_xy(lon, lat)
    areas = np.array([h3.cell_area(c, unit="m^2") for c in keep])
    # Neighbouring hexagon centres are sqrt(3) * edge apart; edge from the mean area of a regular hexagon.
    edge = math.sqrt(2 * float(np.mean(areas)) / (3 * math.sqrt(3)))
    return H3Grid(ids=keep, centres=np.column_stack([cx, cy]), areas=areas, spacing=math.sqrt(3) * edge,
                  projection=projection, resolution=resolution, _lookup={c: i for i, c in enumerate(keep)})


def h3_cells_of(projection: LocalProjection, resolution: int, x: np.ndarray, y: np.ndarray) -> list[str]:
    import h3

    lon, lat = projection.to_lonlat(x, y)
    return sorted({h3.latlng_to_cell(la, lo, resolution) for lo, la in zip(lon.tolist(), lat.tolist(), strict=True)})


def points_in_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd ray casting, vectorised over points; points exactly on an edge may fall either way."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    inside = np.zeros(x.shape, dtype=bool)
    px, py = polygon[:, 0], polygon[:, 1]
    qx, qy = np.roll(px, -1), np.roll(py, -1)
    for ax, ay, bx, by in zip(px, py, qx, qy, strict=True):
        crosses = (ay > y) != (by > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = ax + (y - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (x < xint)
    return inside
