"""HTTP API of the alerts app: configure detectors, run them, read their runs and alerts, oversight numbers.

Deciding on an alert goes through the oversight API (POST /recommendations/{id}/decision) like any other
recommendation; nothing here accepts or publishes anything. The Atom feed is /alerts/feed.atom (outside /api).
"""

from typing import Any

from django.http import HttpRequest
from ninja import Body, Router, Status

from sitaware.alerts import detectors, runner, services
from sitaware.api.auth import request_actor

router = Router(tags=["alerts"])


@router.post("/detectors", response={201: dict}, summary="Configure a detector (analysts, supervisors)")
def create_detector(request: HttpRequest, payload: dict[str, Any] = Body(...)):  # noqa: B008
    return Status(201, detectors.serialize_detector(detectors.create_detector(request_actor(request), payload)))


@router.get("/detectors", summary="Detectors of your organisation")
def list_detectors(request: HttpRequest):
    qs = detectors.scoped_detectors(request_actor(request)).order_by("name")
    return {"items": [detectors.serialize_detector(d) for d in qs]}


@router.get("/detectors/{detector_id}", summary="One detector")
def get_detector(request: HttpRequest, detector_id: str):
    return detectors.serialize_detector(detectors.get_detector(request_actor(request), detector_id))


@router.patch("/detectors/{detector_id}", summary="Change a detector, e.g. switch it off with {\"enabled\": false}")
def update_detector(request: HttpRequest, detector_id: str, payload: dict[str, Any] = Body(...)):  # noqa: B008
    return detectors.serialize_detector(detectors.update_detector(request_actor(request), detector_id, payload))


@router.post("/detectors/{detector_id}/run", summary="Run a detector now; significant clusters become "
             "recommendations in the review queue")
def run_detector(request: HttpRequest, detector_id: str):
    run = runner.run_detector(request_actor(request), detector_id, trigger="api")
    return runner.serialize_run(run)


@router.get("/detectors/{detector_id}/runs", summary="A detector's runs, newest first, with parameters, data "
            "cut-off and code version")
def list_runs(request: HttpRequest, detector_id: str, limit: int = 50):
    return {"items": services.serialize_runs(services.list_runs(request_actor(request), detector_id, limit))}


@router.get("/alerts", summary="Alerts in your scope, newest first")
def list_alerts(request: HttpRequest, detector: str | None = None, state: str | None = None, limit: int = 100):
    rows = services.list_alerts(request_actor(request), detector=detector, state=state, limit=limit)
    return {"items": [services.serialize_alert(a) for a in rows]}


@router.get("/alerts/{alert_id}", summary="One alert: zone (GeoJSON), window, observed/expected, relative risk, "
            "p-value, recurrence interval, its records and, once published, its CAP message")
def get_alert(request: HttpRequest, alert_id: str):
    return services.serialize_alert(services.get_alert(request_actor(request), alert_id), detail=True)


@router.get("/stats", summary="Oversight numbers per detector: alerts raised, accepted, rejected, by area")
def stats(request: HttpRequest, detector: str | None = None):
    return {"items": services.detector_stats(request_actor(request), detector)}
