"""What each widget shows, read within the viewer's scope.

Every figure comes from `values.read_values`, the same reading the API and the XLSX report use: a viewer who
may not see every record a computed figure counts gets it recomputed over their own scope and marked
partial, never the organisation's figure; entered values above their clearance are absent. Each figure keeps
the id of the stored value it stands for, which is where its drill-down link goes.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db.models import Avg, Max
from django.urls import reverse
from django.utils.translation import gettext as _

from sitaware.assessment import areas, engine, lights, values
from sitaware.assessment.dashboards import svg
from sitaware.assessment.dashboards.gallery import BREAKDOWN_LABELS, CHARTS
from sitaware.assessment.dashboards.models import DashboardWidget
from sitaware.assessment.dashboards.services import is_uuid
from sitaware.assessment.models import Indicator, IndicatorValue
from sitaware.assessment.periods import Period, label_of, parse_label, period_of
from sitaware.core.scope import Actor

CARD_GROUPS = 3  # the largest groups of the breakdown a card lists
SERIES_GROUPS = 5  # lines of a broken-down time series (the largest groups of the latest period)


@dataclass
class Figure:
    """One number on a dashboard and where it leads."""

    period: str
    value: Decimal | None
    value_id: int | None
    partial: bool
    empty_reason: str = ""
    group: str = ""  # the breakdown value; "" for the total

    @property
    def href(self) -> str:
        return reverse("assessment:value", args=[self.value_id]) if self.value_id else ""

    @property
    def number(self) -> float | None:
        return None if self.value is None else float(self.value)

    @property
    def display(self) -> str:
        return number_text(self.value)


def number_text(value: Decimal | None) -> str:
    """A figure as people read it: no trailing zeros of the stored six places, thousands grouped."""
    return "" if value is None else svg._fmt(float(value))


@dataclass
class Shown:
    """A widget ready for its template."""

    widget: DashboardWidget
    chart: str
    title: str
    indicators: list[Indicator]
    breakdown: str
    breakdown_label: str
    periods: list[str]
    totals: dict[str, list[Figure]] = field(default_factory=dict)  # indicator id → figure per period
    groups: dict[str, dict[str, Figure]] = field(default_factory=dict)  # group → period → figure (1st indicator)
    partial: bool = False
    actor: Actor | None = None
    problem: str = ""
    svg: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def indicator(self) -> Indicator | None:
        return self.indicators[0] if self.indicators else None


def _decimal(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def _previous(period: Period, frequency: str) -> Period:
    return period_of(period.start - dt.timedelta(days=1), frequency)


def latest_periods(indicators: list[Indicator]) -> dict[Any, dt.date]:
    """The start of each indicator's latest stored period (one query for a whole dashboard). Only the period is
    read, never a figure, so it needs no scope beyond the organisation the indicators were read through."""
    rows = IndicatorValue.objects.filter(indicator__in=[i.pk for i in indicators]).values("indicator") \
        .annotate(top=Max("period_start")).order_by()
    return {r["indicator"]: r["top"] for r in rows}


def period_range(widget: DashboardWidget, indicator: Indicator, latest: dt.date | None = None) -> list[Period]:
    """The widget's periods: first..last, or the last `periods` up to `last` or the latest stored value."""
    frequency = indicator.frequency
    if widget.last:
        end = parse_label(widget.last)[0]
    else:
        end = period_of(latest or dt.datetime.now(dt.UTC).date(), frequency)
    if widget.first:
        start = parse_label(widget.first)[0]
        out, p = [], start
        while p.start <= end.start and len(out) < 240:
            out.append(p)
            p = period_of(p.end, frequency)
        return out
    out = [end]
    while len(out) < widget.periods:
        out.insert(0, _previous(out[0], frequency))
    return out


# Figures recomputed over a viewer's scope (partial) cost a read of the records; they are kept per viewer,
# figure set and change-log position, so that looking again at a dashboard before any change costs nothing.
# A new change-log entry (a record written, an agreement changed, ...) or five minutes make them stale.
_partial_cache: OrderedDict[tuple, tuple[float, list[values.ValueView]]] = OrderedDict()
_partial_lock = threading.Lock()
PARTIAL_TTL = 300.0
PARTIAL_ENTRIES = 512


