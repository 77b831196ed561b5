"""Readers for the public evaluation data sets (UCDP GED, Portland NIJ burglary) into Events. Place and time only:
actor, victim and narrative columns are never read."""

from __future__ import annotations

import csv
import datetime as dt
import math
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


def oregon_north_to_lonlat(x_ft: np.ndarray, y_ft: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:2913 (NAD83(HARN) / Oregon North, international feet) to longitude, latitude in degrees.

    The inverse Lambert conformal conic (two standard parallels, GRS80; Snyder 1987, eq. 15-1 to 15-11), written
    out so the package needs no PROJ. Checked against pyproj on the Portland burglary points: within 1.2 m (the
    NAD83(HARN)-WGS84 datum shift that pyproj applies and this does not), far below an H3 cell's size.
    """
    a, f = 6_378_137.0, 1 / 298.257222101
    e = math.sqrt(f * (2 - f))
    phi1, phi2, phi0 = (math.radians(v) for v in (46.0, 44 + 20 / 60, 43 + 40 / 60))
    lam0, false_easting = math.radians(-120.5), 2_500_000.0

    def m(phi: float) -> float:
        return math.cos(phi) / math.sqrt(1 - (e * math.sin(phi)) ** 2)

    def t(phi: float) -> float:
        es = e * math.sin(phi)
        return math.tan(math.pi / 4 - phi / 2) / ((1 - es) / (1 + es)) ** (e / 2)

    n = (math.log(m(phi1)) - math.log(m(phi2))) / (math.log(t(phi1)) - math.log(t(phi2)))
    big_f = m(phi1) / (n * t(phi1) ** n)
    rho0 = a * big_f * t(phi0) ** n
    x = np.asarray(x_ft, dtype=float) * FOOT_M - false_easting
    y = rho0 - np.asarray(y_ft, dtype=float) * FOOT_M
    tt = (np.hypot(x, y) / (a * big_f)) ** (1 / n)
    lam = np.arctan2(x, y) / n + lam0
    phi = np.pi / 2 - 2 * np.arctan(tt)
    for _ in range(8):  # converges to < 1e-12 rad in 4-5 steps at these latitudes
        es = e * np.sin(phi)
        phi = np.pi / 2 - 2 * np.arctan(tt * ((1 - es) / (1 + es)) ** (e / 2))
    return np.degrees(lam), np.degrees(phi)


def read_portland_nij_lonlat(path: Path, projection: LocalProjection | None = None) -> LonLatEvents:
    """The Portland burglary points as longitude/latitude (for H3 cells), and in metres of a local projection."""
    state_plane = read_portland_nij(path)
    lon, lat = oregon_north_to_lonlat(state_plane.x / FOOT_M, state_plane.y / FOOT_M)
    proj = projection or LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
    x, y = proj.to_xy(lon, lat)
    return LonLatEvents(Events(state_plane.t, x, y), lon, lat, proj)
