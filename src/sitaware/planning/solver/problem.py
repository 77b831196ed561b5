"""A shift-planning request in real units (degrees, seconds, km/h) and its validation.

Times are seconds on one common clock (epoch seconds or seconds since midnight: the solver only uses
differences). Datetimes are accepted and converted with `.timestamp()`, so they must be timezone-aware.
Nothing here imports Django: the web layer builds these objects from its models.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# After Koper (1995): police presence deters for a while only if the stay lasts about 10-15 minutes.
DEFAULT_DWELL_S = 900.0
MODES = ("vehicle", "foot")
Mode = Literal["vehicle", "foot"]
TimeLike = float | int | dt.datetime


class PlanningInputError(ValueError):
    """A request that cannot be planned as given; `errors` lists every problem found, not only the first."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        self.errors: list[dict[str, Any]] = [dict(e) for e in errors]
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in self.errors))


def to_seconds(value: TimeLike) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            # A naive datetime means a different instant on every server: refuse rather than guess.
            raise PlanningInputError([{"field": "time", "message": "datetimes must be timezone-aware"}])
        return value.timestamp()
    return float(value)


@dataclass(frozen=True)
class TimeWindow:
    """When a visit may start: arrival after `end` is late; arrival before `start` waits."""

    start: float
    end: float

    @classmethod
    def of(cls, start: TimeLike, end: TimeLike) -> TimeWindow:
        return cls(to_seconds(start), to_seconds(end))


@dataclass(frozen=True)
class Unit:
    id: str
    base_lat: float | None
    base_lon: float | None
    shift_start: float
    shift_end: float
    mode: Mode = "vehicle"
    speed_kmh: float = 30.0

    @classmethod
    def of(
        cls,
        id: str,
        base: tuple[float, float] | None,
        shift_start: TimeLike,
        shift_end: TimeLike,
        mode: Mode = "vehicle",
        speed_kmh: float = 30.0,
    ) -> Unit:
        lat, lon = base if base is not None else (None, None)
        return cls(id, lat, lon, to_seconds(shift_start), to_seconds(shift_end), mode, speed_kmh)

    @property
    def shift_length(self) -> float:
        return self.shift_end - self.shift_start


@dataclass(frozen=True)
class Cell:
    """A candidate place to patrol, e.g. an H3 cell centre.

    `required_visits` > 0 makes the cell mandatory that many times (spread over the day); 0 makes it
    optional with `priority` as its value.
    """

    id: str
    lat: float
    lon: float
    priority: float = 1.0
    dwell_s: float = DEFAULT_DWELL_S
    windows: tuple[TimeWindow, ...] = ()
    required_visits: int = 0


@dataclass(frozen=True)
class Area:
    """The mission's planning area as a lat/lon box; cells outside it are input errors, not silently dropped."""

    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


@dataclass(frozen=True)
class PlanningRequest:
    units: tuple[Unit, ...]
    cells: tuple[Cell, ...]
    no_go: frozenset[str] = frozenset()
    area: Area | None = None
    # Share of the optional visits reserved for cells below the median priority, so the plan keeps
    # looking where nothing has been reported (otherwise the forecast only ever sees where we patrol).
    exploration_share: float = 0.0
    # Cells chosen in each of the last `max_consecutive` shifts are not chosen again as optional visits.
    max_consecutive: int | None = None
    previous_shifts: tuple[frozenset[str], ...] = ()  # oldest first, most recent last
    # Kept on the request so a plan can be reproduced from the request alone.
    seed: int = 0
    time_budget_s: float = 10.0

    @classmethod
    def of(
        cls,
        units: Iterable[Unit],
        cells: Iterable[Cell],
        *,
        no_go: Iterable[str] = (),
        previous_shifts: Iterable[Iterable[str]] = (),
        **kwargs: object,
    ) -> PlanningRequest:
        return cls(
            tuple(units),
            tuple(cells),
            frozenset(no_go),
            previous_shifts=tuple(frozenset(s) for s in previous_shifts),
            **kwargs,  # type: ignore[arg-type]
        )

    @property
    def horizon(self) -> tuple[float, float]:
        return min(u.shift_start for u in self.units), max(u.shift_end for u in self.units)

    def repeat_capped(self) -> frozenset[str]:
        """Cells chosen in every one of the last `max_consecutive` shifts."""
        k = self.max_consecutive
        if k is None or len(self.previous_shifts) < k:
            return frozenset()
        recent = self.previous_shifts[-k:] if k > 0 else ()
        if not recent:
            return frozenset(c.id for c in self.cells)  # k == 0: no repeats at all
        return frozenset.intersection(*recent)


def _(template: str) -> str:
    """Marks a message for translation (makemessages extracts `_`). This module may not import Django, so each
    problem keeps its English template and values, and the planning services translate it."""
    return template


