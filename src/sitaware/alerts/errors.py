"""Errors of the alerts services. They extend the oversight errors so the API answers them the same way."""

from __future__ import annotations

from sitaware.oversight.errors import OversightError, OversightValidationError


class DetectorConfigError(OversightValidationError):
    """A detector configuration is wrong; `problems` names each field and what to fix."""


class DetectorNotFound(OversightError, LookupError):
    status = 404


class AlertNotFound(OversightError, LookupError):
    status = 404


class DetectorDisabled(OversightError):
    """The detector is switched off: it produces nothing until an analyst switches it on again."""

    status = 409