def _read(actor: Actor, indicator: Indicator, since: dt.date, until: dt.date, seq: int,
          disaggregation: dict[str, str] | None = None) -> list[values.ValueView]:
    key = (actor.user_id, actor.organisation_id, actor.unit_id, actor.role, actor.clearance, actor.system,
           actor.actions, indicator.pk, since, until, None if disaggregation is None else
           tuple(sorted(disaggregation.items())), seq)
    now = time.monotonic()
    with _partial_lock:
        hit = _partial_cache.get(key)
        if hit is not None and now - hit[0] < PARTIAL_TTL:
            _partial_cache.move_to_end(key)
            return hit[1]
    views = values.read_values(actor, indicator.id, since=since, until=until, disaggregation=disaggregation)
    if any(v.partial for v in views):
        with _partial_lock:
            _partial_cache[key] = (now, views)
            while len(_partial_cache) > PARTIAL_ENTRIES:
                _partial_cache.popitem(last=False)
    return views


# Charts that show the groups of one period only (the latest) read the groups of that period alone: a
# card over 12 months of an indicator broken down by 20 areas reads 12 + 20 rows instead of 12 x 21.
LATEST_GROUPS_ONLY = ("card", "map", "bar")


def _figures(actor: Actor, indicator: Indicator, periods: list[Period], breakdown: str, *,
             latest_groups_only: bool = False, seq: int = 0
             ) -> tuple[list[Figure], dict[str, dict[str, Figure]], bool]:
    """Totals per period and, for the breakdown key, each group's figure per period (or only in the latest
    period that has a total)."""
    labels = [label_of(p, indicator.frequency) for p in periods]
    if latest_groups_only or not breakdown:
        views = _read(actor, indicator, periods[0].start, periods[-1].end, seq, {})
    else:
        views = _read(actor, indicator, periods[0].start, periods[-1].end, seq)
    totals, groups, partial = _split(views, breakdown)
    figures = [totals.get(label) or Figure(label, None, None, False) for label in labels]
    latest = _latest(figures)
    if latest_groups_only and breakdown and latest is not None:
        period = periods[labels.index(latest.period)]
        _, groups, more = _split(_read(actor, indicator, period.start, period.end, seq), breakdown)
        partial |= more
    return figures, groups, partial


def _split(views: list[values.ValueView], breakdown: str
           ) -> tuple[dict[str, Figure], dict[str, dict[str, Figure]], bool]:
    by_period: dict[str, Figure] = {}
    groups: dict[str, dict[str, Figure]] = {}
    partial = False
    for view in views:
        state = view.state
        dis = state["disaggregation"] or {}
        figure = Figure(state["period"], _decimal(state["value"]), state["id"], view.partial, state["empty_reason"])
        if not dis:
            by_period[state["period"]] = figure
            partial |= view.partial
        elif breakdown and list(dis) == [breakdown]:
            figure.group = group_label(breakdown, str(dis[breakdown]))
            groups.setdefault(figure.group, {})[state["period"]] = figure
            partial |= view.partial
    return by_period, groups, partial


def group_label(key: str, value: str) -> str:
    """A group as people read it: categories by their label in the page's language; areas and units as named."""
    if key == "category" and value:
        from sitaware.web import pages

        return pages.category_label(value)
    return value


def _latest(figures: list[Figure]) -> Figure | None:
    return next((f for f in reversed(figures) if f.value is not None), None)


def light_of(indicator: Indicator, value: Decimal | None) -> str:
    return lights.light(value, indicator.target_value, indicator.baseline_value, indicator.direction)


def light_label(colour: str) -> str:
    return {lights.GREEN: _("green: target met"), lights.AMBER: _("amber: progress, target not met"),
            lights.RED: _("red: no progress"), lights.GREY: _("grey: cannot be judged")}[colour]


