"""API authentication: bearer tokens for machines, the Django session (with CSRF) for browsers."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from sitaware.core.scope import Actor, actor_for
from sitaware.core.services import authenticate_token

CSRF_FAILED = (
    "CSRF check failed: a browser session must send the csrftoken cookie's value in the X-CSRFToken header "
    "(GET /api/v1/me sets the cookie), or use 'Authorization: Bearer <token>'"
)


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        user = authenticate_token(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The browser's session; unsafe methods must carry the CSRF token."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Any | None:
        # Only a logged-in session is checked for CSRF: a request with no session (or a bad token) is
        # unauthenticated, and must be told so with 401 rather than a misleading CSRF 403.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise HttpError(403, CSRF_FAILED)
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


def request_actor(request: HttpRequest) -> Actor:
    """The scope Actor of the authenticated caller (PermissionDenied when they belong to no organisation)."""
    cached = getattr(request, "_sitaware_actor", None)
    if cached is None:
        cached = actor_for(getattr(request, "auth", None) or request.user)
        request._sitaware_actor = cached
    return cached


# Every endpoint takes either; an endpoint without `auth` would be public, and none is.
TOKEN_AUTH = TokenAuth()
SESSION_AUTH = SessionAuth()
API_AUTH = [TOKEN_AUTH, SESSION_AUTH]
