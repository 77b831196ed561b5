"""The periodic performance report as a PDF: cover, summary, indicator table with targets and traffic lights,
charts, maps by area and the assessment's narrative, in the active language (English or French).

Layout with reportlab; charts and maps drawn with matplotlib's Agg canvas (no display, no global backend);
the font is DejaVu Sans, shipped inside matplotlib, embedded so French accents render in any reader. Maps
draw the country outlines shipped with the web map (world-atlas) and each area's outline (the shipped Natural
Earth admin-1 polygons, `areas.py`) shaded by the area's latest figure, in the same classes and colours as the
dashboards' maps; an area whose name has no known outline is a circle at the mean position of its records the
reader may see, sized by its figure, as before.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as DrawnPath
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import HRFlowable

from sitaware.assessment import areas, lights, values
from sitaware.assessment.dashboards import svg
from sitaware.assessment.report import FILLS, IndicatorReport, ReportData, _decimal, _light_label
from sitaware.core.scope import Actor

BASEMAP = "web/vendor/world-atlas/countries-50m.geojson"
AREAS = "web/vendor/natural-earth/admin1-areas.json"
MAX_CHARTS = 24  # a report stays readable; the XLSX holds every value
MAX_MAPS = 4
DASH = "\u2013"  # en dash, for ranges and missing values
LINE = {lights.GREEN: "#2e8b57", lights.AMBER: "#c89200", lights.RED: "#c0392b", lights.GREY: "#7f7f7f"}


@functools.cache
def _fonts() -> tuple[str, str]:
    """Register DejaVu Sans (shipped with matplotlib) once; it covers French accents and is embedded."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(folder / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily("DejaVuSans", normal="DejaVuSans", bold="DejaVuSans-Bold",
                                  italic="DejaVuSans", boldItalic="DejaVuSans-Bold")
    return "DejaVuSans", "DejaVuSans-Bold"


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9.5, leading=12.5)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9),
        "h1": ParagraphStyle("h1", parent=base, fontName=bold, fontSize=16, leading=20, spaceAfter=8),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=12, leading=15, spaceBefore=8, spaceAfter=5),
        "cover": ParagraphStyle("cover", parent=base, fontName=bold, fontSize=26, leading=32, alignment=TA_CENTER),
        "cover2": ParagraphStyle("cover2", parent=base, fontSize=14, leading=19, alignment=TA_CENTER),
        "notice": ParagraphStyle("notice", parent=base, backColor=colors.HexColor("#FFF2CC"),
                                 borderColor=colors.HexColor("#C89200"), borderWidth=0.8, borderPadding=6,
                                 spaceBefore=8, spaceAfter=8),
    }


