"""The periodic performance report of one framework, as an XLSX workbook (this module) or a PDF
(`report_pdf`): targets, values and traffic lights, in the reader's language.

Built from what the viewer may see (`values.read_values`), so a report never holds a figure its reader could
not open in the application; figures recomputed over a narrower scope are marked partial. `collect` gathers
what both formats show; `render` is the one entry point for the API and the command.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from sitaware.assessment import lights, values
from sitaware.assessment.models import Assessment, Indicator, ResultsFramework
from sitaware.assessment.services import get_framework
from sitaware.core.scope import Actor

FILLS = {lights.GREEN: "63BE7B", lights.AMBER: "FFD966", lights.RED: "F8696B", lights.GREY: "D9D9D9"}
FORMATS = {"xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
           "pdf": ("application/pdf", "pdf")}
LANGUAGES = ("en", "fr")


@dataclass
class IndicatorReport:
    """One indicator as a report shows it: its place in the plan, its totals and its latest area figures."""

    indicator: Indicator
    totals: list[values.ValueView]
    by_area: dict[str, values.ValueView] = field(default_factory=dict)  # latest period's figure per area

    @property
    def latest(self) -> values.ValueView | None:
        return self.totals[-1] if self.totals else None

    @property
    def latest_value(self) -> Decimal | None:
        return _decimal(self.latest.state["value"]) if self.latest else None

    @property
    def colour(self) -> str:
        return _light(self.indicator, self.latest_value)


@dataclass
class ReportData:
    framework: ResultsFramework
    reader: str
    produced_at: str
    since: Any
    until: Any
    indicators: list[IndicatorReport]
    assessment: Assessment | None

    @property
    def partial(self) -> bool:
        return any(v.partial for r in self.indicators for v in [*r.totals, *r.by_area.values()])


def collect(actor: Actor, framework_id: Any, *, since: Any = None, until: Any = None) -> ReportData:
    """What a report shows, read within the viewer's scope."""
    fw = get_framework(actor, framework_id)
    out = []
    for ind in fw.indicators.select_related("output__outcome__objective").order_by("code"):
        rows = values.read_values(actor, ind.id, since=since, until=until)
        totals = [v for v in rows if not v.state["disaggregation"]]
        report = IndicatorReport(ind, totals)
        if report.latest is not None:
            period = report.latest.state["period_start"]
            report.by_area = {v.state["disaggregation"]["area"]: v for v in rows
                              if set(v.state["disaggregation"]) == {"area"} and v.state["period_start"] == period}
        out.append(report)
    # The narrative: the latest assessment of this plan within the report's span (decided ones first).
    assessments = Assessment.objects.filter(framework=fw)
    if until:
        assessments = assessments.filter(period_start__lt=until)
    if since:
        assessments = assessments.filter(period_end__gt=since)
    assessment = assessments.order_by("-period_end", "status", "-created_at").first()
    return ReportData(fw, actor.label, timezone.now().isoformat(timespec="seconds"), since, until, out, assessment)


def render(actor: Actor, framework_id: Any, *, fmt: str = "xlsx", language: str | None = None, since: Any = None,
           until: Any = None) -> tuple[ResultsFramework, bytes, str, str]:
    """The report as bytes, with its content type and a file name; `language` is en or fr (default: the
    active one)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; use xlsx or pdf")
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"unknown report language {language!r}; use en or fr")
    with translation.override(language or translation.get_language() or "en"):
        if fmt == "pdf":
            from sitaware.assessment import report_pdf

            data = collect(actor, framework_id, since=since, until=until)
            content = report_pdf.build(actor, data)
            fw = data.framework
        else:
            fw, content = build(actor, framework_id, since=since, until=until)
        lang = translation.get_language()
    content_type, extension = FORMATS[fmt]
    return fw, content, content_type, f"{fw.code}-v{fw.version}-report-{lang}.{extension}"


def _light_label(colour: str) -> str:
    return {lights.GREEN: _("green: target met"), lights.AMBER: _("amber: progress, target not met"),
            lights.RED: _("red: no progress"), lights.GREY: _("grey: cannot be judged")}[colour]


def _decimal(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def _number(value: Decimal | None) -> float | int | None:
    # Spreadsheets hold binary floats; whole numbers stay integers so counts read back exactly.
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _header(sheet: Any, names: list[str]) -> None:
    sheet.append(names)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"


def build(actor: Actor, framework_id: Any, *, since: Any = None, until: Any = None) -> tuple[ResultsFramework, bytes]:
    """The workbook for a framework's indicators (totals only), as bytes."""
    fw = get_framework(actor, framework_id)
    book = Workbook()
    summary = book.active
    summary.title = _("Summary")
    _header(summary, [_("Objective"), _("Outcome"), _("Output"), _("Code"), _("Indicator"), _("Unit"),
                      _("Frequency"), _("Baseline"), _("Baseline period"), _("Target"), _("Target period"),
                      _("Latest period"), _("Latest value"), _("Status"), _("Partial")])
    detail = book.create_sheet(_("Values"))
    _header(detail, [_("Code"), _("Period"), _("Value"), _("Why no value"), _("Source"), _("Definition version"),
                     _("Data cut-off"), _("QA status"), _("Status"), _("Partial")])
    any_partial = False
    indicators = fw.indicators.select_related("output__outcome__objective").order_by("code")
    for ind in indicators:
        rows = values.read_values(actor, ind.id, since=since, until=until, disaggregation={})
        for view in rows:
            state = view.state
            colour = _light(ind, _decimal(state["value"]))
            detail.append([ind.code, state["period"], _number(_decimal(state["value"])), state["empty_reason"],
                           state["source"], state["definition_version"], state["data_cutoff_seq"],
                           state["qa_status"], _light_label(colour), _("yes") if view.partial else ""])
            detail.cell(detail.max_row, 9).fill = _fill(colour)
        latest = rows[-1] if rows else None
        value = _decimal(latest.state["value"]) if latest else None
        colour = _light(ind, value)
        any_partial |= any(v.partial for v in rows)
        output = ind.output
        summary.append([
            f"{output.outcome.objective.code} {output.outcome.objective.title}",
            f"{output.outcome.code} {output.outcome.title}", f"{output.code} {output.title}", ind.code, ind.name,
            ind.unit, ind.get_frequency_display(), _number(ind.baseline_value), ind.baseline_period_label,
            _number(ind.target_value), ind.target_period_label, latest.state["period"] if latest else "",
            _number(value), _light_label(colour), _("yes") if latest and latest.partial else "",
        ])
        summary.cell(summary.max_row, 14).fill = _fill(colour)
    notes = book.create_sheet(_("Notes"))
    notes.append([_("Framework"), f"{fw.code} v{fw.version}: {fw.title}"])
    notes.append([_("Produced"), timezone.now().isoformat(timespec="seconds")])
    notes.append([_("Produced for"), actor.label])
    if any_partial:
        notes.append([_("Partial figures"), _(values.PARTIAL_NOTE)])
    buffer = io.BytesIO()
    book.save(buffer)
    return fw, buffer.getvalue()


def _light(ind: Indicator, value: Decimal | None) -> str:
    return lights.light(value, ind.target_value, ind.baseline_value, ind.direction)


def _fill(colour: str) -> PatternFill:
    return PatternFill("solid", start_color=FILLS[colour], end_color=FILLS[colour])
