"""GPX 1.1 for an approved plan: one waypoint per visit (planned start as its time) and one route per unit.

Written with the standard library so that nothing beyond the schema's element order needs to be trusted: GPX
1.1 requires metadata, then wpt*, then rte*, and inside each point the children in schema order (time before
name before desc before sym/type). Handheld GPS units and OsmAnd read it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

NS = "http://www.topografix.com/GPX/1/1"
SCHEMA = "http://www.topografix.com/GPX/1/1/gpx.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass(frozen=True)
class GpxStop:
    lat: float
    lon: float
    name: str
    time: dt.datetime | None = None
    desc: str = ""
    kind: str = ""  # GPX <type>: base, mandatory, priority, exploration


@dataclass(frozen=True)
class GpxRoute:
    name: str
    desc: str
    stops: Sequence[GpxStop]


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _point(parent: ET.Element, tag: str, stop: GpxStop) -> None:
    el = ET.SubElement(parent, f"{{{NS}}}{tag}", lat=f"{stop.lat:.6f}", lon=f"{stop.lon:.6f}")
    if stop.time is not None:
        ET.SubElement(el, f"{{{NS}}}time").text = _iso(stop.time)
    ET.SubElement(el, f"{{{NS}}}name").text = stop.name
    if stop.desc:
        ET.SubElement(el, f"{{{NS}}}desc").text = stop.desc
    if stop.kind:
        ET.SubElement(el, f"{{{NS}}}type").text = stop.kind


def build_gpx(name: str, desc: str, created: dt.datetime, routes: Sequence[GpxRoute]) -> bytes:
    ET.register_namespace("", NS)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(f"{{{NS}}}gpx", {"version": "1.1", "creator": "sitaware",
                                       f"{{{XSI}}}schemaLocation": f"{NS} {SCHEMA}"})
    meta = ET.SubElement(root, f"{{{NS}}}metadata")
    ET.SubElement(meta, f"{{{NS}}}name").text = name
    ET.SubElement(meta, f"{{{NS}}}desc").text = desc
    ET.SubElement(meta, f"{{{NS}}}time").text = _iso(created)
    for route in routes:
        for stop in route.stops:
            if stop.kind != "base":
                _point(root, "wpt", stop)
    for route in routes:
        rte = ET.SubElement(root, f"{{{NS}}}rte")
        ET.SubElement(rte, f"{{{NS}}}name").text = route.name
        ET.SubElement(rte, f"{{{NS}}}desc").text = route.desc
        for stop in route.stops:
            _point(rte, "rtept", stop)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
