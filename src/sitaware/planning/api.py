"""HTTP API of patrol planning: propose, read, edit (with preview), decide, dispatch, export, track.

`POST /plans` solves while the client waits (201 with the plan). `POST /plans/proposals` checks the request the
same way, then has the task worker solve it (202 with the proposal); `GET /plans/proposals/{id}` follows it to
its plan. Both are listed before `/plans/{plan_id}`, whose pattern would otherwise take their path.

Deciding goes through the oversight gate; `POST /plans/{id}/decision` is a convenience that sends the plan's
current routes there (accept, or modify when edited). Out-of-scope plans are 404.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Body, File, Form, Router, Status
from ninja.files import UploadedFile

from sitaware.api.auth import request_actor
from sitaware.planning import exports, jobs, services, tracking

router = Router(tags=["planning"])


@router.post("/plans", response={201: dict}, summary="Propose a plan for one shift (a recommendation)")
def propose(request: HttpRequest, payload: dict[str, Any] = Body(...)):  # noqa: B008
    actor = request_actor(request)
    return Status(201, services.serialize_plan(actor, services.propose_plan(actor, payload), detail=True))


def _proposal(job: Any) -> dict[str, Any]:
    return {**jobs.serialize_proposal(job),
            "url": reverse("api:planning_proposal", kwargs={"proposal_id": job.pk}),
            "page": reverse("web:plan-proposal", args=[job.pk]),
            "plan_url": reverse("api:planning_plan", kwargs={"plan_id": job.plan_id}) if job.plan_id else None}


@router.post("/plans/proposals", response={202: dict},
             summary="Ask for a plan in the background: checked now (400 names every problem), solved by the task "
                     "worker; follow `url`")
def propose_later(request: HttpRequest, payload: dict[str, Any] = Body(...)):  # noqa: B008
    return Status(202, _proposal(jobs.ask(request_actor(request), payload)))


@router.get("/plans/proposals/{proposal_id}", url_name="planning_proposal",
            summary="A plan asked for in the background: status, progress, and its plan (or why none) when done")
def proposal(request: HttpRequest, proposal_id: str):
    return _proposal(jobs.get_proposal(request_actor(request), proposal_id))


@router.get("/plans", summary="Plans of your organisation, newest first")
def list_plans(request: HttpRequest, status: str | None = None, limit: int = 50):
    actor = request_actor(request)
    return {"items": [services.serialize_plan(actor, p) for p in services.list_plans(actor, status=status,
                                                                                     limit=limit)]}


@router.get("/plans/{plan_id}", url_name="planning_plan",
            summary="One plan: visits per unit, why each cell is in or out, what it misses")
def get_plan(request: HttpRequest, plan_id: str):
    actor = request_actor(request)
    return services.serialize_plan(actor, services.get_plan(actor, plan_id), detail=True)


@router.get("/plans/{plan_id}/routes", summary="The way each patrol goes, along the plan's travel provider")
def routes(request: HttpRequest, plan_id: str):
    actor = request_actor(request)
    plan = services.get_plan(actor, plan_id)
    return {"plan": str(plan.id), "travel": services.serialize_plan(actor, plan)["travel"],
            "routes": services.route_shapes(plan)}


@router.get("/extracts", summary="OpenStreetMap extracts plans can use as their road graph")
def extracts(request: HttpRequest):
    return {"items": services.extracts(request_actor(request))}


@router.post("/extracts", response={201: dict}, summary="Add an OpenStreetMap extract (.osm.pbf or .osm)")
def add_extract(request: HttpRequest, file: File[UploadedFile], name: Form[str] = ""):
    info = services.upload_extract(request_actor(request), name or file.name, file.read())
    return Status(201, info)


@router.post("/plans/{plan_id}/edits", summary="Move, add or drop visits; dry_run previews the effect")
def edit(request: HttpRequest, plan_id: str, payload: dict[str, Any] = Body(...)):  # noqa: B008
    base = payload.get("base_version")
    return services.edit_plan(request_actor(request), plan_id, payload.get("edits"),
                              dry_run=bool(payload.get("dry_run")),
                              base_version=base if isinstance(base, int) and not isinstance(base, bool) else None)


@router.post("/plans/{plan_id}/decision", summary="Approve or reject (through the oversight decision gate)")
def decide(request: HttpRequest, plan_id: str, payload: dict[str, Any] = Body(...)):  # noqa: B008
    actor = request_actor(request)
    plan = services.decide_plan(actor, plan_id, str(payload.get("outcome")), str(payload.get("reason") or ""))
    return services.serialize_plan(actor, plan)


@router.post("/plans/{plan_id}/dispatch", summary="Dispatch an approved plan to the units")
def dispatch(request: HttpRequest, plan_id: str):
    actor = request_actor(request)
    return services.serialize_plan(actor, services.dispatch_plan(actor, plan_id))


@router.get("/plans/{plan_id}/export", summary="Printable sheet (html), GPX 1.1 or GeoJSON of an approved plan")
def export(request: HttpRequest, plan_id: str, format: str = "html"):
    content, content_type, name = exports.export_plan(request_actor(request), plan_id, format)
    response = HttpResponse(content, content_type=content_type)
    if format != "html":
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get("/settings/travel", summary="Your organisation's default travel provider (and where it comes from)")
def default_travel(request: HttpRequest):
    return services.default_travel(request_actor(request))


@router.put("/settings/travel", summary="Set your organisation's default travel provider (a `travel` object)")
def set_default_travel(request: HttpRequest, payload: dict[str, Any] = Body(...)):  # noqa: B008
    return services.set_default_travel(request_actor(request), payload)


@router.delete("/settings/travel", summary="Remove it: the site's default applies again")
def clear_default_travel(request: HttpRequest):
    return services.set_default_travel(request_actor(request), None)


@router.get("/plans/{plan_id}/positions", summary="Stored positions of each patrol of a plan, oldest first")
def positions_read(request: HttpRequest, plan_id: str):
    return {"plan": plan_id, "positions": tracking.positions_of(request_actor(request), plan_id)}


@router.post("/plans/{plan_id}/positions", response={201: dict}, summary="Positions of a unit: {unit, points}")
def positions(request: HttpRequest, plan_id: str, payload: dict[str, Any] = Body(...)):  # noqa: B008
    n = tracking.report_positions(request_actor(request), plan_id, str(payload.get("unit")), payload.get("points"))
    return Status(201, {"stored": n})


@router.post("/plans/{plan_id}/report", response={201: dict}, summary="Patrol report after the fact: {unit, stops}")
def report(request: HttpRequest, plan_id: str, payload: dict[str, Any] = Body(...)):  # noqa: B008
    n = tracking.report_patrol(request_actor(request), plan_id, str(payload.get("unit")), payload.get("stops"))
    return Status(201, {"stored": n})


@router.post("/plans/{plan_id}/actual", summary="Compute plan vs. actual from the stored positions (and store it)")
def plan_vs_actual(request: HttpRequest, plan_id: str):
    return tracking.plan_vs_actual(request_actor(request), plan_id)
