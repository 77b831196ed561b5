"""HTTP API of dashboards (`/api/v1/assessment/dashboards`): the configuration, and each chart's figures as
the caller may see them (each with the id of its value, for `/values/{id}/records`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from sitaware.api.auth import request_actor
from sitaware.assessment.dashboards import data
from sitaware.assessment.dashboards import services as dashboards

router = Router(tags=["assessment"])


def _figure(f: data.Figure) -> dict[str, Any]:
    return {"period": f.period, "value": None if f.value is None else str(f.value), "value_id": f.value_id,
            "partial": f.partial}


def _shown(s: data.Shown) -> dict[str, Any]:
    return {**dashboards.widget_state(s.widget), "periods": s.periods, "problem": s.problem, "partial": s.partial,
            "totals": {ind: [_figure(f) for f in figures] for ind, figures in s.totals.items()},
            "groups": {group: [_figure(f) for f in by_period.values()] for group, by_period in s.groups.items()}}


@router.get("", summary="Your organisation's dashboards")
def list_dashboards(request: HttpRequest):
    return {"items": [dashboards.dashboard_state(d) for d in dashboards.list_dashboards(request_actor(request))]}


@router.post("", response={201: dict}, summary="Create a dashboard over a results framework")
def create_dashboard(request: HttpRequest, payload: dashboards.DashboardIn):
    return Status(201, dashboards.dashboard_state(dashboards.create_dashboard(request_actor(request), payload), []))


@router.get("/{dashboard_id}", summary="A dashboard with every chart's figures as you may see them (partial "
            "figures are recomputed over your scope and marked)")
def get_dashboard(request: HttpRequest, dashboard_id: str):
    actor = request_actor(request)
    d = dashboards.get_dashboard(actor, dashboard_id)
    shown = data.show_all(actor, dashboards.widgets_of(d))
    return {**dashboards.dashboard_state(d), "widgets": [_shown(s) for s in shown],
            "partial": any(s.partial for s in shown)}


@router.patch("/{dashboard_id}", summary="Change a dashboard's title or description")
def change_dashboard(request: HttpRequest, dashboard_id: str, payload: dashboards.DashboardChange):
    return dashboards.dashboard_state(dashboards.change_dashboard(request_actor(request), dashboard_id, payload))


@router.delete("/{dashboard_id}", response={204: None}, summary="Delete a dashboard (the change log keeps it)")
def delete_dashboard(request: HttpRequest, dashboard_id: str):
    dashboards.delete_dashboard(request_actor(request), dashboard_id)
    return Status(204, None)


@router.post("/{dashboard_id}/widgets", response={201: dict},
             summary="Add a chart: type from the gallery (card, timeseries, map, table, bar), indicators, breakdown "
             "(omitted: the indicator's first, i.e. disaggregated by default), periods")
def add_widget(request: HttpRequest, dashboard_id: str, payload: dashboards.WidgetIn):
    return Status(201, dashboards.widget_state(dashboards.add_widget(request_actor(request), dashboard_id, payload)))


@router.put("/{dashboard_id}/widgets/{widget_id}", summary="Replace a chart's settings")
def change_widget(request: HttpRequest, dashboard_id: str, widget_id: int, payload: dashboards.WidgetIn):
    return dashboards.widget_state(dashboards.change_widget(request_actor(request), dashboard_id, widget_id,
                                                            payload))


@router.delete("/{dashboard_id}/widgets/{widget_id}", response={204: None}, summary="Remove a chart")
def remove_widget(request: HttpRequest, dashboard_id: str, widget_id: int):
    dashboards.remove_widget(request_actor(request), dashboard_id, widget_id)
    return Status(204, None)