def _esc(text: Any) -> str:
    return (str(text) if text is not None else "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fmt(value: Decimal | None) -> str:
    if value is None:
        return DASH
    value = value.normalize() if value == value.to_integral_value() else round(value, 2)
    return formats.number_format(value, use_l10n=True, force_grouping=True)


def _png(fig: Figure, width_cm: float) -> Image:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    buffer.seek(0)
    w, h = fig.get_size_inches()
    return Image(buffer, width=width_cm * cm, height=width_cm * cm * h / w)


# ---------------------------------------------------------------- charts and maps


def _chart(report: IndicatorReport) -> Image:
    ind = report.indicator
    labels = [v.state["period"] for v in report.totals]
    ys = [float(_decimal(v.state["value"])) if v.state["value"] is not None else math.nan for v in report.totals]
    fig = Figure(figsize=(4.2, 2.4), dpi=110)
    ax = fig.add_subplot()
    ax.plot(range(len(ys)), ys, marker="o", markersize=2.5, color=LINE[report.colour], linewidth=1.4,
            label=_("value"))
    if ind.target_value is not None:
        ax.axhline(float(ind.target_value), color="#1f4e79", linestyle="--", linewidth=1,
                   label=_("target"))
    if ind.baseline_value is not None:
        ax.axhline(float(ind.baseline_value), color="#999999", linestyle=":", linewidth=1, label=_("baseline"))
    step = max(1, len(labels) // 6)
    ax.set_xticks(range(0, len(labels), step), labels[::step], fontsize=6.5, rotation=30, ha="right")
    ax.tick_params(axis="y", labelsize=6.5)
    ax.set_title(f"{ind.code} — {ind.name}"[:70], fontsize=8)
    ax.grid(alpha=0.3, linewidth=0.5)
    ax.legend(fontsize=6, loc="best", frameon=False)
    fig.tight_layout()
    return _png(fig, 8.6)


@functools.cache
def _countries() -> list[tuple[tuple[float, float, float, float], list[list[tuple[float, float]]]]]:
    """The shipped country outlines as (bbox, rings); empty when the static file is missing."""
    from django.contrib.staticfiles import finders

    path = finders.find(BASEMAP)
    if not path:
        return []
    out = []
    for feature in json.loads(Path(path).read_text(encoding="utf-8")).get("features", []):
        geometry = feature.get("geometry") or {}
        polygons = geometry.get("coordinates", [])
        if geometry.get("type") == "Polygon":
            polygons = [polygons]
        elif geometry.get("type") != "MultiPolygon":
            continue
        rings = [[(x, y) for x, y, *_rest in ring] for polygon in polygons for ring in polygon]
        xs = [x for ring in rings for x, _y in ring]
        ys = [y for ring in rings for _x, y in ring]
        if xs:
            out.append(((min(xs), min(ys), max(xs), max(ys)), rings))
    return out


def _area_positions(actor: Actor, areas: list[str]) -> dict[str, tuple[float, float]]:
    """Where each area is: the mean position of its records the reader may see."""
    from django.db.models import Avg

    from sitaware.records.services import scoped_records

    rows = scoped_records(actor).filter(admin1__in=areas).values("admin1").annotate(
        lat=Avg("latitude"), lon=Avg("longitude")).order_by()
    return {r["admin1"]: (r["lon"], r["lat"]) for r in rows if r["lat"] is not None}


def _atlas() -> areas.Atlas | None:
    """The shipped admin-1 polygons (read once per process); None when the static file is missing."""
    from django.contrib.staticfiles import finders

    path = finders.find(AREAS)
    try:
        return areas.load(Path(path)) if path else None
    except (OSError, ValueError, KeyError):
        return None


def _oriented(ring: list[tuple[float, float]], clockwise: bool) -> list[tuple[float, float]]:
    twice_area = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))
    return ring[::-1] if (twice_area < 0) != clockwise else ring


def _outline(polygons: list[list[list[tuple[float, float]]]]) -> DrawnPath:
    """An area's polygons as one path; holes turn the other way, so that the fill leaves them out."""
    vertices: list[tuple[float, float]] = []
    codes: list[int] = []
    for polygon in polygons:
        for n, ring in enumerate(polygon):
            ring = _oriented(ring, clockwise=n > 0)
            vertices += ring
            codes += [DrawnPath.MOVETO] + [DrawnPath.LINETO] * (len(ring) - 2) + [DrawnPath.CLOSEPOLY]
    return DrawnPath(vertices, codes)


