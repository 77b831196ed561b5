"""Turns service errors into HTTP answers that say what to fix. Out-of-scope reads are 404, never 403."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from sitaware.records.errors import (
    RecordNotFound,
    RecordValidationError,
    TransitionRefused,
    VersionConflict,
    schema_message,
)


class BadInput(ValueError):
    """Request input (query, path or body) that no service saw yet is wrong; `problems` is [{field, message}]."""

    def __init__(self, problems: list[dict[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))


def answer_service_errors(api: NinjaAPI, *error_types: type[Exception]) -> None:
    """Service errors that carry their HTTP `status` and a `body()` saying what to do become that answer, from
    whichever endpoint raises them."""
    for error_type in error_types:
        @api.exception_handler(error_type)
        def _answer(request: HttpRequest, exc: Any) -> Any:
            return JsonResponse(exc.body(), status=exc.status)


def answer_with_status(api: NinjaAPI, error_type: type[Exception], status: int) -> None:
    """A service error without a status of its own, answered with `status` and its message."""
    @api.exception_handler(error_type)
    def _answer(request: HttpRequest, exc: Exception) -> Any:
        return api.create_response(request, {"detail": str(exc)}, status=status)


def reject_unknown_params(request: HttpRequest, allowed: Iterable[str]) -> None:
    """A misspelt filter must not silently widen a query: name every parameter the endpoint does not know."""
    known = set(allowed)
    unknown = sorted(set(request.GET) - known)
    if unknown:
        accepted = ", ".join(sorted(known))
        raise BadInput(
            [{"field": name, "message": f"unknown query parameter; this endpoint accepts {accepted}"}
             for name in unknown]
        )


def _schema_problems(exc: ValidationError) -> list[dict[str, str]]:
    problems = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "payload", "query", "path")]
        message = schema_message(err)
        if not loc and err.get("type") == "missing":
            message = "send a JSON object in the request body (Content-Type: application/json)"
        problems.append({"field": ".".join(loc) or "request", "message": message})
    return problems


def install(api: NinjaAPI) -> None:
    def invalid(request: HttpRequest, problems: list[dict[str, str]]):
        return api.create_response(request, {"detail": "invalid input", "errors": problems}, status=400)

    @api.exception_handler(RecordValidationError)
    def _invalid(request: HttpRequest, exc: RecordValidationError):
        return invalid(request, exc.problems)

    @api.exception_handler(BadInput)
    def _bad_input(request: HttpRequest, exc: BadInput):
        return invalid(request, exc.problems)

    @api.exception_handler(ValidationError)
    def _schema_invalid(request: HttpRequest, exc: ValidationError):
        return invalid(request, _schema_problems(exc))

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError):
        if exc.status_code == 400 and str(exc).startswith("Cannot parse request body"):
            return invalid(request, [{"field": "body", "message": "not valid JSON; send a JSON object"}])
        return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)

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
            request,
            {"detail": "authentication required: send 'Authorization: Bearer <token>' (a valid, unrevoked, "
                       "unexpired token) or log in"},
            status=401,
        )
