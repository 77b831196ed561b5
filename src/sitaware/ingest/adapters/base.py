"""The adapter contract: every intake adapter turns outside input into `Incoming` items and says what failed.

Modelled on Healthchecks' transports: one base class, a typed error with a `permanent` flag, retries and
health kept in one place (`sitaware.ingest.services`), a registry mapping kind to class.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

# The largest body an adapter reads in one go (a feed document, a submission, an export file).
DEFAULT_MAX_BYTES = 5 * 1024 * 1024


class AdapterError(Exception):
    """A source could not be read. Transient errors are retried with backoff; permanent ones are not."""

    permanent = False

    def __init__(self, message: str, *, permanent: bool | None = None):
        super().__init__(message)
        if permanent is not None:
            self.permanent = permanent


class TransientError(AdapterError):
    """Network down, timeout, 5xx, broker away: worth trying again."""


class PermanentError(AdapterError):
    """Wrong URL, refused credentials, 404: retrying now would only repeat the failure."""

    permanent = True


class BadInput(AdapterError):
    """The input itself is unusable (malformed, too large, wrong encoding): rejected with this reason."""

    permanent = True


@dataclass
class Incoming:
    """One normalised item, before it is stored. `raw` is the item exactly as received."""

    external_id: str
    raw: bytes
    content_type: str
    title: str = ""
    text: str = ""
    occurred_at: dt.datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    # Data about a person (a sender's number): stored apart, withheld from most readers, erasable.
    personal_data: dict[str, Any] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Rejected:
    """One piece of input an adapter refused, and why (logged and counted on the source)."""

    reason: str
    external_id: str = ""


@dataclass
class Batch:
    """What one fetch or one push gave: items to store and input refused."""

    items: list[Incoming] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    # Not modified since the last poll (HTTP 304): a success with nothing new.
    not_modified: bool = False


class Sink(Protocol):
    """Where a streaming adapter (MQTT) hands each item as it arrives, so it can acknowledge after storage."""

    def store(self, incoming: Incoming) -> Any: ...

    def reject(self, rejected: Rejected) -> None: ...


class Adapter:
    """Base class. Pull adapters implement `fetch`; push adapters implement `parse` (a view receives).

    `fetch` returns a Batch; an adapter that must acknowledge each message after it is stored (MQTT) hands
    items to `self.sink` instead and returns an empty Batch.
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    pull: ClassVar[bool] = False

    def __init__(self, source: Any):
        self.source = source
        self.config: dict[str, Any] = dict(source.config or {})
        # Adapters update this (ETag, cursors); the poll loop saves it only when the poll succeeded.
        self.state: dict[str, Any] = dict(source.state or {})
        self.sink: Sink | None = None

    @property
    def max_bytes(self) -> int:
        return int(self.config.get("max_bytes") or DEFAULT_MAX_BYTES)

    @classmethod
    def prepare_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Check (and complete) a new source's config; ValueError says what is missing. Default: as given."""
        return config

    def fetch(self) -> Batch:
        raise NotImplementedError(f"{self.kind} sources receive pushes; they are not polled")

    def parse(self, body: bytes, content_type: str, meta: dict[str, Any] | None = None) -> Batch:
        raise NotImplementedError(f"{self.kind} sources are polled; they do not accept pushes")

    def after_store(self, item: Any, incoming: Incoming) -> None:
        """Called after an item was stored (its own transaction has committed). Default: nothing."""

    def check_size(self, body: bytes | str) -> None:
        if len(body) > self.max_bytes:
            raise BadInput(f"input of {len(body):,} bytes is larger than the {self.max_bytes:,} allowed")


# ---------------------------------------------------------------- helpers shared by adapters


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def decode_utf8(body: bytes, what: str) -> str:
    """Strict UTF-8: a wrong encoding is refused rather than stored as mojibake."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what} is not valid UTF-8 (byte {exc.start}); send UTF-8") from None


def coordinates(lat: Any, lon: Any) -> tuple[float | None, float | None]:
    """A usable WGS84 point or (None, None): out-of-range, non-finite and (0, 0) are not places."""
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None, None
    if not (math.isfinite(la) and math.isfinite(lo)) or not (-90 <= la <= 90 and -180 <= lo <= 180):
        return None, None
    if la == 0 and lo == 0:
        return None, None
    return la, lo


def clip(text: str | None, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def flatten(parts: Iterable[Any]) -> str:
    return "".join(str(p) for p in parts)