def _box(points: list[tuple[float, float]], least: float, share: float, shape: float = 1.0
         ) -> tuple[float, float, float, float]:
    """The points' extent, padded, then widened to `shape` (width / height, in degrees)."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    pad = max(least, share * max(max(xs) - min(xs), max(ys) - min(ys)))
    west, south, east, north = min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad
    if (east - west) < shape * (north - south):
        grow = (shape * (north - south) - (east - west)) / 2
        west, east = west - grow, east + grow
    else:
        grow = ((east - west) / shape - (north - south)) / 2
        south, north = south - grow, north + grow
    return west, south, east, north


Rings = list[list[tuple[float, float]]]
HALO = [patheffects.withStroke(linewidth=2, foreground="white")]


def _draw_areas(ax: Any, atlas: areas.Atlas, filled: dict[str, tuple[areas.Area, Decimal | None]],
                shades: list[svg.Class], countries: list[tuple[Any, Rings]]) -> None:
    """The matched areas filled by class, the other areas of their countries as outlines, then the national
    borders again over the fills, which cover them."""
    taken = {a.index for a, _v in filled.values()}
    for other in atlas.by_country({a.country for a, _v in filled.values()}):
        if other.index not in taken:
            ax.add_patch(PathPatch(_outline(atlas.polygons(other)), facecolor="#f2efe9", edgecolor="#b0b0b0",
                                   linewidth=0.4))

    def size(area: areas.Area) -> float:
        west, south, east, north = atlas.bbox(area)
        return (east - west) * (north - south)

    for name, (area, v) in sorted(filled.items(), key=lambda kv: -size(kv[1][0])):  # an enclave stays on top
        shade = svg.class_of(None if v is None else float(v), shades)
        ax.add_patch(PathPatch(_outline(atlas.polygons(area)), facecolor=shade.colour if shade else svg.NO_FIGURE,
                               edgecolor="#4a4a4a", linewidth=0.5, zorder=2))
        ax.annotate(f"{name}\n{_fmt(v)}", area.label, fontsize=6, ha="center", va="center", zorder=5,
                    path_effects=HALO)
    for _bbox, rings in countries:
        for ring in rings:
            ax.plot(*zip(*ring, strict=True), color="#6f7a82", linewidth=0.8, zorder=3)


def _draw_circles(ax: Any, circles: dict[str, tuple[tuple[float, float], Decimal]]) -> None:
    top = max((float(v) for _p, v in circles.values()), default=0.0) or 1.0
    for area, ((x, y), v) in sorted(circles.items()):
        ax.scatter([x], [y], s=30 + 900 * float(v) / top, color="#1f77b4", alpha=0.55, edgecolors="#0b3d63",
                   linewidths=0.6, zorder=4)
        ax.annotate(f"{area}\n{_fmt(v)}", (x, y), fontsize=6, ha="center", va="center", zorder=5,
                    path_effects=HALO)


def _legend(ax: Any, shades: list[svg.Class], no_figure: bool, circles: bool) -> None:
    handles: list[Any] = [Patch(facecolor=c.colour, edgecolor="#4a4a4a", linewidth=0.5, label=c.label)
                          for c in shades]
    if no_figure:
        handles.append(Patch(facecolor=svg.NO_FIGURE, edgecolor="#4a4a4a", linewidth=0.5, label=_("no figure")))
    if circles:
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor="#1f77b4",
                              alpha=0.55, markeredgecolor="#0b3d63", label=_("no outline: circle")))
    if handles:
        ax.legend(handles=handles, fontsize=6.5, title_fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1),
                  frameon=False, title=_("Latest figure"))


def _map(actor: Actor, report: IndicatorReport) -> Image | None:
    """The latest figure of each area: its outline shaded by class where its name is known, else a circle."""
    figures = {area: _decimal(v.state["value"]) for area, v in report.by_area.items() if area}
    places = _area_positions(actor, sorted(figures))
    atlas = _atlas()
    matched = areas.match(atlas, sorted(figures), places).matched if atlas is not None else {}
    filled = {a: (matched[a], v) for a, v in figures.items() if a in matched}
    circles = {a: (places[a], v) for a, v in figures.items() if a not in matched and a in places and v is not None}
    if not filled and not circles:
        return None
    points = [p for p, _v in circles.values()]
    if atlas is not None and filled:
        points += [p for area, _v in filled.values() for ring in atlas.rings(area) for p in ring]
        box = _box(points, 0.4, 0.06, 1.25)
    else:
        box = _box(points, 1.5, 0.15)
    fig = Figure(figsize=(6.4, 4.4), dpi=110)
    ax = fig.add_subplot()
    ax.set_facecolor("#dfeaf2")  # water and beyond the shipped outlines
    countries = [(bbox, rings) for bbox, rings in _countries()
                 if not (bbox[2] < box[0] or bbox[0] > box[2] or bbox[3] < box[1] or bbox[1] > box[3])]
    for _bbox, rings in countries:
        for ring in rings:
            ax.fill(*zip(*ring, strict=True), facecolor="#f2efe9", edgecolor="#8c8c8c", linewidth=0.6)
    shades = svg.classes([float(v) for _a, v in filled.values() if v is not None], lambda x: _fmt(Decimal(str(x))))
    if atlas is not None and filled:
        _draw_areas(ax, atlas, filled, shades, countries)
    _draw_circles(ax, circles)
    _legend(ax, shades, any(v is None for _a, v in filled.values()), bool(circles))
    ax.set_xlim(box[0], box[2])
    ax.set_ylim(box[1], box[3])
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)
    period = report.latest.state["period"] if report.latest else ""
    ax.set_title(_("%(code)s by area, %(period)s") % {"code": report.indicator.code, "period": period}, fontsize=9)
    fig.tight_layout()
    return _png(fig, 15.5)


# ---------------------------------------------------------------- the document


def _period_span(data: ReportData) -> str:
    periods = [v.state["period"] for r in data.indicators for v in r.totals]
    if data.since or data.until:
        return f"{data.since or '…'} {DASH} {data.until or '…'}"
    if not periods:
        return _("no values yet")
    return f"{min(periods)} {DASH} {max(periods)}"


def _cover(data: ReportData, st: dict[str, ParagraphStyle]) -> list[Any]:
    fw = data.framework
    story: list[Any] = [Spacer(1, 5 * cm), Paragraph(_esc(_("Performance report")), st["cover"]), Spacer(1, 0.8 * cm),
                        Paragraph(_esc(f"{fw.title}"), st["cover2"]),
                        Paragraph(_esc(f"{fw.code} v{fw.version} · {fw.organisation.name}"), st["cover2"]),
                        Spacer(1, 1.5 * cm)]
    facts = [(_("Period covered"), _period_span(data)), (_("Produced"), data.produced_at),
             (_("Produced for"), data.reader), (_("Indicators"), str(len(data.indicators)))]
    table = Table([[Paragraph(_esc(k), st["base"]), Paragraph(_esc(v), st["base"])] for k, v in facts],
                  colWidths=[5 * cm, 9 * cm], hAlign="CENTER")
    table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.lightgrey)]))
    story.append(table)
    if data.partial:
        story += [Spacer(1, 1 * cm), Paragraph(_esc(_("Partial figures")) + ": " + _esc(_(values.PARTIAL_NOTE)),
                                               st["notice"])]
    story.append(PageBreak())
    return story


def _summary(data: ReportData, st: dict[str, ParagraphStyle]) -> list[Any]:
    counts = dict.fromkeys((lights.GREEN, lights.AMBER, lights.RED, lights.GREY), 0)
    for r in data.indicators:
        counts[r.colour] += 1
    story: list[Any] = [Paragraph(_esc(_("Summary")), st["h1"])]
    story.append(Paragraph(_esc(_("%(total)s indicators: %(green)s on target, %(amber)s progressing, %(red)s "
                                  "without progress, %(grey)s that cannot be judged.") % {
        "total": len(data.indicators), "green": counts[lights.GREEN], "amber": counts[lights.AMBER],
        "red": counts[lights.RED], "grey": counts[lights.GREY]}), st["base"]))
    rows = [[Paragraph(_esc(_light_label(colour)), st["base"]), str(n)] for colour, n in counts.items()]
    table = Table(rows, colWidths=[9 * cm, 2 * cm], hAlign="LEFT")
    style = [("FONTNAME", (0, 0), (-1, -1), st["base"].fontName), ("GRID", (0, 0), (-1, -1), 0.3, colors.grey)]
    for i, colour in enumerate(counts):
        style.append(("BACKGROUND", (0, i), (0, i), colors.HexColor("#" + FILLS[colour])))
    table.setStyle(TableStyle(style))
    story += [Spacer(1, 6), table]
    if data.partial:
        story.append(Paragraph(_esc(_("Partial figures")) + ": " + _esc(_(values.PARTIAL_NOTE)), st["notice"]))
    a = data.assessment
    if a is not None and a.findings:
        story += [Paragraph(_esc(_("Key findings")), st["h2"]), Paragraph(_esc(a.findings), st["base"])]
    return story


def _table(data: ReportData, st: dict[str, ParagraphStyle]) -> list[Any]:
    head = [_("Code"), _("Indicator"), _("Baseline"), _("Target"), _("Latest period"), _("Latest value"),
            _("Status"), _("Partial")]
    rows: list[list[Any]] = [[Paragraph(f"<b>{_esc(h)}</b>", st["cell"]) for h in head]]
    style = [("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE6F0"))]
    for i, r in enumerate(data.indicators, start=1):
        ind, latest = r.indicator, r.latest
        baseline = f"{_fmt(ind.baseline_value)} ({ind.baseline_period_label})" if ind.baseline_period_label else \
            _fmt(ind.baseline_value)
        target = f"{_fmt(ind.target_value)} ({ind.target_period_label})" if ind.target_period_label else \
            _fmt(ind.target_value)
        value = _fmt(r.latest_value) if latest and latest.state["value"] is not None else \
            (latest.state["empty_reason"] if latest else DASH)
        rows.append([Paragraph(_esc(c), st["cell"]) for c in (
            ind.code, f"{ind.name}" + (f" ({ind.unit})" if ind.unit else ""), baseline, target,
            latest.state["period"] if latest else "", value, _light_label(r.colour),
            _("yes") if latest and latest.partial else "")])
        style.append(("BACKGROUND", (6, i), (6, i), colors.HexColor("#" + FILLS[r.colour])))
    widths = [1.4, 5.0, 2.0, 2.0, 1.7, 1.8, 2.6, 1.2]
    table = Table(rows, colWidths=[w * cm for w in widths], repeatRows=1)
    table.setStyle(TableStyle(style))
    return [PageBreak(), Paragraph(_esc(_("Indicators: targets and traffic lights")), st["h1"]), table]


def _charts(data: ReportData, st: dict[str, ParagraphStyle]) -> list[Any]:
    charted = [r for r in data.indicators if any(v.state["value"] is not None for v in r.totals)]
    if not charted:
        return []
    images = [_chart(r) for r in charted[:MAX_CHARTS]]
    rows = [images[i:i + 2] + [""] * (2 - len(images[i:i + 2])) for i in range(0, len(images), 2)]
    story: list[Any] = [PageBreak(), Paragraph(_esc(_("Trends")), st["h1"]), Table(rows, colWidths=[9 * cm] * 2)]
    if len(charted) > MAX_CHARTS:
        story.append(Paragraph(_esc(_("%(shown)s of %(total)s indicators charted; the XLSX report lists every "
                                      "value.") % {"shown": MAX_CHARTS, "total": len(charted)}), st["small"]))
    return story


def _maps(actor: Actor, data: ReportData, st: dict[str, ParagraphStyle]) -> list[Any]:
    images = []
    for r in data.indicators:
        if len(images) >= MAX_MAPS:
            break
        if r.by_area and (image := _map(actor, r)) is not None:
            images.append(KeepTogether([Paragraph(_esc(f"{r.indicator.code} — {r.indicator.name}"), st["h2"]),
                                        image]))
    if not images:
        return []
    note = _("Each area is shaded by its figure for the latest period: the darker, the higher (classes in the "
             "legend). An area whose name has no known outline is a circle at the mean position of its records you "
             "may see, sized by its figure. Outlines: Natural Earth (countries via world-atlas; provinces and "
             "prefectures, admin 1).")
    return [PageBreak(), Paragraph(_esc(_("Maps by area")), st["h1"]), Paragraph(_esc(note), st["small"]), *images]


def _narrative(data: ReportData, st: dict[str, ParagraphStyle]) -> list[Any]:
    a = data.assessment
    story: list[Any] = [PageBreak(), Paragraph(_esc(_("Assessment")), st["h1"])]
    if a is None:
        return [*story, Paragraph(_esc(_("No assessment has been written for this period yet.")), st["base"])]
    story.append(Paragraph(_esc(f"{a.title} ({a.period_start} {DASH} {a.period_end})"), st["h2"]))
    if a.findings:
        story += [Paragraph(_esc(_("Findings")), st["h2"]), Paragraph(_esc(a.findings), st["base"])]
    if a.recommendations:
        story.append(Paragraph(_esc(_("Recommendations")), st["h2"]))
        story += [Paragraph("• " + _esc(text), st["base"]) for text in a.recommendations]
    story.append(Paragraph(_esc(_("Leadership decision")), st["h2"]))
    story.append(Paragraph(_esc(a.leadership_decision or _("not decided yet")), st["base"]))
    if a.follow_up_actions:
        story.append(Paragraph(_esc(_("Follow-up actions")), st["h2"]))
        rows = [[Paragraph(f"<b>{_esc(h)}</b>", st["cell"]) for h in (_("Action"), _("Owner"), _("Due"),
                                                                      _("Status"))]]
        rows += [[Paragraph(_esc(x.get(k) or ""), st["cell"]) for k in ("action", "owner", "due", "status")]
                 for x in a.follow_up_actions]
        table = Table(rows, colWidths=[9 * cm, 3 * cm, 2.5 * cm, 2.5 * cm], repeatRows=1)
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.grey)]))
        story.append(table)
    return story


def build(actor: Actor, data: ReportData) -> bytes:
    """The PDF, as bytes, in the active language."""
    st = _styles()
    fw = data.framework
    footer = f"{fw.code} v{fw.version} · {_('Performance report')} · {data.produced_at}"
    page_word = _("Page")

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(st["small"].fontName, 7.5)
        canvas.setStrokeColor(colors.lightgrey)
        canvas.line(doc.leftMargin, 1.4 * cm, A4[0] - doc.rightMargin, 1.4 * cm)
        canvas.drawString(doc.leftMargin, 1.0 * cm, footer)
        canvas.drawRightString(A4[0] - doc.rightMargin, 1.0 * cm, f"{page_word} {doc.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=1.6 * cm, rightMargin=1.6 * cm, topMargin=1.6 * cm,
                            bottomMargin=2 * cm, title=f"{_('Performance report')} — {fw.title}",
                            author=data.reader, subject=f"{fw.code} v{fw.version}")
    story = [*_cover(data, st), *_summary(data, st), *_table(data, st), *_charts(data, st),
             *_maps(actor, data, st), *_narrative(data, st)]
    story += [Spacer(1, 12), HRFlowable(width="100%", color=colors.lightgrey),
              Paragraph(_esc(_("Values with their provenance (definition version, data cut-off, quality review) "
                               "are in the XLSX report of the same framework.")), st["small"])]
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
