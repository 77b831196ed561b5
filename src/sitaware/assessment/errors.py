"""Errors the assessment services raise; each says what to fix, and carries the HTTP status the API gives."""

from __future__ import annotations


class AssessmentError(Exception):
    status = 400

    def body(self) -> dict:
        return {"detail": str(self)}


class AssessmentValidationError(AssessmentError, ValueError):
    """One or more fields are wrong. `problems` is a list of {"field", "message"}."""

    def __init__(self, problems: list[dict[str, str]], detail: str = ""):
        self.problems = problems
        self.detail = detail
        super().__init__(detail or "; ".join(f"{p['field']}: {p['message']}" for p in problems))

    def body(self) -> dict:
        return {"detail": self.detail or "invalid input", "errors": self.problems}


class NotFound(AssessmentError, LookupError):
    """Absent, or out of the caller's scope: the two are not told apart."""

    status = 404


class Conflict(AssessmentError):
    status = 409
