"""Cursor-on-Target events: read one safely, and write an accepted alert as one. Pure (no Django).

A CoT event is `<event version uid type how time start stale><point lat lon hae ce le/><detail>…</detail>
</event>`. What comes off the network is untrusted: it is parsed with defusedxml (no DTD, no entities), capped
in size, and refused with a reason a person can act on when the XML, the point or the times are unusable.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import xml.etree.ElementTree as StdET  # only to build our own events and to name ParseError
from dataclasses import dataclass, field

import defusedxml
from defusedxml import ElementTree as SafeET

MAX_EVENT_BYTES = 64 * 1024
# CoT's "unknown" for height and errors.
UNKNOWN = 9999999.0
# A client's clock may run a little ahead; an event dated further ahead than this is refused.
MAX_FUTURE = dt.timedelta(minutes=5)
# Positions older than this are history, not tracking: refused (a device replaying a day-old buffer).
MAX_AGE = dt.timedelta(hours=24)
# Keepalives: pytak sends t-x-d-d on connect, ATAK sends t-x-c-t (takPing).
PING_TYPES = ("t-x-d-d", "t-x-c-t", "t-x-c-t-r")
TYPE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$")
UID_MAX = 255
CALLSIGN_MAX = 120


class CotError(ValueError):
    """An event that cannot be used; the message is the reason (logged, counted on the source)."""


@dataclass(frozen=True)
class Event:
    uid: str
    type: str
    how: str
    time: dt.datetime
    start: dt.datetime
    stale: dt.datetime
    lat: float
    lon: float
    hae: float = UNKNOWN
    ce: float = UNKNOWN
    le: float = UNKNOWN
    callsign: str = ""

    @property
    def is_ping(self) -> bool:
        return is_ping_type(self.type)

    @property
    def is_position(self) -> bool:
        """An atom (a-…): a unit's own position report, as TAK clients send several times a minute."""
        return self.type.startswith("a-")


def is_ping_type(cot_type: str) -> bool:
    return cot_type in PING_TYPES


