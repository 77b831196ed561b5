"""Errors the records services raise; the API and CLI turn them into answers a user can act on."""

from __future__ import annotations

from django.utils.translation import gettext_lazy


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


# pydantic's own messages ("Input should be a valid decimal") in words a user can act on, in their language.
# Keyed by pydantic's error type; %(name)s takes the error's context value of that name.
SCHEMA_MESSAGES = {
    "missing": gettext_lazy("this field is required"),
    "extra_forbidden": gettext_lazy("not a field of this form; remove it or check its spelling"),
    "string_type": gettext_lazy("give a text"),
    "string_too_short": gettext_lazy("give at least %(min_length)s characters"),
    "string_too_long": gettext_lazy("give at most %(max_length)s characters"),
    "int_type": gettext_lazy("give a whole number"),
    "int_parsing": gettext_lazy("give a whole number"),
    "int_from_float": gettext_lazy("give a whole number"),
    "float_type": gettext_lazy("give a number"),
    "float_parsing": gettext_lazy("give a number"),
    "decimal_type": gettext_lazy("give a number, e.g. 12.5"),
    "decimal_parsing": gettext_lazy("give a number, e.g. 12.5"),
    "finite_number": gettext_lazy("give a finite number"),
    "decimal_max_digits": gettext_lazy("give at most %(max_digits)s digits"),
    "decimal_max_places": gettext_lazy("give at most %(decimal_places)s decimal places"),
    "bool_type": gettext_lazy("give true or false"),
    "bool_parsing": gettext_lazy("give true or false"),
    "date_type": gettext_lazy("give a date as YYYY-MM-DD"),
    "date_parsing": gettext_lazy("give a date as YYYY-MM-DD"),
    "date_from_datetime_parsing": gettext_lazy("give a date as YYYY-MM-DD"),
    "datetime_type": gettext_lazy("give a date and time, e.g. 2026-01-31T14:00:00Z"),
    "datetime_parsing": gettext_lazy("give a date and time, e.g. 2026-01-31T14:00:00Z"),
    "datetime_from_date_parsing": gettext_lazy("give a date and time, e.g. 2026-01-31T14:00:00Z"),
    "timezone_aware": gettext_lazy("needs a time zone, e.g. 2026-01-31T14:00:00+00:00 or ...Z"),
    "uuid_type": gettext_lazy("give an id such as 3f2b8c1e-5d4a-4b6f-9e1a-2c7d8e9f0a1b"),
    "uuid_parsing": gettext_lazy("give an id such as 3f2b8c1e-5d4a-4b6f-9e1a-2c7d8e9f0a1b"),
    "list_type": gettext_lazy("give a list"),
    "dict_type": gettext_lazy("give an object"),
    "model_type": gettext_lazy("give an object"),
    "model_attributes_type": gettext_lazy("give an object"),
    "too_short": gettext_lazy("give at least %(min_length)s items"),
    "too_long": gettext_lazy("give at most %(max_length)s items"),
    "greater_than": gettext_lazy("give more than %(gt)s"),
    "greater_than_equal": gettext_lazy("give %(ge)s or more"),
    "less_than": gettext_lazy("give less than %(lt)s"),
    "less_than_equal": gettext_lazy("give %(le)s or less"),
    "literal_error": gettext_lazy("use one of %(expected)s"),
    "enum": gettext_lazy("use one of %(expected)s"),
}


def _plain(value: object) -> object:
    # 90.0 reads as 90 for a bound the user typed as a whole number.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def schema_message(err: dict) -> str:
    """One pydantic error in words a user can act on, in their language."""
    message = err.get("msg", "invalid")
    if message.startswith("Value error, "):
        return message[len("Value error, "):]  # the schema's own validator: already in words
    template = SCHEMA_MESSAGES.get(err.get("type", ""))
    if template is None:
        return message
    try:
        return str(template) % {k: _plain(v) for k, v in (err.get("ctx") or {}).items()}
    except (KeyError, TypeError, ValueError):
        return message


def problems_from_pydantic(exc, *, prefix: str = "") -> list[dict[str, str]]:
    """Flatten a pydantic ValidationError into field/message pairs, in the user's language."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__") or "record"
        out.append({"field": f"{prefix}{loc}", "message": schema_message(err)})
    return out
