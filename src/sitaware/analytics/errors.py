"""Errors of the analytics services. They extend the oversight errors so the API answers them the same way
(status and a body that says what to fix)."""

from __future__ import annotations

from sitaware.oversight.errors import OversightError, OversightValidationError


class ForecastInputError(OversightValidationError):
    """One request field is wrong (area, resolution, ...)."""

    def __init__(self, field: str, message: str):
        super().__init__([{"field": field, "message": str(message)}])


class RiskMapNotFound(OversightError, LookupError):
    """No such risk map in the caller's scope (whether or not it exists elsewhere)."""

    status = 404
