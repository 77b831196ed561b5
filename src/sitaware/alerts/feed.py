"""An Atom 1.0 feed of published CAP messages. Pure (no Django).

Each entry carries its CAP message inline (content type application/cap+xml) and links to it, the layout CAP
aggregators read (one entry per message; an update is a new entry whose CAP <references> names the earlier).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from defusedxml.ElementTree import fromstring

from sitaware.alerts.cap import NAMESPACE as CAP_NAMESPACE
from sitaware.alerts.cap import cap_time

ATOM = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"


@dataclass(frozen=True)
class Entry:
    id: str  # a URN, stable for the message
    title: str
    updated: dt.datetime
    summary: str
    link: str  # where the CAP message itself can be fetched
    cap_xml: bytes


def build(feed_id: str, title: str, self_link: str, entries: Sequence[Entry], updated: dt.datetime,
          author: str) -> bytes:
    ET.register_namespace("", ATOM)
    ET.register_namespace("cap", CAP_NAMESPACE)
    root = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
        if text is not None:
            element.text = text
        return element

    sub(root, "id", feed_id)
    sub(root, "title", title)
    sub(root, "updated", cap_time(updated))
    sub(sub(root, "author"), "name", author)
    sub(root, "link", rel="self", href=self_link, type="application/atom+xml")
    for entry in entries:
        node = sub(root, "entry")
        sub(node, "id", entry.id)
        sub(node, "title", entry.title)
        sub(node, "updated", cap_time(entry.updated))
        sub(node, "summary", entry.summary)
        sub(node, "link", rel="alternate", href=entry.link, type=CAP_MEDIA_TYPE)
        content = sub(node, "content", type=CAP_MEDIA_TYPE)
        content.append(fromstring(entry.cap_xml))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
