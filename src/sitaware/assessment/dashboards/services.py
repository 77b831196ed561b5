"""Dashboards as data: create, change, delete, and their widgets, each write in the change log.

Who: viewing follows the organisation (like plans: anyone of the organisation with `view`); building follows
`permissions.py`'s "plan" action (analysts, supervisors, commanders); a dashboard is changed by its owner,
or by a supervisor or commander of its organisation. Everything else is refused (deny by default).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sitaware.assessment import permissions
from sitaware.assessment.dashboards.gallery import CHARTS, default_breakdown
from sitaware.assessment.dashboards.models import Dashboard, DashboardWidget
from sitaware.assessment.errors import AssessmentValidationError, NotFound
from sitaware.assessment.models import DISAGGREGATION_KEYS, Indicator
from sitaware.assessment.periods import PeriodError, parse_label
from sitaware.assessment.services import get_framework, log, parse
from sitaware.core.choices import Role
from sitaware.core.scope import Actor

MAX_WIDGETS = 24


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DashboardIn(_In):
    framework_id: uuid.UUID
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""


class DashboardChange(_In):
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: str | None = None


def _label(value: str | None) -> str:
    if not value:
        return ""
    try:
        parse_label(value)
    except PeriodError as exc:
        raise ValueError(str(exc)) from None
    return value.strip().upper()


class WidgetIn(_In):
    chart: Literal["card", "timeseries", "map", "table", "bar"]
    indicators: Annotated[list[str], Field(min_length=1, max_length=4)]
    # None: the default for the chart and indicator (disaggregated by default); "": totals only.
    breakdown: Literal["", "area", "unit", "category", "sex", "age_group"] | None = None
    title: Annotated[str, Field(max_length=200)] = ""
    first: str = ""
    last: str = ""
    periods: Annotated[int, Field(ge=1, le=120)] = 12
    style: Literal["", "line", "bar"] = ""

    _labels = field_validator("first", "last")(_label)


# ---------------------------------------------------------------- states (what the log keeps and the API shows)


def widget_state(w: DashboardWidget) -> dict[str, Any]:
    return {"id": w.pk, "position": w.position, "chart": w.chart, "title": w.title, "indicators": list(w.indicators),
            "breakdown": w.breakdown, "first": w.first, "last": w.last, "periods": w.periods, "style": w.style}


def dashboard_state(d: Dashboard, widgets: list[DashboardWidget] | None = None) -> dict[str, Any]:
    widgets = list(d.widgets.all()) if widgets is None else widgets
    return {"id": str(d.id), "framework": str(d.framework_id), "title": d.title, "description": d.description,
            "owner": d.owner.get_username(), "widgets": [widget_state(w) for w in widgets]}


# ---------------------------------------------------------------- reading


def _visible(actor: Actor) -> Any:
    qs = Dashboard.objects.select_related("framework", "owner")
    if actor.system:
        return qs
    if not actor.can("view") or actor.organisation_id is None:
        return qs.none()
    return qs.filter(organisation_id=actor.organisation_id)


def list_dashboards(actor: Actor) -> list[Dashboard]:
    return list(_visible(actor).order_by("title", "created_at"))


def get_dashboard(actor: Actor, dashboard_id: Any) -> Dashboard:
    try:
        key = uuid.UUID(str(dashboard_id))
    except ValueError:
        raise NotFound(_("no dashboard %(id)s") % {"id": dashboard_id}) from None
    found = _visible(actor).filter(pk=key).first()
    if found is None:
        raise NotFound(_("no dashboard %(id)s") % {"id": dashboard_id})
    return found


def widgets_of(dashboard: Dashboard) -> list[DashboardWidget]:
    return list(dashboard.widgets.order_by("position", "pk"))


def can_build(actor: Actor) -> bool:
    return actor.can("view") and permissions.can(actor, "plan")


def can_change(actor: Actor, dashboard: Dashboard) -> bool:
    if not can_build(actor):
        return False
    return actor.system or dashboard.owner_id == actor.user_id or actor.role in (Role.SUPERVISOR, Role.COMMANDER)


def _require_change(actor: Actor, dashboard: Dashboard) -> None:
    permissions.require(actor, "plan")
    if not can_change(actor, dashboard):
        raise PermissionDenied(_("only its owner (%(owner)s), a supervisor or a commander may change this "
                                 "dashboard") % {"owner": dashboard.owner.get_username()})


# ---------------------------------------------------------------- writing


def _log(actor: Actor, action: str, d: Dashboard, before: Any, after: Any, **extra: Any) -> None:
    log(actor, action, "dashboard", d.id, d.organisation_id, before, after, **extra)


def create_dashboard(actor: Actor, payload: Any) -> Dashboard:
    permissions.require(actor, "plan")
    data: DashboardIn = parse(DashboardIn, payload)
    if actor.user_id is None:
        raise PermissionDenied(_("a dashboard belongs to a person"))
    with transaction.atomic():
        fw = get_framework(actor, data.framework_id)
        d = Dashboard.objects.create(organisation_id=fw.organisation_id, framework=fw, owner_id=actor.user_id,
                                     title=data.title, description=data.description)
        _log(actor, "dashboard.create", d, None, dashboard_state(d, []))
    return d


def change_dashboard(actor: Actor, dashboard_id: Any, payload: Any) -> Dashboard:
    data: DashboardChange = parse(DashboardChange, payload)
    with transaction.atomic():
        d = get_dashboard(actor, dashboard_id)
        _require_change(actor, d)
        before = dashboard_state(d)
        for name in ("title", "description"):
            if name in data.model_fields_set and getattr(data, name) is not None:
                setattr(d, name, getattr(data, name))
        d.updated_at = timezone.now()
        d.save()
        after = dashboard_state(d)
        if after != before:
            _log(actor, "dashboard.update", d, before, after)
    return d


def delete_dashboard(actor: Actor, dashboard_id: Any) -> None:
    """A dashboard is configuration, not evidence: it goes, and the change log keeps what it was."""
    with transaction.atomic():
        d = get_dashboard(actor, dashboard_id)
        _require_change(actor, d)
        before = dashboard_state(d)
        _log(actor, "dashboard.delete", d, before, None)
        d.widgets.all().delete()
        d.delete()


def _check_widget(d: Dashboard, data: WidgetIn) -> tuple[list[Indicator], str]:
    chart = CHARTS[data.chart]
    problems: list[dict[str, str]] = []
    if len(data.indicators) > chart.max_indicators:
        problems.append({"field": "indicators", "message": _(
            "a %(chart)s shows at most %(n)s indicator(s)") % {"chart": chart.label, "n": chart.max_indicators}})
    indicators: list[Indicator] = []
    for raw in data.indicators:
        ind = None
        if is_uuid(raw):
            ind = Indicator.objects.filter(pk=uuid.UUID(str(raw)), framework_id=d.framework_id).first()
        if ind is None:
            problems.append({"field": "indicators", "message": _(
                "no indicator %(id)s in this dashboard's framework") % {"id": raw}})
        else:
            indicators.append(ind)
    if len({i.pk for i in indicators}) != len(indicators):
        problems.append({"field": "indicators", "message": _("an indicator is named twice")})
    breakdown = data.breakdown
    if indicators and breakdown is None:
        breakdown = default_breakdown(chart.key, list(indicators[0].disaggregation))
    breakdown = breakdown or ""
    if breakdown and breakdown not in chart.breakdowns:
        problems.append({"field": "breakdown", "message": _("a %(chart)s cannot be broken down by %(key)s") % {
            "chart": chart.label, "key": breakdown}})
    for ind in indicators:
        if breakdown and breakdown not in ind.disaggregation:
            problems.append({"field": "breakdown", "message": _(
                "indicator %(code)s is not broken down by %(key)s; it is by: %(keys)s") % {
                "code": ind.code, "key": breakdown, "keys": ", ".join(ind.disaggregation) or _("nothing")}})
    if chart.needs_breakdown and not breakdown:
        problems.append({"field": "breakdown", "message": _(
            "a %(chart)s needs a breakdown the indicator has (%(keys)s)") % {
            "chart": chart.label, "keys": ", ".join(k for k in chart.breakdowns if k in DISAGGREGATION_KEYS)}})
    if data.first and data.last:
        (a, fa), (b, fb) = parse_label(data.first), parse_label(data.last)
        if fa != fb:
            problems.append({"field": "last", "message": _("give both periods at the same frequency")})
        elif b.start < a.start:
            problems.append({"field": "last", "message": _("the last period is before the first")})
    for label in (data.first, data.last):
        if label and indicators and parse_label(label)[1] != indicators[0].frequency:
            problems.append({"field": "first" if label == data.first else "last", "message": _(
                "indicator %(code)s is reported %(frequency)s; give a %(frequency)s period") % {
                "code": indicators[0].code, "frequency": indicators[0].frequency}})
    if len({i.frequency for i in indicators}) > 1:
        problems.append({"field": "indicators", "message": _("the indicators of one chart must share a frequency")})
    if problems:
        raise AssessmentValidationError(problems, _("the chart cannot be drawn as set"))
    return indicators, breakdown


def is_uuid(raw: str) -> bool:
    try:
        uuid.UUID(str(raw))
    except ValueError:
        return False
    return True


def _apply(w: DashboardWidget, data: WidgetIn, indicators: list[Indicator], breakdown: str) -> None:
    w.chart, w.title, w.indicators, w.breakdown = data.chart, data.title, [str(i.pk) for i in indicators], breakdown
    w.first, w.last, w.periods = data.first, data.last, data.periods
    w.style = (data.style or "line") if data.chart == "timeseries" else ""


def add_widget(actor: Actor, dashboard_id: Any, payload: Any) -> DashboardWidget:
    data: WidgetIn = parse(WidgetIn, payload)
    with transaction.atomic():
        d = get_dashboard(actor, dashboard_id)
        _require_change(actor, d)
        widgets = widgets_of(d)
        if len(widgets) >= MAX_WIDGETS:
            raise AssessmentValidationError([{"field": "chart", "message": _(
                "a dashboard holds at most %(n)s charts; start another dashboard") % {"n": MAX_WIDGETS}}])
        indicators, breakdown = _check_widget(d, data)
        before = dashboard_state(d, widgets)
        w = DashboardWidget(dashboard=d, position=(widgets[-1].position + 1) if widgets else 1)
        _apply(w, data, indicators, breakdown)
        w.save()
        d.updated_at = timezone.now()
        d.save(update_fields=["updated_at"])
        _log(actor, "dashboard.widget.add", d, before, dashboard_state(d, [*widgets, w]), widget=w.pk)
    return w


def _widget(d: Dashboard, widget_id: Any) -> DashboardWidget:
    w = d.widgets.filter(pk=widget_id).first() if str(widget_id).isdigit() else None
    if w is None:
        raise NotFound(_("no chart %(id)s on this dashboard") % {"id": widget_id})
    return w


def change_widget(actor: Actor, dashboard_id: Any, widget_id: Any, payload: Any) -> DashboardWidget:
    data: WidgetIn = parse(WidgetIn, payload)
    with transaction.atomic():
        d = get_dashboard(actor, dashboard_id)
        _require_change(actor, d)
        w = _widget(d, widget_id)
        indicators, breakdown = _check_widget(d, data)
        before = dashboard_state(d)
        _apply(w, data, indicators, breakdown)
        w.save()
        d.updated_at = timezone.now()
        d.save(update_fields=["updated_at"])
        after = dashboard_state(d)
        if after != before:
            _log(actor, "dashboard.widget.change", d, before, after, widget=w.pk)
    return w


def remove_widget(actor: Actor, dashboard_id: Any, widget_id: Any) -> None:
    with transaction.atomic():
        d = get_dashboard(actor, dashboard_id)
        _require_change(actor, d)
        w = _widget(d, widget_id)
        before = dashboard_state(d)
        w.delete()
        _log(actor, "dashboard.widget.remove", d, before, dashboard_state(d), widget=int(widget_id))


def move_widget(actor: Actor, dashboard_id: Any, widget_id: Any, offset: int) -> None:
    """Move a chart earlier (offset < 0) or later (> 0) in the dashboard's order."""
    with transaction.atomic():
        d = get_dashboard(actor, dashboard_id)
        _require_change(actor, d)
        widgets = widgets_of(d)
        w = _widget(d, widget_id)
        before = dashboard_state(d, widgets)
        index = next(i for i, x in enumerate(widgets) if x.pk == w.pk)
        target = max(0, min(len(widgets) - 1, index + offset))
        if target == index:
            return
        widgets.insert(target, widgets.pop(index))
        for position, x in enumerate(widgets, start=1):
            if x.position != position:
                x.position = position
                x.save(update_fields=["position"])
        _log(actor, "dashboard.widget.move", d, before, dashboard_state(d, widgets), widget=w.pk)

