"""Errors of the planning services; they extend the oversight errors so the API answers them the same way."""

from __future__ import annotations

from sitaware.oversight.errors import OversightError, OversightValidationError


class PlanInputError(OversightValidationError):
    """The request or an edit is wrong; `problems` names each field ({field, message}). HTTP 400."""


class PlanNotFound(OversightError, LookupError):
    status = 404


class ProposalNotFound(OversightError, LookupError):
    """No such background plan proposal for this caller (another organisation's, or they may not plan)."""

    status = 404


class PlanStateError(OversightError):
    """The plan is not in a state that allows this (e.g. exporting a plan nobody approved). HTTP 409."""

    status = 409


class PlanCheckFailed(OversightError, RuntimeError):
    """The solver returned a plan the independent checker rejects: it is never stored or shown as a plan."""

    status = 500
