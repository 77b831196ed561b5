"""Canonical JSON and the chain hash. Pure: no Django, so audit tools can reuse it."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

GENESIS_HASH = "0" * 64


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in change-log data")
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot put {type(value).__name__} in the change log")


def canonical_json(value: Any) -> str:
    """One byte-exact text for a value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def entry_hash(prev_hash: str, fields: Sequence[Any]) -> str:
    """SHA-256 over the previous hash and the entry's fields, so any edit breaks every later link."""
    body = canonical_json(list(fields))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()
