"""Errors the intake services raise; the API turns them into answers."""

from __future__ import annotations


class IntakeError(Exception):
    pass


class ItemNotFound(IntakeError, LookupError):
    """No such item in the caller's scope (whether or not it exists elsewhere)."""


class SourceNotFound(IntakeError, LookupError):
    """No such source in the caller's organisation."""


class ItemAlreadyHandled(IntakeError):
    """The item was already turned into a record, attached or dismissed (by someone else, perhaps)."""
