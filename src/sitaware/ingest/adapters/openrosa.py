"""OpenRosa submissions (ODK Collect, KoBoCollect): one submission XML is one item, deduped on meta/instanceID.

The HTTP side (formList, HEAD/POST submission, authentication) is in `sitaware.ingest.openrosa`; this module
only reads a submission. Forms are XForms, made from XLSForms with pyxform (`forms.xlsform_to_xform`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from xml.etree.ElementTree import Element  # type only: parsing goes through defusedxml

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from sitaware.ingest.adapters.base import Adapter, BadInput, Batch, Incoming, clip, coordinates

# Which submission fields fill the item's title, text, time and place (override per source in config).
DEFAULT_FIELDS = {"title": "title", "text": "description", "time": "incident_time", "location": "location"}


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def find_path(root: Element, path: str) -> Element | None:
    """Find `a/b/c` by local names, so a namespaced or plain submission reads the same."""
    node: Element | None = root
    for name in [p for p in path.split("/") if p]:
        node = next((child for child in list(node) if local(child.tag) == name), None) if node is not None else None
    return node


def find_any(root: Element, name: str) -> Element | None:
    return next((el for el in root.iter() if local(el.tag) == name), None)


def form_hash(xform: str) -> str:
    """The md5 OpenRosa uses to tell a client its copy of a form is out of date."""
    return "md5:" + hashlib.md5(xform.encode("utf-8"), usedforsecurity=False).hexdigest()


class OpenRosaAdapter(Adapter):
    kind = "openrosa"
    label = "OpenRosa form (ODK Collect, KoBoCollect)"
    pull = False

    @classmethod
    def prepare_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """No XForm given: the shipped incident report (made from its XLSForm with pyxform)."""
        from sitaware.ingest.forms import FormError, read_xform, shipped_form

        try:
            form = read_xform(str(config["xform"])) if config.get("xform") else shipped_form()
        except FormError as exc:
            raise ValueError(str(exc)) from None
        config.setdefault("form_id", form.form_id)
        config.setdefault("version", form.version)
        config.setdefault("title", form.title)
        config["xform"] = form.xml
        if config["form_id"] != form.form_id:
            raise ValueError(f"config.form_id {config['form_id']!r} is not the XForm's id {form.form_id!r}")
        return config

    @property
    def form_id(self) -> str:
        return str(self.config.get("form_id") or "")

    def parse(self, body: bytes, content_type: str, meta: dict[str, Any] | None = None) -> Batch:
        meta = meta or {}
        self.check_size(body)
        try:
            root = SafeET.fromstring(body)
        except DefusedXmlException as exc:
            raise BadInput(f"the submission uses forbidden XML constructs ({type(exc).__name__})") from None
        except SafeET.ParseError as exc:
            raise BadInput(f"the submission is not well-formed XML: {exc}") from None
        if root.get("id") and self.form_id and root.get("id") != self.form_id:
            raise BadInput(f"the submission is for form {root.get('id')!r}, not {self.form_id!r}")
        instance = find_path(root, "meta/instanceID") or find_any(root, "instanceID")
        instance_id = (instance.text or "").strip() if instance is not None else ""
        if not instance_id:
            raise BadInput("the submission has no meta/instanceID; ODK clients always send one")
        fields = {**DEFAULT_FIELDS, **(self.config.get("fields") or {})}
        values = {name: _text(root, path) for name, path in fields.items()}
        lat = lon = None
        if values.get("location"):
            parts = values["location"].split()
            if len(parts) >= 2:
                lat, lon = coordinates(parts[0], parts[1])
        occurred = _when(values.get("time", "")) or _when(_text(root, "meta/timeEnd")) or _when(
            _text(root, "end"))
        return Batch(items=[Incoming(
            external_id=instance_id[:255],
            raw=body,
            content_type="application/xml",
            title=clip(values.get("title"), 200),
            text=clip(values.get("text"), 20_000),
            occurred_at=occurred,
            latitude=lat,
            longitude=lon,
            provenance={"form_id": root.get("id", ""), "form_version": root.get("version", ""),
                        "instance_id": instance_id, "submitted_by": meta.get("username", ""),
                        "device": meta.get("device", ""), "fields": _leaves(root)},
            attachments=list(meta.get("attachments") or []),
        )])


def _text(root: Element, path: str) -> str:
    node = find_path(root, path) if path else None
    return (node.text or "").strip() if node is not None else ""


def _when(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # A form's dateTime without a zone is device-local time we cannot place: better none than wrong.
    return parsed if parsed.tzinfo else None


def _leaves(root: Element) -> dict[str, str]:
    """Every answered field by its path, for reviewers (the raw XML stays the reference)."""
    out: dict[str, str] = {}

    def walk(node: Element, prefix: str) -> None:
        children = list(node)
        if not children:
            if (node.text or "").strip():
                out[prefix] = node.text.strip()[:2000]
            return
        for child in children:
            walk(child, f"{prefix}/{local(child.tag)}" if prefix else local(child.tag))

    walk(root, "")
    return dict(list(out.items())[:200])
