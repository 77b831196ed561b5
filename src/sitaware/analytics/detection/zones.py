"""Candidate zones for scan statistics: k-nearest-neighbour sets and a fast way to sum over them.

Kept apart from the scan itself because zones are configuration (built once per area, reused for every
analysis) while the scan runs every period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def knn_zones(coords: np.ndarray | Sequence[Sequence[float]], max_k: int = 10) -> list[tuple[int, ...]]:
    """Zones made of each cell and its 1..max_k nearest cells (itself included), duplicates removed.

    Cell indices are 0-based. The order reproduces R scanstatistics' ``knn_zones(coords_to_knn(x, k))``:
    cell by cell, k = 1..max_k, each zone sorted, a set already seen skipped. Distance ties keep the lower
    cell index first (R's ``order`` is stable), so identical inputs give identical zone numbers.
    """
    xy = np.asarray(coords, dtype=float)
    if xy.ndim != 2 or xy.shape[0] == 0:
        raise ValueError("knn_zones needs a non-empty (cells x dims) coordinate array (empty area)")
    if not np.all(np.isfinite(xy)):
        raise ValueError("knn_zones: coordinates must be finite numbers")
    n_cells = xy.shape[0]
    if not 1 <= max_k <= n_cells:
        raise ValueError(f"max_k must be between 1 and the number of cells ({n_cells}), got {max_k}")
    zones: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    # Row blocks keep the distance matrix small for 10,000+ cells.
    block = max(1, 2_000_000 // n_cells)
    for start in range(0, n_cells, block):
        # Summing squared differences dimension by dimension, then sqrt, is what R's dist() does: the same
        # floating-point ties break the same way.
        sq = np.zeros((min(block, n_cells - start), n_cells))
        for dim in range(xy.shape[1]):
            dev = xy[start : start + block, dim][:, None] - xy[:, dim][None, :]
            sq += dev * dev
        order = _nearest(np.sqrt(sq), max_k)
        for row in order:
            for k in range(1, max_k + 1):
                zone = tuple(sorted(int(c) for c in row[:k]))
                if zone not in seen:
                    seen.add(zone)
                    zones.append(zone)
    return zones


def _nearest(dist: np.ndarray, k: int) -> np.ndarray:
    """Per row, the column indices of the k smallest values, ties to the lower index (a stable argsort).

    A partial sort of a few more than k columns is enough unless a tie straddles its edge; those rare rows
    get the full stable sort.
    """
    n = dist.shape[1]
    wide = min(n, k + 8)
    if wide == n:
        return np.argsort(dist, axis=1, kind="stable")[:, :k]
    part = np.argpartition(dist, wide - 1, axis=1)[:, :wide]
    values = np.take_along_axis(dist, part, axis=1)
    order = np.lexsort((part, values), axis=1)  # by value, then by column index
    part = np.take_along_axis(part, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    # Columns left outside the partial sort are all >= its largest value; if that equals the k-th value, a
    # tied column with a lower index may have been left out.
    unsure = values[:, k - 1] >= values[:, wide - 1]
    result = part[:, :k].copy()
    if unsure.any():
        result[unsure] = np.argsort(dist[unsure], axis=1, kind="stable")[:, :k]
    return result


@dataclass(frozen=True)
class ZonePlan:
    """How to get every zone's sum from per-cell rows with as little work as possible.

    Most k-nearest zones are a smaller zone plus one cell, so a zone's sum is its parent's sum plus one row:
    one addition per zone instead of one per member cell. Zones without such a parent are summed directly.
    """

    n_cells: int
    cells: tuple[np.ndarray, ...]  # members of each zone, 0-based, sorted
    direct: np.ndarray  # zones summed from their cells (no parent zone found)
    direct_indptr: np.ndarray  # CSR layout of the direct zones' member cells
    direct_cells: np.ndarray
    levels: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # (zones, parents, extra cell), by size

    @property
    def n_zones(self) -> int:
        return len(self.cells)

    def sum_rows(self, rows: np.ndarray) -> np.ndarray:
        """Sum per-cell rows (cells x ...) over every zone, giving (zones x ...) in zone order."""
        out = np.empty((self.n_zones, *rows.shape[1:]), dtype=rows.dtype)
        if self.direct.size:
            if self.direct_indptr[-1] == self.direct.size:  # single cells: a plain gather
                out[self.direct] = rows[self.direct_cells]
            else:
                out[self.direct] = np.add.reduceat(rows[self.direct_cells], self.direct_indptr[:-1], axis=0)
        for zones, parents, extra in self.levels:
            if zones.size and zones[-1] - zones[0] + 1 == zones.size:  # contiguous: write in place, no scatter
                np.add(out[parents], rows[extra], out=out[zones[0] : zones[-1] + 1])
            else:
                out[zones] = out[parents] + rows[extra]
        return out

    def topological(self) -> tuple[np.ndarray, ZonePlan]:
        """The same zones renumbered so each size level is a contiguous block (faster ``sum_rows``).

        Returns (old zone number of each new zone, new plan).
        """
        old = np.concatenate([self.direct, *(zones for zones, _, _ in self.levels)])
        new_of_old = np.empty_like(old)
        new_of_old[old] = np.arange(old.size)
        plan = ZonePlan(
            n_cells=self.n_cells,
            cells=tuple(self.cells[z] for z in old),
            direct=new_of_old[self.direct],
            direct_indptr=self.direct_indptr,
            direct_cells=self.direct_cells,
            levels=tuple((new_of_old[z], new_of_old[p], e) for z, p, e in self.levels),
        )
        return old, plan


def plan_zones(zones: Sequence[Sequence[int]], n_cells: int) -> ZonePlan:
    """Validate zones (0-based cell lists) and work out the parent chain used by ``ZonePlan.sum_rows``."""
    if n_cells <= 0:
        raise ValueError("the area has no cells (empty area)")
    if len(zones) == 0:
        raise ValueError("no candidate zones given")
    cells: list[np.ndarray] = []
    index: dict[tuple[int, ...], int] = {}
    covered = np.zeros(n_cells, dtype=bool)
    for number, zone in enumerate(zones):
        members = np.unique(np.asarray(list(zone), dtype=np.int64))
        if members.size == 0:
            raise ValueError(f"zone {number} is empty")
        if members[0] < 0 or members[-1] >= n_cells:
            raise ValueError(f"zone {number} refers to a cell outside 0..{n_cells - 1}")
        covered[members] = True
        cells.append(members)
        index.setdefault(tuple(members.tolist()), number)
    if not covered.all():
        missing = np.flatnonzero(~covered)
        raise ValueError(
            f"{missing.size} cell(s) belong to no zone (cells without neighbours), e.g. cell {int(missing[0])}: "
            "every cell must be in at least one candidate zone"
        )
    parent = np.full(len(cells), -1, dtype=np.int64)
    extra = np.full(len(cells), -1, dtype=np.int64)
    for number, members in enumerate(cells):
        if members.size < 2:
            continue
        key = members.tolist()
        # Try dropping the cells last-added by k-nearest construction first; any subset found will do.
        for drop in range(len(key) - 1, -1, -1):
            found = index.get(tuple(key[:drop] + key[drop + 1 :]))
            if found is not None and found != number:
                parent[number], extra[number] = found, key[drop]
                break
    sizes = np.array([m.size for m in cells])
    direct = np.flatnonzero(parent < 0)
    direct_cells = np.concatenate([cells[z] for z in direct]) if direct.size else np.zeros(0, dtype=np.int64)
    direct_indptr = np.concatenate([[0], np.cumsum(sizes[direct])]).astype(np.int64)
    levels = []
    chained = np.flatnonzero(parent >= 0)
    # A parent is one cell smaller, so processing by size guarantees parents are done first.
    for size in np.unique(sizes[chained]):
        at = chained[sizes[chained] == size]
        levels.append((at, parent[at], extra[at]))
    return ZonePlan(
        n_cells=n_cells,
        cells=tuple(cells),
        direct=direct,
        direct_indptr=direct_indptr,
        direct_cells=direct_cells,
        levels=tuple(levels),
    )
