"""The indicator table as an XLSX workbook: targets, latest values and traffic lights, for one framework.

Built from what the viewer may see (`values.read_values`), so a report never holds a figure its reader could
not open in the application; figures recomputed over a narrower scope are marked partial.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from sitaware.assessment import lights, values
from sitaware.assessment.models import Indicator, ResultsFramework
from sitaware.assessment.services import get_framework
from sitaware.core.scope import Actor

FILLS = {lights.GREEN: "63BE7B", lights.AMBER: "FFD966", lights.RED: "F8696B", lights.GREY: "D9D9D9"}


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
