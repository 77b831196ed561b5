"""Readers for the public evaluation data sets (UCDP GED, Portland NIJ burglary) into Events. Place and time only:
actor, victim and narrative columns are never read."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import Events
from .evaluation import day_number
from .grid import LocalProjection

FOOT_M = 0.3048  # EPSG:2913 is in international feet


@dataclass(frozen=True)
class LonLatEvents:
    events: Events  # metres in `projection`
    lon: np.ndarray  # same order as events
    lat: np.ndarray
    projection: LocalProjection


def read_ucdp_ged(path: Path, max_where_prec: int = 3, max_date_prec: int = 3,
                  projection: LocalProjection | None = None) -> LonLatEvents:
    """UCDP GED rows (the `*_detection.csv` extract) dated by date_start.

    Rows with coarser location or date precision than asked are dropped: an event placed at a province centroid
    would otherwise look like a hot spot there. Defaults match the team's scan-statistic golden data.
    """
    t, lon, lat = [], [], []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if int(row["where_prec"]) > max_where_prec:
                continue
            if "date_prec" in row and row["date_prec"] and int(row["date_prec"]) > max_date_prec:
                continue
            t.append(day_number(dt.date.fromisoformat(row["date_start"][:10])))
            lon.append(float(row["longitude"]))
            lat.append(float(row["latitude"]))
    t_a, lon_a, lat_a = np.array(t), np.array(lon), np.array(lat)
    order = np.argsort(t_a, kind="stable")
    t_a, lon_a, lat_a = t_a[order], lon_a[order], lat_a[order]
    proj = projection or LocalProjection(float(np.mean(lat_a)), float(np.mean(lon_a)))
    x, y = proj.to_xy(lon_a, lat_a)
    return LonLatEvents(Events(t_a, x, y), lon_a, lat_a, proj)


def read_portland_nij(path: Path) -> Events:
    """Portland burglary CFS: occ_date and EPSG:2913 feet, converted to metres (same axes, same origin)."""
    t, x, y = [], [], []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            t.append(day_number(dt.date.fromisoformat(row["occ_date"][:10])))
            x.append(float(row["x_coordina"]) * FOOT_M)
            y.append(float(row["y_coordina"]) * FOOT_M)
    return Events.of(np.array(t), np.array(x), np.array(y))


def read_boundary_feet(path: Path) -> np.ndarray:
    """(K, 2) polygon vertices in metres from an x,y CSV in feet (portland_coords.csv)."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        pts = [(float(r["x"]) * FOOT_M, float(r["y"]) * FOOT_M) for r in csv.DictReader(fh)]
    return np.array(pts)