@dataclass
class _Errors:
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, where: str, template: str, **params: Any) -> None:
        self.items.append({"field": where, "message": template.format(**params), "template": template,
                           "params": params})


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def validate(request: PlanningRequest) -> None:
    """Raise PlanningInputError listing everything wrong with the request; return None when it can be planned."""
    err = _Errors()
    if not request.units:
        err.add("units", _("at least one unit is needed"))
    seen_units: set[str] = set()
    for i, u in enumerate(request.units):
        where = f"units[{i}]"
        if u.id in seen_units:
            err.add(f"{where}.id", _("duplicate unit id {unit!r}"), unit=u.id)
        seen_units.add(u.id)
        if u.base_lat is None or u.base_lon is None:
            err.add(f"{where}.base", _("unit {unit!r} has no base"), unit=u.id)
        elif not _finite(u.base_lat, u.base_lon) or not (-90 <= u.base_lat <= 90 and -180 <= u.base_lon <= 180):
            err.add(f"{where}.base", _("unit {unit!r} base ({lat}, {lon}) is not a valid lat/lon"), unit=u.id,
                    lat=u.base_lat, lon=u.base_lon)
        elif request.area is not None and not request.area.contains(u.base_lat, u.base_lon):
            err.add(f"{where}.base", _("unit {unit!r} base is outside the planning area"), unit=u.id)
        if not _finite(u.shift_start, u.shift_end):
            err.add(f"{where}.shift", _("unit {unit!r} shift times must be finite"), unit=u.id)
        elif u.shift_end <= u.shift_start:
            err.add(f"{where}.shift", _("unit {unit!r} shift ends ({end}) before it starts ({start})"), unit=u.id,
                    end=u.shift_end, start=u.shift_start)
        if u.mode not in MODES:
            err.add(f"{where}.mode", _("unit {unit!r} mode {mode!r} is not one of {choices}"), unit=u.id, mode=u.mode,
                    choices=", ".join(MODES))
        if not _finite(u.speed_kmh) or u.speed_kmh <= 0:
            err.add(f"{where}.speed_kmh", _("unit {unit!r} speed must be a positive number of km/h"), unit=u.id)
    if not request.cells:
        err.add("cells", _("at least one candidate cell is needed"))
    seen_cells: set[str] = set()
    for i, c in enumerate(request.cells):
        where = f"cells[{i}]"
        if c.id in seen_cells:
            err.add(f"{where}.id", _("duplicate cell id {cell!r}"), cell=c.id)
        seen_cells.add(c.id)
        if not _finite(c.lat, c.lon) or not (-90 <= c.lat <= 90 and -180 <= c.lon <= 180):
            err.add(f"{where}.location", _("cell {cell!r} ({lat}, {lon}) is not a valid lat/lon"), cell=c.id, lat=c.lat,
                    lon=c.lon)
        elif request.area is not None and not request.area.contains(c.lat, c.lon):
            err.add(f"{where}.location", _("cell {cell!r} is outside the planning area"), cell=c.id)
        if not _finite(c.priority) or c.priority < 0:
            err.add(f"{where}.priority", _("cell {cell!r} priority must be a number ≥ 0"), cell=c.id)
        if not _finite(c.dwell_s) or c.dwell_s < 0:
            err.add(f"{where}.dwell_s", _("cell {cell!r} dwell must be ≥ 0 seconds"), cell=c.id)
        if c.required_visits < 0:
            err.add(f"{where}.required_visits", _("cell {cell!r} required visits must be ≥ 0"), cell=c.id)
        if c.required_visits > 0 and c.id in request.no_go:
            err.add(f"{where}.required_visits", _("cell {cell!r} is mandatory and also a no-go cell"), cell=c.id)
        for j, w in enumerate(c.windows):
            if not _finite(w.start, w.end) or w.end < w.start:
                err.add(f"{where}.windows[{j}]", _("cell {cell!r} window ends before it starts"), cell=c.id)
    optional = [c for c in request.cells if c.required_visits == 0 and c.id not in request.no_go]
    if request.cells and not any(c.required_visits > 0 for c in request.cells) and all(
        c.priority == 0 for c in optional
    ):
        err.add("cells.priority", _("all priorities are zero and nothing is mandatory: there is nothing to plan for"))
    unknown = request.no_go - seen_cells
    if unknown:
        err.add("no_go", _("unknown cell ids: {cells}"), cells=", ".join(sorted(unknown)[:10]))
    if not _finite(request.exploration_share) or not 0 <= request.exploration_share < 1:
        err.add("exploration_share", _("must be in [0, 1)"))
    if request.max_consecutive is not None and request.max_consecutive < 0:
        err.add("max_consecutive", _("must be ≥ 0 or None"))
    if not _finite(request.time_budget_s) or request.time_budget_s <= 0:
        err.add("time_budget_s", _("must be a positive number of seconds"))
    if request.area is not None and not (
        request.area.min_lat < request.area.max_lat and request.area.min_lon < request.area.max_lon
    ):
        err.add("area", _("the area box is empty (min must be below max)"))
    if err.items:
        raise PlanningInputError(err.items)
