"""Helpers shared by the form, review and dashboard pages: taxonomy options, labels, withheld fields."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from sitaware.core.scope import Actor, active_agreements
from sitaware.records import services as records
from sitaware.records import vocab
from sitaware.records.taxonomy import Taxonomy

TIME_PRECISION_LABELS = {
    "exact": _("Exact"), "hour": _("Within the hour"), "day": _("Within the day"),
    "week": _("Within the week"), "month": _("Within the month"), "year": _("Within the year"),
}
LOCATION_PRECISION_LABELS = {
    "exact": _("Exact"), "near": _("Near (a few km)"), "admin2": _("Sub-prefecture (admin2)"),
    "admin1": _("Prefecture (admin1)"), "region": _("Region"), "country": _("Country"),
}
RELIABILITY_LABELS = {
    "A": _("A: completely reliable"), "B": _("B: usually reliable"), "C": _("C: fairly reliable"),
    "D": _("D: not usually reliable"), "E": _("E: unreliable"), "F": _("F: cannot be judged"),
}
CREDIBILITY_LABELS = {
    1: _("1: confirmed"), 2: _("2: probably true"), 3: _("3: possibly true"),
    4: _("4: doubtful"), 5: _("5: improbable"), 6: _("6: cannot be judged"),
}
CASUALTY_GROUP_LABELS = {
    "civilians": _("Civilians"), "security_forces": _("Security forces"), "un_personnel": _("UN personnel"),
    "armed_groups": _("Armed groups"), "unknown": _("Unknown"),
}
CASUALTY_COUNT_LABELS = {"killed": _("killed"), "injured": _("injured"), "missing": _("missing")}


def language() -> str:
    return (get_language() or "en")[:2]


def taxonomy(key: str | None = None) -> Taxonomy:
    return records.taxonomies().get(key or settings.SITAWARE_DEFAULT_TAXONOMY)


def category_options(tax: Taxonomy) -> list[dict[str, Any]]:
    """Every category with its label in the page's language, in the taxonomy's order (parents before children)."""
    lang = language()
    return [{"code": c.code, "kind": c.kind, "parent": c.parent, "label": c.label_for(lang)}
            for c in tax.categories.values()]


def category_label(code: str | None, tax: Taxonomy | None = None) -> str:
    if not code:
        return ""
    category = (tax or taxonomy()).get(code)
    return category.label_for(language()) if category else code


def root_category(code: str, tax: Taxonomy) -> str:
    """The top-level ancestor: the record filter's `category=<root>` selects exactly the codes under it."""
    category = tax.get(code)
    while category is not None and category.parent:
        parent = tax.get(category.parent)
        if parent is None:
            break
        category = parent
    return category.code if category is not None else code


def withheld_from(actor: Actor, field: str) -> list[Any]:
    """Organisations whose sharing agreement with `actor`'s organisation withholds `field`.

    Grouping or filtering their records by that field would give the withheld value away, so the pages keep
    them out of such groups and filters (and count them apart as "withheld").
    """
    if actor.system:
        return []
    return [a.provider_id for a in active_agreements(actor) if field in (a.redacted_fields or [])]


def kinds() -> tuple[str, ...]:
    return vocab.KINDS
