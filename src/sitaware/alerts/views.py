"""The Atom feed of published alerts and each CAP message, for authorised consumers.

Authenticated by an API token (`Authorization: Bearer ...`, what feed readers and other systems use) or a
logged-in session; anything else is 401. Only alerts in the caller's scope are listed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from sitaware.alerts import services
from sitaware.alerts.errors import AlertNotFound
from sitaware.core.scope import Actor, actor_for
from sitaware.core.services import authenticate_token


def _user(request: HttpRequest) -> Any | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return authenticate_token(header[7:].strip())
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated and user.is_active else None


def _actor(request: HttpRequest) -> Actor | HttpResponse:
    user = _user(request)
    if user is None:
        response = HttpResponse("authentication required: an API token (Authorization: Bearer) or a session\n",
                                status=401, content_type="text/plain")
        response["WWW-Authenticate"] = "Bearer"
        return response
    try:
        return actor_for(user)
    except PermissionDenied as exc:
        return HttpResponse(f"{exc}\n", status=403, content_type="text/plain")


def atom_feed(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    if isinstance(actor, HttpResponse):
        return actor
    body = services.atom_feed(actor, request.build_absolute_uri("/").rstrip("/"))
    return HttpResponse(body, content_type="application/atom+xml; charset=utf-8")


def cap_message(request: HttpRequest, alert_id: str) -> HttpResponse:
    actor = _actor(request)
    if isinstance(actor, HttpResponse):
        return actor
    try:
        alert = services.get_alert(actor, alert_id)
    except AlertNotFound:
        alert = None
    if alert is None or alert.state not in services.PUBLISHED or not alert.cap_xml:
        return HttpResponse("no such published alert\n", status=404, content_type="text/plain")
    return HttpResponse(alert.cap_xml.encode("utf-8"), content_type="application/cap+xml; charset=utf-8")
