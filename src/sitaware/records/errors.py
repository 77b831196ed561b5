"""Errors the records services raise; the API and CLI turn them into answers a user can act on."""

from __future__ import annotations


class RecordError(Exception):
    pass


class RecordValidationError(RecordError, ValueError):
    """One or more fields are wrong. `problems` is a list of {"field", "message"}."""

    def __init__(self, problems: list[dict[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))


class RecordNotFound(RecordError, LookupError):
    """No such record in the caller's scope (whether or not it exists elsewhere)."""


class VersionConflict(RecordError):
    def __init__(self, current_version: int, base_version: int):
        self.current_version = current_version
        self.base_version = base_version
        super().__init__(
            f"the record is at version {current_version} but your edit was based on version {base_version}; "
            "reload it, reapply your change and save again"
        )


class TransitionRefused(RecordError):
    pass


def problems_from_pydantic(exc, *, prefix: str = "") -> list[dict[str, str]]:
    """Flatten a pydantic ValidationError into field/message pairs."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__") or "record"
        message = err.get("msg", "invalid")
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if err.get("type") == "timezone_aware":
            message = "needs a time zone, e.g. 2026-01-31T14:00:00+00:00 or ...Z"
        out.append({"field": f"{prefix}{loc}", "message": message})
    return out
