"""Dashboard pages (`/assessment/dashboards/…`) and the drill-down page of one figure (`/assessment/values/<id>/`).

Server-rendered, no JavaScript needed: the builder is a form whose "Preview" draws the chart from the real
figures without saving it, and "Add to the dashboard" saves it through the services (and the change log).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sitaware.assessment import operational, services, values
from sitaware.assessment.dashboards import data, gallery, preview
from sitaware.assessment.dashboards import services as dashboards
from sitaware.assessment.dashboards.models import Dashboard, DashboardWidget
from sitaware.assessment.errors import AssessmentError, AssessmentValidationError, Conflict, NotFound
from sitaware.assessment.models import DataSource
from sitaware.core.scope import Actor, actor_for

RECORDS_PER_PAGE = 100


def _actor(request: HttpRequest) -> Actor:
    actor = actor_for(request.user)
    if not actor.can("view"):
        raise PermissionDenied(_("your role (%(role)s) may not use performance assessment") % {"role": actor.role})
    return actor


def _dashboard(actor: Actor, dashboard_id: Any) -> Dashboard:
    try:
        return dashboards.get_dashboard(actor, dashboard_id)
    except NotFound as exc:
        raise Http404(str(exc)) from None


# ---------------------------------------------------------------- list and create


@login_required
@require_http_methods(["GET", "POST"])
def dashboard_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    problems: list[dict[str, str]] = []
    if request.method == "POST":
        try:
            d = dashboards.create_dashboard(actor, {"framework_id": request.POST.get("framework", ""),
                                                    "title": request.POST.get("title", ""),
                                                    "description": request.POST.get("description", "")})
        except AssessmentValidationError as exc:
            problems = exc.problems
        except NotFound as exc:
            problems = [{"field": "framework", "message": str(exc)}]
        else:
            return HttpResponseRedirect(reverse("assessment:dashboard-build", args=[d.pk]))
    context = {"dashboards": dashboards.list_dashboards(actor), "can_build": dashboards.can_build(actor),
               "frameworks": services.list_frameworks(actor), "problems": problems, "sent": request.POST}
    return render(request, "assessment/dashboard_list.html", context, status=400 if problems else 200)


# ---------------------------------------------------------------- show


@login_required
@require_GET
def dashboard_show(request: HttpRequest, dashboard_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    d = _dashboard(actor, dashboard_id)
    return dashboard_page(request, actor, d, dashboards.widgets_of(d))


def dashboard_page(request: HttpRequest, actor: Actor, d: Dashboard, widgets: list[DashboardWidget]) -> HttpResponse:
    """The page of a dashboard and its widgets (saved, or not yet: the benchmark renders unsaved ones)."""
    shown = data.show_all(actor, widgets)
    context = {"dashboard": d, "shown": shown, "partial": any(s.partial for s in shown),
               "can_change": dashboards.can_change(actor, d)}
    return render(request, "assessment/dashboard.html", context)


# ---------------------------------------------------------------- build


def _widget_payload(post: Any) -> dict[str, Any]:
    chart = post.get("chart", "")
    indicators = [post.get("indicator", "")] + [i for i in post.getlist("compare") if i]
    if chart != "timeseries":
        indicators = indicators[:1]
    breakdown = post.get("breakdown", "default")
    try:
        periods = int(post.get("periods") or 12)
    except ValueError:
        periods = -1  # the schema names the field
    return {"chart": chart, "indicators": [i for i in indicators if i] or [""],
            "breakdown": None if breakdown == "default" else breakdown, "title": post.get("title", ""),
            "first": post.get("first", ""), "last": post.get("last", ""), "periods": periods,
            "style": post.get("style", "") if chart == "timeseries" else ""}


def _preview(actor: Actor, d: Dashboard, payload: dict[str, Any]) -> data.Shown:
    """The chart as it would be drawn, from the real figures, without saving anything."""
    parsed = services.parse(dashboards.WidgetIn, payload)
    indicators, breakdown = dashboards._check_widget(d, parsed)
    w = DashboardWidget(dashboard=d, position=0)
    dashboards._apply(w, parsed, indicators, breakdown)
    return data.show(actor, w)


@login_required
@require_http_methods(["GET", "POST"])
def dashboard_build(request: HttpRequest, dashboard_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    d = _dashboard(actor, dashboard_id)
    if not dashboards.can_change(actor, d):
        raise PermissionDenied(_("only its owner (%(owner)s), a supervisor or a commander may change this "
                                 "dashboard") % {"owner": d.owner.get_username()})
    problems: list[dict[str, str]] = []
    previewed = None
    status = 200
    action = request.POST.get("action", "")
    if request.method == "POST":
        try:
            if action == "delete":
                dashboards.delete_dashboard(actor, d.pk)
                return HttpResponseRedirect(reverse("assessment:dashboards"))
            if action == "rename":
                dashboards.change_dashboard(actor, d.pk, {"title": request.POST.get("title", ""),
                                                          "description": request.POST.get("description", "")})
                return HttpResponseRedirect(reverse("assessment:dashboard-build", args=[d.pk]))
            payload = _widget_payload(request.POST)
            if action == "add":
                dashboards.add_widget(actor, d.pk, payload)
                return HttpResponseRedirect(reverse("assessment:dashboard-build", args=[d.pk]) + "#charts")
            previewed = _preview(actor, d, payload)
        except AssessmentValidationError as exc:
            problems, status = exc.problems, 400
        except AssessmentError as exc:
            problems, status = [{"field": "", "message": str(exc)}], exc.status
        d.refresh_from_db()
    indicators = services.list_indicators(actor, d.framework_id)
    names = {str(i.pk): f"{i.code} {i.name}" for i in indicators}
    rows = [{"widget": w, "chart": gallery.CHARTS[w.chart].label if w.chart in gallery.CHARTS else w.chart,
             "indicators": ", ".join(names.get(i, i) for i in w.indicators),
             "breakdown": gallery.BREAKDOWN_LABELS.get(w.breakdown, w.breakdown) if w.breakdown else ""}
            for w in dashboards.widgets_of(d)]
    context = {
        "dashboard": d, "widget_rows": rows, "gallery": preview.gallery(), "indicators": indicators,
        "indicator_options": [(i, ", ".join(str(gallery.BREAKDOWN_LABELS.get(k, k)).lower() for k in i.disaggregation))
                              for i in indicators],
        "breakdowns": list(gallery.BREAKDOWN_LABELS.items()), "styles": list(gallery.STYLES.items()),
        "problems": problems, "previewed": previewed, "sent": request.POST if request.method == "POST" else {},
        "sent_compare": request.POST.getlist("compare") if request.method == "POST" else [],
        "chosen_chart": request.POST.get("chart") or request.GET.get("chart") or "card",
        "moves": [("up", _("Move up")), ("down", _("Move down")), ("remove", _("Remove"))],
    }
    return render(request, "assessment/dashboard_build.html", context, status=status)


@login_required
@require_POST
def widget_action(request: HttpRequest, dashboard_id: uuid.UUID, widget_id: int) -> HttpResponse:
    actor = _actor(request)
    action = request.POST.get("action", "")
    try:
        if action == "remove":
            dashboards.remove_widget(actor, dashboard_id, widget_id)
        elif action in ("up", "down"):
            dashboards.move_widget(actor, dashboard_id, widget_id, -1 if action == "up" else 1)
        else:
            return HttpResponse(_("unknown action; use up, down or remove"), status=400)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    return HttpResponseRedirect(reverse("assessment:dashboard-build", args=[dashboard_id]) + "#charts")


# ---------------------------------------------------------------- drill-down


def _count_label(formula: dict[str, Any] | None) -> str:
    """What a figure's record_count counts: records, or for the operational measures alerts and plans' cells."""
    kind = (formula or {}).get("type")
    if kind == "alert_decision":
        return _("Alerts decided")
    if kind == "patrol_coverage":
        return _("Priority cells counted")
    return _("Records counted")


@login_required
@require_GET
def value_detail(request: HttpRequest, value_id: int) -> HttpResponse:
    """One figure: its value as the viewer may see it, its provenance and, for a computed figure, the records
    that made it (read now, within the viewer's scope)."""
    actor = _actor(request)
    try:
        v = values.get_value(actor, value_id)
        seen = [view for view in values.read_values(actor, v.indicator_id, since=v.period_start,
                                                    until=v.period_end, disaggregation=v.disaggregation)
                if view.state["id"] == v.pk]
    except NotFound as exc:
        raise Http404(str(exc)) from None
    if not seen:  # an entered value above the viewer's clearance: as if absent
        raise Http404(_("no indicator value %(id)s") % {"id": value_id})
    view = seen[0]
    indicator = v.indicator
    context: dict[str, Any] = {"indicator": indicator, "state": view.state, "partial": view.partial,
                               "value": v, "formula": None, "records": None, "items": None,
                               "back": request.GET.get("from", "")}
    if v.definition_id:
        context["formula"] = v.definition.formula
    context["count_label"] = _count_label(context["formula"])
    if v.source == DataSource.COMPUTED and v.definition_id:
        try:
            drill = values.drill_down(actor, v.pk)
        except Conflict:
            drill = None
        if drill is not None and drill["item_type"] != "record":
            # Alerts or patrol plans behind an operational figure: few, listed in full.
            context.update(items=operational.describe(actor, drill["item_type"], drill["record_ids"]),
                           item_type=drill["item_type"], changed_since=drill["changed_since"])
        elif drill is not None:
            context.update(_records_page(actor, drill["record_ids"], request.GET.get("page", "1")))
            context["changed_since"] = drill["changed_since"]
    figure = data._decimal(view.state["value"])
    light = data.light_of(indicator, figure)
    context.update(figure_text=data.number_text(figure), target_text=data.number_text(indicator.target_value),
                   baseline_text=data.number_text(indicator.baseline_value),
                   formula_text=json.dumps(context["formula"], indent=2, ensure_ascii=False) if context["formula"]
                   else "")
    context.update(light=light, light_label=data.light_label(light), light_colour=data.svg.LIGHT_COLOURS[light])
    back = context["back"]
    if back:
        try:
            context["back_dashboard"] = dashboards.get_dashboard(actor, back)
        except NotFound:
            context["back_dashboard"] = None
    return render(request, "assessment/value.html", context)


def _records_page(actor: Actor, ids: list[str], page_text: str) -> dict[str, Any]:
    from sitaware.records import services as records
    from sitaware.web import pages

    try:
        page = max(1, int(page_text))
    except ValueError:
        page = 1
    total = len(ids)
    qs = records.scoped_records(actor).filter(pk__in=ids).select_related("reporting_unit", "organisation") \
        .order_by("-occurred_at", "-id")
    rows = list(qs[(page - 1) * RECORDS_PER_PAGE: page * RECORDS_PER_PAGE]) if len(ids) <= 900 else \
        _chunked(qs.model, actor, ids, page)
    redactor = records.Redactor.for_actor(actor)
    tax = pages.taxonomy()
    items = []
    for record in rows:
        item = records.serialize(record, redactor)
        item["category_label"] = pages.category_label(item["category"], tax) if item["category"] else ""
        items.append(item)
    pages_count = max(1, -(-total // RECORDS_PER_PAGE))
    return {"records": items, "record_total": total, "page": page, "pages": pages_count,
            "next_page": page + 1 if page < pages_count else None, "prev_page": page - 1 if page > 1 else None}


def _chunked(model: Any, actor: Actor, ids: list[str], page: int) -> list[Any]:
    # Many ids: order them by time in chunks (under SQLite's parameter limit), then read only the page's rows.
    from sitaware.records import services as records

    keyed = []
    for start in range(0, len(ids), 900):
        keyed += list(records.scoped_records(actor).filter(pk__in=ids[start:start + 900])
                      .values_list("occurred_at", "id"))
    keyed.sort(reverse=True)
    wanted = [pk for _when, pk in keyed[(page - 1) * RECORDS_PER_PAGE: page * RECORDS_PER_PAGE]]
    found = {r.pk: r for r in records.scoped_records(actor).filter(pk__in=wanted)
             .select_related("reporting_unit", "organisation")}
    return [found[pk] for pk in wanted if pk in found]
