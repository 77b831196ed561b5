"""Forms for OpenRosa clients, written as XLSForms and turned into XForms with pyxform (offline).

The shipped incident report is a Markdown-table XLSForm (readable in review, no spreadsheet needed); a
mission's own `.xlsx` XLSForm converts the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from defusedxml import ElementTree as SafeET

FORMS_DIR = Path(__file__).resolve().parent
SHIPPED = {"incident_report": FORMS_DIR / "incident_report.md"}


class FormError(ValueError):
    pass


@dataclass(frozen=True)
class XForm:
    form_id: str
    version: str
    title: str
    xml: str


def xlsform_to_xform(path: Path | str) -> XForm:
    """Convert an XLSForm (.xlsx, .xls, .csv or .md) to an XForm; FormError names what is wrong."""
    from pyxform.errors import PyXFormError
    from pyxform.xls2xform import convert

    path = Path(path)
    try:
        data: bytes | str = path.read_text(encoding="utf-8") if path.suffix == ".md" else path.read_bytes()
        result = convert(xlsform=data, file_type=path.suffix.lower(), pretty_print=True)
    except (PyXFormError, OSError, ValueError) as exc:
        raise FormError(f"{path.name}: {exc}") from None
    return read_xform(result.xform)


def read_xform(xml: str) -> XForm:
    """The form id, version and title of an XForm (what formList announces)."""
    try:
        root = SafeET.fromstring(xml.encode("utf-8"))
    except SafeET.ParseError as exc:
        raise FormError(f"not an XForm: {exc}") from None
    instance = next((el for el in root.iter() if el.tag.endswith("}instance") or el.tag == "instance"), None)
    data = next(iter(instance), None) if instance is not None else None
    if data is None or not data.get("id"):
        raise FormError("not an XForm: no main instance with an id")
    title = next((el.text or "" for el in root.iter() if el.tag.endswith("}title")), "")
    return XForm(form_id=data.get("id"), version=data.get("version", ""), title=title.strip(), xml=xml)


def shipped_form(name: str = "incident_report") -> XForm:
    return xlsform_to_xform(SHIPPED[name])
