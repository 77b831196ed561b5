"""Reading a detector's records and counting them per cell and period. Place-based only: a run reads the time,
H3 cell, category, first-level area and sensitivity of records in the runner's scope, never a narrative, a source
or a person."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import h3
import numpy as np

from sitaware.alerts.models import Detector
from sitaware.core.scope import Actor, active_agreements

READ_FIELDS = ("id", "occurred_at", "h3_cell", "admin1", "sensitivity")
PRECISE_LOCATIONS = ("exact", "near")  # coarser places cannot be put in a cell
PRECISE_TIMES = ("exact", "hour", "day")  # a week-precise record could fall in either of two periods


@dataclass
class Counts:
    matrix: np.ndarray  # periods x cells
    cells: list[str]  # H3 ids at the detector's resolution
    rows: list[tuple[str, int, int, str, int]]  # (record id, period, cell index, admin1, sensitivity)
    latest: dt.datetime | None
    withheld: int
    by_admin1: dict[str, int]


def read_counts(actor: Actor, detector: Detector, start: dt.datetime, end: dt.datetime) -> Counts:
    from sitaware.records.services import scoped_records

    qs = scoped_records(actor).filter(
        category__in=list(detector.categories), status__in=list(detector.statuses), occurred_at__gte=start,
        occurred_at__lt=end, location_precision__in=PRECISE_LOCATIONS, time_precision__in=PRECISE_TIMES)
    area = detector.area
    if "bbox" in area:
        min_lon, min_lat, max_lon, max_lat = area["bbox"]
        qs = qs.filter(latitude__gte=min_lat, latitude__lte=max_lat, longitude__gte=min_lon, longitude__lte=max_lon)
    else:
        qs = qs.filter(admin1__in=list(area["admin1"]))
    # A sharing agreement may withhold time, place or category: such records cannot be counted.
    needed = {"occurred_at", "latitude", "longitude", "category"}
    blind = [a.provider_id for a in active_agreements(actor) if needed & set(a.redacted_fields or [])]
    withheld = qs.filter(organisation_id__in=blind).count() if blind else 0
    if blind:
        qs = qs.exclude(organisation_id__in=blind)
    period = dt.timedelta(days=detector.period_days)
    index: dict[str, int] = {}
    rows = []
    latest = None
    for pk, occurred_at, cell9, admin1, sensitivity in qs.order_by("occurred_at", "id").values_list(*READ_FIELDS):
        cell = h3.cell_to_parent(h3.int_to_str(cell9), detector.resolution)
        t = min(int((occurred_at - start) / period), detector.history_periods - 1)
        rows.append((str(pk), t, index.setdefault(cell, len(index)), admin1 or "", int(sensitivity)))
        latest = occurred_at
    matrix = np.zeros((detector.history_periods, len(index)), dtype=np.int64)
    for _pk, t, c, _a, _s in rows:
        matrix[t, c] += 1
    return Counts(matrix=matrix, cells=list(index), rows=rows, latest=latest, withheld=withheld,
                  by_admin1=dict(Counter(r[3] for r in rows)))


def cell_coords(cells: Sequence[str]) -> np.ndarray:
    """Cell centres in km on a local plane: nearest neighbours should be nearest on the ground, not in degrees."""
    lat_lon = np.array([h3.cell_to_latlng(c) for c in cells])
    lat0 = math.radians(float(lat_lon[:, 0].mean()))
    return np.column_stack([lat_lon[:, 1] * 111.32 * math.cos(lat0), lat_lon[:, 0] * 110.574])
