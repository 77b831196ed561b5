"""Which travel-time provider a plan uses, chosen per request, validated here, and rebuilt the same for edits.

The planner's `travel` object (absent: the site's default, `SITAWARE_PLANNING_TRAVEL` as JSON, else straight line):

- `{"provider": "straight_line", "detour": {"vehicle": 1.3, "foot": 1.2}}`: great-circle x detour / speed.
  Transit may cross no-go cells.
- `{"provider": "speed_grid", "resolution": 8, "margin_m": 2000, "impassable": [h3...], "speeds_kmh": {h3: kmh}}`:
  an H3 grid covering every base and cell (plus the margin) in which the plan's **no-go cells** and the listed
  impassable cells cannot be crossed; other cells cap the unit's speed when `speeds_kmh` says so.
- `{"provider": "osm", "extract": "bangui.osm.pbf", "max_snap_m": 500}`: the mission's OpenStreetMap extract
  (a file in the extracts folder: `SITAWARE_OSM_DIR`, default `<data dir>/osm`; uploaded with
  `upload_extract`). Vehicles follow drivable roads and one-way streets, foot patrols walkable ways.

`build` returns the provider and what the plan records (`described`: provider, rules version, extract
SHA-256 or grid hash), so the plan can be re-run and every later edit is checked with the same travel times;
if the extract file or the grid changed since, the edit is refused rather than checked against other times.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import h3
from django.conf import settings
from django.utils.translation import gettext as _

from sitaware.planning.solver.osm import DEFAULT_MAX_SNAP_M, OsmExtract, OsmExtractError, RoadGraph
from sitaware.planning.solver.problem import PlanningInputError, PlanningRequest, Unit
from sitaware.planning.solver.travel import CellGraph, Point, StraightLine, TravelProvider

PROVIDERS = ("straight_line", "speed_grid", "osm")
RULES = {"straight_line": "straight-line-1", "speed_grid": "h3-grid-1", "osm": "osm-roads-1"}
GRID_MAX_CELLS = 200_000
GRID_FREE_KMH = 1000.0  # a grid cell without a speed of its own does not slow the unit
DEFAULT_GRID_MARGIN_M = 2000.0
EXTRACT_SUFFIXES = (".osm.pbf", ".osm")


@dataclass
class Travel:
    provider: TravelProvider
    spec: dict[str, Any]  # what was asked, normalised (stored with the request)
    described: dict[str, Any]  # what the plan records: provider, rules, hashes


def extracts_dir() -> Path:
    return Path(os.environ.get("SITAWARE_OSM_DIR") or Path(settings.DATA_DIR) / "osm")


def _problem(where: str, message: str) -> PlanningInputError:
    return PlanningInputError([{"field": where, "message": str(message)}])


def _points(request: PlanningRequest) -> list[tuple[str, float, float]]:
    out = [(f"units[{i}].base", u.base_lat, u.base_lon) for i, u in enumerate(request.units)
           if u.base_lat is not None and u.base_lon is not None]  # fmt: skip
    return out + [(f"cells[{i}]", c.lat, c.lon) for i, c in enumerate(request.cells)]


def site_default_set() -> bool:
    return bool(os.environ.get("SITAWARE_PLANNING_TRAVEL", "").strip())


def default_spec() -> dict[str, Any]:
    """The site's default, set by the administrator in the environment; an organisation's own default (stored,
    `services.set_default_travel`) comes first, and the caller passes it to `build` as the spec."""
    raw = os.environ.get("SITAWARE_PLANNING_TRAVEL", "").strip()
    if not raw:
        return {"provider": "straight_line"}
    try:
        spec = json.loads(raw)
    except ValueError:
        spec = None
    if not isinstance(spec, dict):
        raise _problem("travel", _("the site's default travel setting (SITAWARE_PLANNING_TRAVEL) is not a JSON "
                                   "object; give travel in the request or ask the administrator to fix it"))
    return spec


def check_spec(spec_in: Any) -> dict[str, Any]:
    """A travel object checked on its own, before any plan names cells (an organisation's default): the same
    rules and messages as `build`, normalised. What depends on the plan (a grid over its cells, whether the
    extract covers its bases) is checked again by `build` when a plan uses it."""
    if not isinstance(spec_in, dict):
        raise _problem("travel", _("give the travel times as an object, e.g. {\"provider\": \"straight_line\"}"))
    kind = spec_in.get("provider", "straight_line")
    if kind not in PROVIDERS:
        raise _problem("travel.provider", _("use one of %(v)s") % {"v": ", ".join(PROVIDERS)})
    if kind == "straight_line":
        return _straight(spec_in, None).spec  # type: ignore[arg-type]  # the request is not read
    if kind == "speed_grid":
        res, margin, given, extra = _grid_params(spec_in, 8)
        spec: dict[str, Any] = {"provider": "speed_grid", "margin_m": margin, "impassable": sorted(map(str, extra)),
                                "speeds_kmh": {str(k): float(v) for k, v in sorted(given.items())}}
        if "resolution" in spec_in:  # absent: the cells' own resolution when the plan is made
            spec["resolution"] = res
        return spec
    path, snap, _graph = _osm_graph(spec_in)
    return {"provider": "osm", "extract": path.name, "max_snap_m": snap}


def build(spec_in: Any, request: PlanningRequest, *, expected: Mapping[str, Any] | None = None) -> Travel:
    """The provider for a request. PlanningInputError names the field (`travel.*`) and what to do."""
    if spec_in is None:
        spec_in = default_spec()
    if not isinstance(spec_in, dict):
        raise _problem("travel", _("give the travel times as an object, e.g. {\"provider\": \"straight_line\"}"))
    kind = spec_in.get("provider", "straight_line")
    if kind not in PROVIDERS:
        raise _problem("travel.provider", _("use one of %(v)s") % {"v": ", ".join(PROVIDERS)})
    if kind == "osm":
        travel = _osm(spec_in, request, expected)
    else:
        travel = {"straight_line": _straight, "speed_grid": _grid}[kind](spec_in, request)
    travel.described = {"provider": kind, "rules": RULES[kind], **travel.described}
    if expected:
        _same_as(expected, travel.described)
    return travel


def _same_as(expected: Mapping[str, Any], now: Mapping[str, Any]) -> None:
    """An edit must be timed exactly as the proposal was: refuse if the extract or grid changed."""
    for key in ("provider", "rules", "sha256", "grid_hash"):
        if expected.get(key) != now.get(key):
            what = expected.get("extract") or expected.get("provider")
            raise _problem("travel", _("the travel data of this plan (%(what)s) changed since the plan was made "
                                       "(%(key)s %(old)s, now %(new)s); propose a new plan")
                           % {"what": what, "key": key, "old": str(expected.get(key))[:16],
                              "new": str(now.get(key))[:16]})


# --------------------------------------------------------------------------------------------- straight line
def _straight(spec_in: dict[str, Any], request: PlanningRequest) -> Travel:
    detour_in = spec_in.get("detour") or {}
    detour = {"vehicle": 1.3, "foot": 1.2}
    if not isinstance(detour_in, dict):
        raise _problem("travel.detour", _("give detour factors by mode, e.g. {\"vehicle\": 1.3, \"foot\": 1.2}"))
    for mode, value in detour_in.items():
        if mode not in detour:
            raise _problem(f"travel.detour.{mode}", _("use vehicle or foot"))
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1.0 <= value <= 5.0:
            raise _problem(f"travel.detour.{mode}", _("a detour factor is a number from 1 to 5"))
        detour[mode] = float(value)
    spec = {"provider": "straight_line", "detour": detour}
    return Travel(StraightLine(detour=detour), spec, {"detour": detour})


# --------------------------------------------------------------------------------------------- speed grid
def _to_res(cell: str, res: int) -> set[str]:
    r = h3.get_resolution(cell)
    if r == res:
        return {cell}
    if r < res:
        return set(h3.cell_to_children(cell, res))
    return {h3.cell_to_parent(cell, res)}


def _grid_params(spec_in: dict[str, Any], default_res: int) -> tuple[int, float, dict[str, Any], list[Any]]:
    """The grid's own settings, checked without a request (also for an organisation's default)."""
    res = spec_in.get("resolution", default_res)
    if isinstance(res, bool) or not isinstance(res, int) or not 5 <= res <= 11:
        raise _problem("travel.resolution", _("an H3 resolution from 5 to 11"))
    margin = spec_in.get("margin_m", DEFAULT_GRID_MARGIN_M)
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin <= 50_000:
        raise _problem("travel.margin_m", _("metres from 0 to 50,000"))
    given = spec_in.get("speeds_kmh") or {}
    if not isinstance(given, dict):
        raise _problem("travel.speeds_kmh", _("give speeds as {h3 cell: km/h}"))
    for cid, kmh in given.items():
        if not h3.is_valid_cell(str(cid)):
            raise _problem("travel.speeds_kmh", _("%(c)s is not an H3 cell") % {"c": cid})
        if isinstance(kmh, bool) or not isinstance(kmh, int | float) or not 0 <= kmh <= 200:
            raise _problem("travel.speeds_kmh", _("a speed is a number of km/h from 0 to 200"))
    extra = spec_in.get("impassable") or []
    if not isinstance(extra, list) or not all(h3.is_valid_cell(str(c)) for c in extra):
        raise _problem("travel.impassable", _("give a list of H3 cells"))
    return res, float(margin), given, extra


def _grid(spec_in: dict[str, Any], request: PlanningRequest) -> Travel:
    cell_res = {h3.get_resolution(c.id) for c in request.cells if h3.is_valid_cell(c.id)}
    res, margin, given, extra = _grid_params(spec_in, cell_res.pop() if len(cell_res) == 1 else 8)
    points = _points(request)
    lats = [p[1] for p in points]
    lons = [p[2] for p in points]
    dlat = margin / 111_195.0
    dlon = dlat / max(math.cos(math.radians(max(abs(min(lats)), abs(max(lats))))), 1e-6)
    box = [(min(lats) - dlat, min(lons) - dlon), (min(lats) - dlat, max(lons) + dlon),
           (max(lats) + dlat, max(lons) + dlon), (max(lats) + dlat, min(lons) - dlon)]  # fmt: skip
    # Estimate before enumerating, so a huge area is refused without building it.
    area_km2 = (box[2][0] - box[0][0]) * 111.195 * (box[1][1] - box[0][1]) * 111.195 * math.cos(math.radians(lats[0]))
    if area_km2 / h3.average_hexagon_area(res, "km^2") > GRID_MAX_CELLS:
        raise _problem("travel.resolution", _("the area needs more than %(n)d cells at resolution %(r)d; use a "
                                              "coarser resolution") % {"n": GRID_MAX_CELLS, "r": res})
    grid = set(h3.polygon_to_cells(h3.LatLngPoly(box), res))
    grid |= {h3.latlng_to_cell(lat, lon, res) for _, lat, lon in points}
    speeds = dict.fromkeys(grid, GRID_FREE_KMH)
    for cid, kmh in given.items():
        for c in _to_res(str(cid), res) & grid:
            speeds[c] = float(kmh)
    cells = {c.id: c for c in request.cells}
    blocked: set[str] = set()
    for cid in request.no_go:
        c = cells[cid]
        blocked |= _to_res(cid, res) if h3.is_valid_cell(cid) else {h3.latlng_to_cell(c.lat, c.lon, res)}
    blocked |= {x for c in extra for x in _to_res(str(c), res)}
    for c in blocked & grid:
        speeds[c] = 0.0
    # A base or a candidate cell inside an impassable cell could only leave it by crossing it.
    for where, lat, lon in points:
        home = h3.latlng_to_cell(lat, lon, res)
        cid = request.cells[int(where[6:-1])].id if where.startswith("cells[") else None
        if speeds.get(home) == 0.0 and cid not in request.no_go:
            raise _problem(where, _("this point lies in an impassable grid cell (%(c)s: no-go or impassable); move "
                                    "it, or mark the cell no-go") % {"c": home})
    graph = _grid_graph(tuple(sorted(speeds.items())))
    digest = hashlib.sha256(json.dumps(sorted(speeds.items())).encode()).hexdigest()
    spec = {"provider": "speed_grid", "resolution": res, "margin_m": float(margin),
            "impassable": sorted(map(str, extra)), "speeds_kmh": {str(k): float(v) for k, v in sorted(given.items())}}
    described = {"resolution": res, "cells": len(speeds), "impassable_cells": sum(1 for v in speeds.values() if v == 0),
                 "grid_hash": digest}  # fmt: skip
    return Travel(graph, spec, described)


@lru_cache(maxsize=8)
def _grid_graph(speeds: tuple[tuple[str, float], ...]) -> CellGraph:
    return CellGraph.from_h3(dict(speeds))


# --------------------------------------------------------------------------------------------- OSM extract
def _extract_path(name: Any) -> Path:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise _problem("travel.extract", _("give the file name of an extract in the extracts folder, e.g. "
                                           "bangui.osm.pbf"))
    return extracts_dir() / name


@lru_cache(maxsize=4)
def _road_graph(path: str, size: int, mtime_ns: int, max_snap_m: float) -> RoadGraph:
    # Keyed on size and modification time too, so a replaced file is read again (and its new hash seen).
    return RoadGraph(OsmExtract.read(path), max_snap_m=max_snap_m)


def road_graph(path: Path, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> RoadGraph:
    stat = path.stat()
    return _road_graph(str(path), stat.st_size, stat.st_mtime_ns, float(max_snap_m))


def _osm_graph(spec_in: dict[str, Any]) -> tuple[Path, float, RoadGraph]:
    """The extract named in the spec, read (cached): checked without a request (also for a default)."""
    path = _extract_path(spec_in.get("extract"))
    snap = spec_in.get("max_snap_m", DEFAULT_MAX_SNAP_M)
    if isinstance(snap, bool) or not isinstance(snap, int | float) or not 0 < snap <= 10_000:
        raise _problem("travel.max_snap_m", _("metres from a cell to its nearest road, more than 0 and at most "
                                              "10,000"))
    if not path.is_file():
        raise _problem("travel.extract", _("no OSM extract named %(name)s in the extracts folder; upload it first")
                       % {"name": path.name})
    try:
        return path, float(snap), road_graph(path, float(snap))
    except OsmExtractError as exc:
        raise _problem("travel.extract", str(exc)) from None


def _osm(spec_in: dict[str, Any], request: PlanningRequest, expected: Mapping[str, Any] | None = None) -> Travel:
    path, snap, provider = _osm_graph(spec_in)
    if expected:  # a stored plan: a different file under the same name is the first thing to say
        _same_as(expected, {**expected, "sha256": provider.extract.sha256})
    outside = [(where, lat, lon) for where, lat, lon in _points(request)
               if not provider.extract.covers(lat, lon, margin_m=float(snap))]  # fmt: skip
    if outside:
        b = provider.extract.bounds
        sample = "; ".join(f"{w} ({lat:.5f}, {lon:.5f})" for w, lat, lon in outside[:5])
        raise _problem("travel.extract", _("the extract %(name)s does not cover %(n)d of the plan's bases and cells "
                                           "(%(sample)s); it covers latitude %(a).4f to %(b).4f, longitude %(c).4f to "
                                           "%(d).4f. Use an extract of the whole area.")
                       % {"name": path.name, "n": len(outside), "sample": sample, "a": b[0], "b": b[2], "c": b[1],
                          "d": b[3]})  # fmt: skip
    for i, u in enumerate(request.units):
        if u.mode not in ("vehicle", "foot"):
            raise _problem(f"units[{i}].mode", _("the road graph knows vehicle and foot"))
    from importlib.metadata import version

    spec = {"provider": "osm", "extract": path.name, "max_snap_m": float(snap)}
    return Travel(provider, spec, {**provider.describe(), "reader": f"pyosmium-{version('osmium')}"})


def list_extracts() -> list[dict[str, Any]]:
    """The extracts a plan can use: name, size, SHA-256 and bounds (unreadable files say why)."""
    folder = extracts_dir()
    return [_summary(p) for p in (sorted(folder.iterdir()) if folder.is_dir() else [])
            if p.is_file() and p.name.endswith(EXTRACT_SUFFIXES)]


def summaries_dir() -> Path:
    return Path(settings.DATA_DIR) / "cache" / "osm-summaries"


def _summary(path: Path) -> dict[str, Any]:
    """An extract's listing, kept on disk beside the data (keyed on the file's size and modification time): the
    planning form lists the extracts on every view, and reading a country's roads takes seconds to minutes, which
    a page must not wait for after each restart."""
    stat = path.stat()
    where = str(path.resolve())
    key = {"path": where, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    kept = summaries_dir() / f"{hashlib.sha256(where.encode()).hexdigest()[:16]}-{path.name}.json"
    try:
        found = json.loads(kept.read_text())
        if found.get("key") == key:
            return found["summary"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    try:
        rg = road_graph(path)
        summary = {"name": path.name, "size": stat.st_size, "sha256": rg.extract.sha256,
                   "bounds": list(rg.extract.bounds), "roads": len(rg.extract.ways)}
    except OsmExtractError as exc:
        summary = {"name": path.name, "size": stat.st_size, "error": str(exc)}
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps({"key": key, "summary": summary}))
    except OSError:
        pass  # a read-only data folder: the listing is read again next time, nothing else changes
    return summary


def store_extract(name: Any, content: bytes) -> dict[str, Any]:
    """Check an uploaded extract, then place it in the extracts folder under `name` (never over another file)."""
    if not isinstance(name, str) or not name.endswith(EXTRACT_SUFFIXES):
        raise _problem("name", _("the file name must end in .osm.pbf or .osm"))
    target = _extract_path(name)
    limit = int(getattr(settings, "SITAWARE_UPLOAD_MAX_BYTES", 200 * 1024 * 1024))
    if len(content) > limit:
        raise _problem("file", _("the file is larger than %(n)d MB") % {"n": limit // (1024 * 1024)})
    folder = extracts_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise _problem("name", _("an extract named %(name)s already exists; plans made with it rely on it staying "
                                 "the same, so upload the new one under another name") % {"name": name})
    # Same suffix as the target: pyosmium detects the format from the file name.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".osm.pbf" if name.endswith(".pbf") else ".osm")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        try:
            extract = OsmExtract.read(tmp)
        except OsmExtractError as exc:
            raise _problem("file", str(exc).replace(Path(tmp).name, name)) from None
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"name": name, "size": len(content), "sha256": extract.sha256, "bounds": list(extract.bounds),
            "roads": len(extract.ways)}  # fmt: skip


# --------------------------------------------------------------------------------------------- route shapes
def leg_points(provider: TravelProvider, a: Point, b: Point, unit: Unit) -> list[Point]:
    """The way a unit goes from a to b as (lat, lon) points: the straight line, or the graph's fastest path."""
    if isinstance(provider, RoadGraph):
        return provider.path_points(a, b, unit) or [a, b]
    if isinstance(provider, CellGraph):
        nodes = provider.path(a, b, unit)
        return [a, *[(float(provider.lat[i]), float(provider.lon[i])) for i in nodes], b] if nodes else [a, b]
    return [a, b]


def grid_path_cells(provider: CellGraph, a: Point, b: Point, unit: Unit) -> Sequence[str]:
    """The H3 cells a speed-grid path crosses, in order (for checks and the map)."""
    return [str(provider.node_ids[i]) for i in provider.path(a, b, unit)] if provider.node_ids else []
