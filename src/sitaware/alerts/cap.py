"""OASIS CAP 1.2 messages from plain data, and their validation against the official schema. Pure (no Django).

The schema is the official CAP-v1.2.xsd, vendored unchanged with its OASIS notice in `schemas/` (see
schemas/README.md for where it came from). Two details the schema enforces that are easy to get wrong:
`sent` (and every other time) needs a numeric zone offset (`+00:00`; `Z` is refused), and elements must come
in the schema's order.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "CAP-v1.2.xsd"
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
# Identifiers, senders and references may not hold spaces, commas, "<" or "&" (CAP 1.2, 3.2.1).
_FORBIDDEN = set(" ,<&\t\n\r")


class CapInvalid(ValueError):
    """The message does not validate against CAP-v1.2.xsd (the text says where and why)."""


def cap_time(value: dt.datetime) -> str:
    """CAP's dateTime: whole seconds and a numeric offset, e.g. 2026-06-01T10:00:00+00:00."""
    if value.tzinfo is None:
        raise ValueError("CAP times need a time zone")
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Reference:
    """An earlier message this one refers to: CAP's "sender,identifier,sent" triple."""

    sender: str
    identifier: str
    sent: dt.datetime

    def text(self) -> str:
        return f"{self.sender},{self.identifier},{cap_time(self.sent)}"


@dataclass(frozen=True)
class Area:
    description: str
    polygons: Sequence[str] = ()
    circles: Sequence[str] = ()


@dataclass(frozen=True)
class Info:
    event: str
    urgency: str
    severity: str
    certainty: str
    area: Area
    language: str = "en-US"
    categories: Sequence[str] = ("Security",)
    response_types: Sequence[str] = ("Monitor",)
    effective: dt.datetime | None = None
    onset: dt.datetime | None = None
    expires: dt.datetime | None = None
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str = ""
    parameters: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class Message:
    identifier: str
    sender: str
    sent: dt.datetime
    status: str
    msg_type: str
    restriction: str
    info: Info
    references: Sequence[Reference] = ()
    note: str = ""
    incidents: Sequence[str] = field(default_factory=tuple)


def _check(message: Message) -> None:
    for name, value in (("identifier", message.identifier), ("sender", message.sender)):
        if not value or _FORBIDDEN & set(value):
            raise ValueError(f"CAP {name} must be non-empty without spaces, commas, '<' or '&': {value!r}")
    if message.status not in STATUSES:
        raise ValueError(f"CAP status must be one of {', '.join(STATUSES)}")
    if message.msg_type not in MSG_TYPES:
        raise ValueError(f"CAP msgType must be one of {', '.join(MSG_TYPES)}")
    if message.msg_type in ("Update", "Cancel") and not message.references:
        raise ValueError("an Update or Cancel must reference the message(s) it updates")
    if not message.restriction.strip():
        raise ValueError("scope Restricted needs a <restriction> saying who may receive the message")
    if not (message.info.area.polygons or message.info.area.circles):
        raise ValueError("the area needs a polygon or a circle")


def _sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        element.text = text
    return element


def build(message: Message) -> bytes:
    """The message as UTF-8 XML, elements in the schema's order; scope is always Restricted."""
    _check(message)
    ET.register_namespace("", NAMESPACE)
    root = ET.Element(f"{{{NAMESPACE}}}alert")
    _sub(root, "identifier", message.identifier)
    _sub(root, "sender", message.sender)
    _sub(root, "sent", cap_time(message.sent))
    _sub(root, "status", message.status)
    _sub(root, "msgType", message.msg_type)
    _sub(root, "scope", "Restricted")
    _sub(root, "restriction", message.restriction)
    if message.note:
        _sub(root, "note", message.note)
    if message.references:
        _sub(root, "references", " ".join(r.text() for r in message.references))
    if message.incidents:
        _sub(root, "incidents", " ".join(message.incidents))
    info = message.info
    node = _sub(root, "info")
    _sub(node, "language", info.language)
    for category in info.categories:
        _sub(node, "category", category)
    _sub(node, "event", info.event)
    for response in info.response_types:
        _sub(node, "responseType", response)
    _sub(node, "urgency", info.urgency)
    _sub(node, "severity", info.severity)
    _sub(node, "certainty", info.certainty)
    for name, value in (("effective", info.effective), ("onset", info.onset), ("expires", info.expires)):
        if value is not None:
            _sub(node, name, cap_time(value))
    for name, text in (("senderName", info.sender_name), ("headline", info.headline),
                       ("description", info.description), ("instruction", info.instruction), ("web", info.web)):
        if text:
            _sub(node, name, text)
    for name, value in info.parameters:
        parameter = _sub(node, "parameter")
        _sub(parameter, "valueName", name)
        _sub(parameter, "value", value)
    area = _sub(node, "area")
    _sub(area, "areaDesc", info.area.description)
    for polygon in info.area.polygons:
        _sub(area, "polygon", polygon)
    for circle in info.area.circles:
        _sub(area, "circle", circle)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@lru_cache(maxsize=1)
def schema():  # -> xmlschema.XMLSchema (imported lazily: only publishing and tests need it)
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def validate(xml: bytes | str) -> None:
    """Raise CapInvalid unless `xml` is a valid CAP 1.2 alert."""
    errors = list(schema().iter_errors(xml if isinstance(xml, str) else xml.decode("utf-8")))
    if errors:
        first = errors[0]
        raise CapInvalid(f"not valid CAP 1.2 ({len(errors)} problem(s)); first at {first.path}: {first.reason}")


def build_valid(message: Message) -> bytes:
    """build() then validate(): what publishing uses, so an invalid message is never stored."""
    xml = build(message)
    validate(xml)
    return xml