def _time(root: StdET.Element, name: str) -> dt.datetime:
    value = root.get(name)
    if not value:
        raise CotError(f"the event has no {name} attribute")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise CotError(f"{name} {value[:40]!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise CotError(f"{name} {value[:40]!r} has no time zone (CoT times end in Z)")
    return parsed.astimezone(dt.UTC)


def _number(point: StdET.Element, name: str, default: float | None = None) -> float:
    value = point.get(name)
    if value is None:
        if default is None:
            raise CotError(f"the point has no {name}")
        return default
    try:
        number = float(value)
    except ValueError:
        raise CotError(f"the point's {name} {value[:30]!r} is not a number") from None
    if not math.isfinite(number):
        raise CotError(f"the point's {name} is not a finite number")
    return number


def parse_event(data: bytes, *, now: dt.datetime | None = None, max_bytes: int = MAX_EVENT_BYTES,
                max_future: dt.timedelta = MAX_FUTURE, max_age: dt.timedelta = MAX_AGE) -> Event:
    """One CoT event from its bytes, or CotError saying why not. Pings skip the point and time checks."""
    if len(data) > max_bytes:
        raise CotError(f"event of {len(data):,} bytes is larger than the {max_bytes:,} allowed")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise CotError(f"refused XML construct ({type(exc).__name__}): DTDs and entities are not accepted") from None
    except StdET.ParseError as exc:
        raise CotError(f"malformed XML: {exc}") from None
    if root.tag != "event":
        raise CotError(f"the root element is <{str(root.tag)[:40]}>, not <event>")
    uid = (root.get("uid") or "").strip()
    cot_type = (root.get("type") or "").strip()
    if not uid:
        raise CotError("the event has no uid")
    if len(uid) > UID_MAX or any(ord(c) < 32 for c in uid):
        raise CotError("the event's uid is too long or holds control characters")
    if not TYPE_RE.match(cot_type):
        raise CotError(f"the event's type {cot_type[:40]!r} is not a CoT type")
    how = (root.get("how") or "")[:20]
    callsign = ""
    detail = root.find("detail")
    if detail is not None:
        contact = detail.find("contact")
        if contact is not None:
            callsign = (contact.get("callsign") or "").strip()[:CALLSIGN_MAX]
    time, start, stale = _time(root, "time"), _time(root, "start"), _time(root, "stale")
    point = root.find("point")
    if is_ping_type(cot_type):
        return Event(uid, cot_type, how, time, start, stale, 0.0, 0.0, callsign=callsign)
    if point is None:
        raise CotError("the event has no <point>")
    lat, lon = _number(point, "lat"), _number(point, "lon")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CotError(f"the point ({lat}, {lon}) is outside WGS84 latitude/longitude ranges")
    if lat == 0 and lon == 0:
        raise CotError("the point is (0, 0): the device has no position fix")
    hae, ce, le = (_number(point, n, UNKNOWN) for n in ("hae", "ce", "le"))
    if ce < 0 or le < 0:
        raise CotError("the point's ce and le (errors in metres) cannot be negative")
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    if stale < start:
        raise CotError(f"stale {stale.isoformat()} is before start {start.isoformat()}")
    if time > now + max_future:
        raise CotError(f"time {time.isoformat()} is in the future (check the device's clock)")
    if time < now - max_age:
        raise CotError(f"time {time.isoformat()} is more than {max_age} old")
    if stale <= now:
        raise CotError(f"the event went stale at {stale.isoformat()}")
    return Event(uid, cot_type, how, time, start, stale, lat, lon, hae, ce, le, callsign)


# ---------------------------------------------------------------- writing


def cot_time(value: dt.datetime) -> str:
    """CoT's time form: UTC, milliseconds, Z."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


# A spot map marker: ATAK and WinTAK show it as a point with its remarks. A statistical cluster of incidents is
# not a hostile unit, so the atom a-h-… is not used by default; the operator may choose another type.
ALERT_TYPE = "b-m-p-s-m"
ALERT_HOW = "h-e"  # computed by the system, accepted by a person ("human, estimated")
ALERT_COLOUR = "-65536"  # opaque red, ARGB as a signed 32-bit integer (ATAK's form)


@dataclass(frozen=True)
class AlertMarker:
    """What a TAK client is told about one accepted alert. Place-based figures only, never about a person."""

    uid: str  # stable for the alert's whole chain of updates, so an update replaces the marker
    alert_id: str  # this version
    cap_identifier: str
    msg_type: str  # CAP Alert or Update
    title: str
    remarks: str
    lat: float
    lon: float
    radius_m: float
    start: dt.datetime
    stale: dt.datetime
    link: str = ""
    cot_type: str = ALERT_TYPE
    extra: dict[str, str] = field(default_factory=dict)


def build_alert_event(marker: AlertMarker, *, now: dt.datetime | None = None) -> bytes:
    """The CoT event for an accepted alert: point at the zone's centre, ce covering the zone, remarks and a link."""
    now = now or dt.datetime.now(dt.UTC)
    if not TYPE_RE.match(marker.cot_type):
        raise ValueError(f"{marker.cot_type!r} is not a CoT type")
    event = StdET.Element("event", {
        "version": "2.0", "uid": marker.uid, "type": marker.cot_type, "how": ALERT_HOW,
        "time": cot_time(now), "start": cot_time(marker.start), "stale": cot_time(marker.stale),
    })
    StdET.SubElement(event, "point", {"lat": f"{marker.lat:.6f}", "lon": f"{marker.lon:.6f}",
                                      "hae": f"{UNKNOWN:.1f}", "ce": f"{max(marker.radius_m, 1.0):.1f}",
                                      "le": f"{UNKNOWN:.1f}"})
    detail = StdET.SubElement(event, "detail")
    StdET.SubElement(detail, "contact", {"callsign": marker.title[:CALLSIGN_MAX]})
    remarks = StdET.SubElement(detail, "remarks", {"source": "sitaware", "time": cot_time(now)})
    remarks.text = marker.remarks
    StdET.SubElement(detail, "color", {"argb": ALERT_COLOUR})
    if marker.link:
        StdET.SubElement(detail, "link", {"url": marker.link, "relation": "r-u", "mime": "application/cap+xml",
                                          "remarks": f"CAP {marker.cap_identifier}"})
    StdET.SubElement(detail, "__sitaware", {"alert": marker.alert_id, "cap": marker.cap_identifier,
                                            "msgType": marker.msg_type, **marker.extra})
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + StdET.tostring(event, encoding="utf-8")
