"""HTTP API of the analytics app: run a place-based risk map (a recommendation), list and read risk maps.

Deciding on a risk map goes through the oversight API (POST /recommendations/{id}/decision) like any other
recommendation; nothing here accepts or applies anything.
"""

# No `from __future__ import annotations` here: ninja must see RiskMapIn as a class to read it from the body.
import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from sitaware.analytics import services
from sitaware.api.auth import request_actor

router = Router(tags=["analytics"])


class RiskMapIn(Schema):
    categories: list[str] = []
    area: dict[str, Any]  # {"bbox": [min_lon, min_lat, max_lon, max_lat]} | {"admin1": "..."} | {"cells": [...]}
    resolution: int = 8
    horizon_days: int = 7
    model: str = "default"
    patrol_records: str = "exclude"
    top_n: int = 10
    exploration_share: float = 0.2
    origin: dt.datetime | None = None


@router.post("/risk-maps", response={201: dict},
             summary="Forecast incidents per map cell for the next period; stores a recommendation, changes nothing")
def run_risk_map(request: HttpRequest, payload: RiskMapIn):
    rec = services.forecast_risk_map(
        request_actor(request), payload.categories, payload.area, payload.resolution, payload.horizon_days,
        payload.model,
        patrol_records=payload.patrol_records, top_n=payload.top_n, exploration_share=payload.exploration_share,
        origin=payload.origin,
    )
    return Status(201, {"recommendation": str(rec.id), "risk_map": str(rec.risk_map.id), "status": rec.status})


@router.get("/risk-maps", summary="Risk maps in your scope, newest first (accepted=true: those patrols may use)")
def list_risk_maps(request: HttpRequest, accepted: bool | None = None, limit: int = 100):
    rows = services.list_risk_maps(request_actor(request), accepted=accepted, limit=limit)
    return {"items": [services.serialize_risk_map(r) for r in rows]}


@router.get("/risk-maps/{risk_map_id}", summary="One risk map with its cells, top cells, explanation and "
            "concentration report")
def get_risk_map(request: HttpRequest, risk_map_id: str):
    return services.serialize_risk_map(services.get_risk_map(request_actor(request), risk_map_id), detail=True)