def _tip(indicator: Indicator, f: Figure, group: str = "") -> str:
    value = "-" if f.value is None else svg._fmt(float(f.value))
    where = f" · {group}" if group else ""
    return f"{indicator.code} {f.period}{where}: {value}" + (f" ({_('partial')})" if f.partial else "")


def show_all(actor: Actor, widgets: list[DashboardWidget]) -> list[Shown]:
    """Every widget of a dashboard, with the indicators and their latest periods read once for all."""
    from sitaware.assessment.services import get_indicator

    wanted = {raw for w in widgets for raw in w.indicators}
    found: dict[str, Indicator] = {}
    if actor.can("view") or actor.system:
        qs = Indicator.objects.select_related("framework").filter(pk__in=[r for r in wanted if is_uuid(r)])
        if not actor.system:
            qs = qs.filter(framework__organisation_id=actor.organisation_id)
        found = {str(i.pk): i for i in qs}
    else:  # the services say why
        for raw in wanted:
            get_indicator(actor, raw)
    latest = latest_periods(list(found.values()))
    seq = engine.current_seq()
    return [show(actor, w, found, latest, seq) for w in widgets]


def show(actor: Actor, widget: DashboardWidget, indicators_by_id: dict[str, Indicator] | None = None,
         latest: dict[Any, dt.date] | None = None, seq: int = 0) -> Shown:
    """Read and draw one widget for `actor`. A widget naming an indicator the viewer cannot open (or that
    was removed) says so instead of failing the whole dashboard."""
    if indicators_by_id is None:
        return show_all(actor, [widget])[0]
    chart = CHARTS.get(widget.chart)
    indicators = [indicators_by_id[raw] for raw in widget.indicators if raw in indicators_by_id]
    title = widget.title or (indicators[0].name if indicators else "")
    shown = Shown(widget, widget.chart, title, indicators, widget.breakdown,
                  str(BREAKDOWN_LABELS.get(widget.breakdown, widget.breakdown)), [], actor=actor)
    if chart is None or not indicators or len(indicators) != len(widget.indicators):
        shown.problem = _("this chart names an indicator you cannot open; ask the dashboard's owner to fix it")
        return shown
    first = indicators[0]
    periods = period_range(widget, first, (latest or {}).get(first.pk))
    shown.periods = [label_of(p, first.frequency) for p in periods]
    for n, ind in enumerate(indicators):
        totals, groups, partial = _figures(actor, ind, periods, widget.breakdown if n == 0 else "",
                                           latest_groups_only=widget.chart in LATEST_GROUPS_ONLY, seq=seq)
        shown.totals[str(ind.pk)] = totals
        if n == 0:
            shown.groups = groups
        shown.partial |= partial
    DRAW[widget.chart](shown)
    return shown


def _latest_groups(shown: Shown) -> list[tuple[str, Figure]]:
    """Each group's figure in the latest period that has a total, largest first."""
    totals = shown.totals[str(shown.indicators[0].pk)]
    latest = _latest(totals)
    period = latest.period if latest else (shown.periods[-1] if shown.periods else "")
    rows = [(group, by_period[period]) for group, by_period in shown.groups.items() if period in by_period]
    rows.sort(key=lambda r: (-(r[1].number or 0), r[0]))
    return rows


def _draw_card(shown: Shown) -> None:
    ind = shown.indicators[0]
    totals = shown.totals[str(ind.pk)]
    latest = _latest(totals)
    previous = None
    if latest is not None:
        earlier = [f for f in totals[: totals.index(latest)] if f.value is not None]
        previous = earlier[-1] if earlier else None
    colour = light_of(ind, latest.value if latest else None)
    change = None if latest is None or previous is None else latest.value - previous.value
    shown.extra.update(target=number_text(ind.target_value), baseline=number_text(ind.baseline_value),
                       change_text=("+" if change and change > 0 else "") + number_text(change) if change else _(
                           "no change"))
    shown.extra.update(latest=latest, previous=previous, light=colour, light_label=light_label(colour),
                       light_colour=svg.LIGHT_COLOURS[colour], groups=_latest_groups(shown)[:CARD_GROUPS])
    shown.svg = svg.sparkline([f.number for f in totals], colour=svg.LIGHT_COLOURS[colour])


