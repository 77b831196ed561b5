"""Turns service errors into HTTP answers that say what to fix. Out-of-scope reads are 404, never 403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from sitaware.records.errors import RecordNotFound, RecordValidationError, TransitionRefused, VersionConflict


def install(api: NinjaAPI) -> None:
    @api.exception_handler(RecordValidationError)
    def _invalid(request: HttpRequest, exc: RecordValidationError):
        return api.create_response(request, {"detail": "invalid input", "errors": exc.problems}, status=400)

    @api.exception_handler(ValidationError)
    def _schema_invalid(request: HttpRequest, exc: ValidationError):
        errors = []
        for err in exc.errors:
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "payload", "query")]
            message = err.get("msg", "invalid")
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            if err.get("type") == "timezone_aware":
                message = "needs a time zone, e.g. 2026-01-31T14:00:00+00:00 or ...Z"
            errors.append({"field": ".".join(loc) or "request", "message": message})
        return api.create_response(request, {"detail": "invalid input", "errors": errors}, status=400)

    @api.exception_handler(RecordNotFound)
    def _not_found(request: HttpRequest, exc: RecordNotFound):
        return api.create_response(request, {"detail": str(exc)}, status=404)

    @api.exception_handler(VersionConflict)
    def _conflict(request: HttpRequest, exc: VersionConflict):
        return api.create_response(
            request,
            {"detail": str(exc), "current_version": exc.current_version, "base_version": exc.base_version},
            status=409,
        )

    @api.exception_handler(TransitionRefused)
    def _refused(request: HttpRequest, exc: TransitionRefused):
        return api.create_response(request, {"detail": str(exc)}, status=409)

    @api.exception_handler(PermissionDenied)
    def _denied(request: HttpRequest, exc: PermissionDenied):
        return api.create_response(request, {"detail": str(exc) or "not allowed"}, status=403)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError):
        return api.create_response(
            request, {"detail": "authentication required: send 'Authorization: Bearer <token>' or log in"}, status=401
        )
