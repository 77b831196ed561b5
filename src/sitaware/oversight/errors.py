"""Errors the oversight services raise; each says what the user can do instead."""

from __future__ import annotations


class OversightError(Exception):
    """Base class; `status` is the HTTP answer the API gives for it."""

    status = 400

    def body(self) -> dict:
        return {"detail": str(self)}


class OversightValidationError(OversightError, ValueError):
    """One or more fields are wrong. `problems` is a list of {"field", "message"}."""

    def __init__(self, problems: list[dict[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))

    def body(self) -> dict:
        return {"detail": "invalid input", "errors": self.problems}


class ComponentNotFound(OversightError, LookupError):
    status = 404


class RecommendationNotFound(OversightError, LookupError):
    """No such recommendation in the caller's scope (whether or not it exists elsewhere)."""

    status = 404


class ComponentDisabled(OversightError):
    """The kill switch is off: the component produces nothing until an administrator switches it on."""

    status = 423

    def __init__(self, key: str, name: str, manual_path: str):
        self.key = key
        self.manual_path = manual_path
        fallback = manual_path or "carry on by hand: the manual workflow is unchanged"
        super().__init__(f"the feature '{name}' ({key}) is switched off by an administrator; {fallback}")

    def body(self) -> dict:
        return {"detail": str(self), "component": self.key, "manual_path": self.manual_path}


class AlreadyDecided(OversightError):
    status = 409