def _draw_timeseries(shown: Shown) -> None:
    first = shown.indicators[0]
    lines: list[tuple[str, Indicator, list[Figure]]] = []  # (name, indicator, figure per period)
    if len(shown.indicators) > 1 or not shown.breakdown:
        for ind in shown.indicators:
            lines.append((f"{ind.code} {ind.name}", ind, shown.totals[str(ind.pk)]))
    else:
        lines.append((_("Total"), first, shown.totals[str(first.pk)]))
        for group, _figure in _latest_groups(shown)[:SERIES_GROUPS]:
            by_period = shown.groups[group]
            lines.append((group, first, [by_period.get(p) or Figure(p, None, None, False, group=group)
                                         for p in shown.periods]))
        shown.extra["more_groups"] = max(0, len(shown.groups) - SERIES_GROUPS)
        # Every group is in the table, drawn or not.
        for group in sorted(set(shown.groups) - {name for name, _i, _f in lines}):
            by_period = shown.groups[group]
            lines.append((group, first, [by_period.get(p) or Figure(p, None, None, False, group=group)
                                         for p in shown.periods]))
    drawn = lines[: 1 + SERIES_GROUPS] if shown.breakdown and len(shown.indicators) == 1 else lines
    series = [svg.Series(name, [svg.Point(f.period, f.number, f.href, _tip(ind, f, f.group)) for f in figures])
              for name, ind, figures in drawn]
    target = None if first.target_value is None or len(shown.indicators) > 1 else float(first.target_value)
    shown.extra["target"] = number_text(first.target_value)
    shown.extra["series"] = [{"name": name, "figures": figures,
                              "colour": svg.PALETTE[k % len(svg.PALETTE)] if k < len(drawn) else ""}
                             for k, (name, _ind, figures) in enumerate(lines)]
    shown.svg = svg.series_chart(shown.periods, series, target=target, target_label=_("target"),
                                 style=shown.widget.style or "line")


def _draw_table(shown: Shown) -> None:
    rows = []
    for group in sorted(shown.groups):
        by_period = shown.groups[group]
        rows.append({"group": group, "figures": [by_period.get(p) for p in shown.periods]})
    shown.extra["rows"] = rows
    shown.extra["total"] = shown.totals[str(shown.indicators[0].pk)]


def _draw_bar(shown: Shown) -> None:
    rows = _latest_groups(shown)
    top = max((f.number or 0 for _g, f in rows), default=0) or 1
    shown.extra["rows"] = [{"group": g, "figure": f, "width": max(1, round(240 * (f.number or 0) / top))
                            if f.number else 0} for g, f in rows]
    latest = _latest(shown.totals[str(shown.indicators[0].pk)])
    shown.extra["period"] = latest.period if latest else ""


def _draw_map(shown: Shown) -> None:
    """A choropleth: each area whose name has a known outline filled by its figure's class; an area without one
    as a circle at its records' mean position, as before; an area with neither is listed under the map."""
    _draw_bar(shown)  # the same numbers, listed beside the map
    rows = shown.extra["rows"]
    names = [r["group"] for r in rows]
    positions = area_positions(shown.actor, names)
    atlas = area_atlas()
    matched = areas.match(atlas, names, {a: (lon, lat) for a, (lat, lon) in positions.items()}).matched \
        if atlas is not None else {}
    ind = shown.indicators[0]
    shapes, places = [], []
    for r in rows:
        name, figure = r["group"], r["figure"]
        if atlas is not None and name in matched:
            shapes.append(svg.Shape(name, atlas.rings(matched[name]), matched[name].label, figure.number,
                                    figure.href, _tip(ind, figure, name)))
        elif name in positions:
            places.append(svg.Place(name, *positions[name], figure.number, figure.href, _tip(ind, figure, name)))
    shades = svg.classes([s.value for s in shapes])
    shown.extra["legend"] = [{"label": c.label, "colour": c.colour} for c in shades]
    if any(s.value is None for s in shapes):
        shown.extra["legend"].append({"label": _("no figure"), "colour": svg.NO_FIGURE})
    shown.extra["circles"] = [p.name for p in places]
    shown.extra["unplaced"] = [g for g in names if g not in matched and g not in positions]
    shown.svg = svg.area_map(places, basemap_features(), shapes=shapes, shades=shades,
                             outlines=_other_areas(atlas, matched))


