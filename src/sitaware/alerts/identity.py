"""Cluster identity: is a cluster found now the same as an alert raised before? Pure (no Django).

A space-time cluster has no natural id: a later run finds it again with a cell more or less and a window that
has moved on. Two clusters are taken to be the same when

- at least MIN_OVERLAP (50%) of the smaller cluster's cells are also cells of the other (so a cluster that grew
  from 4 to 8 cells is still "the same" as its 4-cell beginning), and
- their time windows overlap (share at least one instant).

A rejected alert is not raised again for the same cluster unless it has grown: its observed count must reach
`regrowth_threshold(previous)`: at least REGROWTH (25%) more events than when it was rejected, and at least
REGROWTH_MIN (2) more, so that a small cluster does not come back for one event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIN_OVERLAP = 0.5
REGROWTH = 0.25
REGROWTH_MIN = 2


@dataclass(frozen=True)
class Identity:
    cells: frozenset[str]
    window_start: dt.datetime
    window_end: dt.datetime


def cell_overlap(a: Iterable[str], b: Iterable[str]) -> float:
    """Share of the smaller cell set that lies in the other (0 when either is empty)."""
    first, second = set(a), set(b)
    if not first or not second:
        return 0.0
    return len(first & second) / min(len(first), len(second))


def windows_overlap(a_start: dt.datetime, a_end: dt.datetime, b_start: dt.datetime, b_end: dt.datetime) -> bool:
    """Whether [a_start, a_end) and [b_start, b_end) share an instant."""
    return a_start < b_end and b_start < a_end


def same_cluster(a: Identity, b: Identity) -> bool:
    return cell_overlap(a.cells, b.cells) >= MIN_OVERLAP and windows_overlap(
        a.window_start, a.window_end, b.window_start, b.window_end)


def best_match(found: Identity, earlier: Sequence[tuple[object, Identity]]) -> object | None:
    """The earlier alert (the first element of each pair) that `found` continues: the largest cell overlap among
    those that are the same cluster, the earliest listed on ties (callers list the newest first)."""
    best, best_overlap = None, -1.0
    for key, identity in earlier:
        if same_cluster(found, identity):
            overlap = cell_overlap(found.cells, identity.cells)
            if overlap > best_overlap:
                best, best_overlap = key, overlap
    return best


def regrowth_threshold(observed_when_rejected: int) -> int:
    """The observed count a cluster must reach to be raised again after a rejection."""
    return max(observed_when_rejected + REGROWTH_MIN, math.ceil(observed_when_rejected * (1 + REGROWTH)))


def grew_enough(observed_when_rejected: int, observed_now: int) -> bool:
    return observed_now >= regrowth_threshold(observed_when_rejected)


def cluster_key(cells: Iterable[str], window_end: dt.datetime) -> str:
    """A short, stable name for one finding (cells + window end), for logs and CAP parameters."""
    text = ",".join(sorted(cells)) + "|" + window_end.astimezone(dt.UTC).isoformat()
    return hashlib.sha256(text.encode()).hexdigest()[:16]