def _other_areas(atlas: areas.Atlas | None, matched: dict[str, areas.Area]) -> list[list[areas.Ring]]:
    """The outlines of the other areas of the drawn areas' countries, so that the map reads as a whole country."""
    if atlas is None or not matched:
        return []
    taken = {a.index for a in matched.values()}
    return [atlas.rings(a) for a in atlas.by_country({a.country for a in matched.values()}) if a.index not in taken]


DRAW: dict[str, Callable[[Shown], None]] = {"card": _draw_card, "timeseries": _draw_timeseries, "map": _draw_map,
                                            "table": _draw_table, "bar": _draw_bar}


# ---------------------------------------------------------------- map: where the areas are, their outlines, the basemap

_positions: dict[Any, tuple[float, dict[str, tuple[float, float]]]] = {}
_positions_lock = threading.Lock()
POSITIONS_TTL = 3600.0
POSITIONS_RECENT_DAYS = 90


def area_positions(actor: Actor, areas: list[str]) -> dict[str, tuple[float, float]]:
    """Where to draw each area (admin1): the mean position of the records that name it, among the records the
    viewer may see (so a position gives nothing away), preferring the last 90 days. Kept an hour per process and
    scope: areas do not move, and a mean over a million records costs a table scan."""
    from sitaware.records.services import scoped_records

    key = (actor.organisation_id, actor.role, actor.clearance, actor.unit_id, actor.user_id, actor.system)
    now = time.monotonic()
    with _positions_lock:
        cached = _positions.get(key)
    if cached is None or now - cached[0] > POSITIONS_TTL or not set(areas) <= set(cached[1]):
        found = dict(cached[1]) if cached else {}
        # The last 90 days first (the (organisation, occurred_at) index narrows it); only areas without a
        # recent record need the whole history, a scan of every record in scope.
        recent = dt.datetime.now(dt.UTC) - dt.timedelta(days=POSITIONS_RECENT_DAYS)
        for narrowed in (True, False):
            missing = [a for a in areas if a not in found]
            if not missing:
                break
            qs = scoped_records(actor).filter(admin1__in=missing)
            if narrowed:
                qs = qs.filter(occurred_at__gte=recent)
            rows = qs.values("admin1").annotate(lat=Avg("latitude"), lon=Avg("longitude")).order_by()
            found.update({r["admin1"]: (r["lat"], r["lon"]) for r in rows if r["lat"] is not None})
        cached = (now, found)
        with _positions_lock:
            _positions[key] = cached
    return {a: cached[1][a] for a in areas if a in cached[1]}


@lru_cache(maxsize=2)
def _features(path: str, mtime: int) -> tuple[dict, ...]:
    return tuple(json.loads(Path(path).read_text(encoding="utf-8")).get("features", []))


def area_atlas() -> areas.Atlas | None:
    """The shipped admin-1 polygons (tools/admin1_areas.py), read once per process; None without the file."""
    try:
        from sitaware.web.views import admin1_areas_path

        return areas.load(admin1_areas_path())
    except (ImportError, OSError, ValueError, KeyError):  # no outlines: every area is drawn as a circle
        return None


def basemap_features() -> tuple[dict, ...]:
    """The polygons of the map page's offline basemap (the mission's own file, or the shipped countries)."""
    try:
        from sitaware.web.views import basemap_path, shipped_basemap_path

        path = basemap_path() or shipped_basemap_path()
        return _features(str(path), path.stat().st_mtime_ns)
    except (ImportError, OSError, ValueError):  # no basemap: the circles are drawn on plain ground
        return ()
