"""The record form: `/records/new` and `/records/<id>/edit`.

The page only renders the form; the browser sends it to the records API (`POST /api/v1/records` with a UUID
made on the device, `PATCH` with `base_version`), so the form gets exactly the API's validation messages and
its replay rule, which is what makes offline drafts safe to resend (static/web/form.js).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from sitaware.core.choices import Sensitivity
from sitaware.core.scope import actor_for
from sitaware.records import services as records
from sitaware.records import vocab
from sitaware.records.errors import RecordNotFound
from sitaware.web import pages
from sitaware.web.labels import KIND_LABELS, SOURCE_TYPE_LABELS, labelled
from sitaware.web.views import basemap_config

PLACEHOLDER = uuid.UUID(int=0)  # the edit URL's pattern takes UUIDs only; the script puts the real id in
# What the script shows; placeholders are filled in by the script.
FORM_STRINGS = {
    "saving": _("Saving…"),
    "saved": _("Record saved."),
    "updated": _("Changes saved."),
    "open": _("Open the record"),
    "invalid": _("The record was not saved: correct the fields marked below."),
    "kept": _("No connection: the record is kept on this device and will be sent when the connection "
                    "returns."),
    "sent_later": _("A record kept on this device was sent: {title}."),
    "outbox_title": _("Kept on this device, waiting for a connection"),
    "conflict": _("Someone changed this record since you opened it (now version {version}). Reload the page "
                        "to see their change, then make yours again."),
    "denied": _("You may not save this record: {detail}"),
    "signed_out": _("Your session has ended: sign in again, then send the record."),
    "failed": _("The server could not save the record ({status}). It is kept on this device."),
    "no_change": _("Nothing was changed."),
    "map_loading": _("Loading the map…"),
    "map_failed": _("The map could not be loaded; enter the coordinates instead."),
    "map_hint": _("Click the map to place the record, or move the map and use “Use the map centre”."),
    "place_set": _("Place set to {lat}, {lon}."),
    "choose_category": _("Choose a category"),
    "untitled": _("(untitled)"),
}


def _choices(actor_clearance: int) -> dict[str, Any]:
    return {
        "kinds": labelled(vocab.KINDS, KIND_LABELS),
        "source_types": labelled(vocab.SOURCE_TYPES, SOURCE_TYPE_LABELS),
        "time_precisions": labelled(vocab.TIME_PRECISIONS, pages.TIME_PRECISION_LABELS),
        "location_precisions": labelled(vocab.LOCATION_PRECISIONS, pages.LOCATION_PRECISION_LABELS),
        "reliabilities": labelled(vocab.SOURCE_RELIABILITY, pages.RELIABILITY_LABELS),
        "credibilities": [(n, str(label)) for n, label in pages.CREDIBILITY_LABELS.items()],
        # Filing above one's own clearance is refused by the service; offering it would only produce an error.
        "sensitivities": [(int(s.value), s.label) for s in Sensitivity if s.value <= actor_clearance],
        "casualty_groups": [(g, str(pages.CASUALTY_GROUP_LABELS[g])) for g in vocab.CASUALTY_GROUPS],
        "casualty_counts": [(c, str(label)) for c, label in pages.CASUALTY_COUNT_LABELS.items()],
    }


def _render(request: HttpRequest, record: dict[str, Any] | None) -> HttpResponse:
    actor = actor_for(request.user)
    tax = pages.taxonomy(record["taxonomy_version"] if record else None)
    categories = pages.category_options(tax)
    config = {
        "mode": "edit" if record else "new",
        "user": request.user.get_username(),
        "createUrl": reverse("api:create_record"),
        "recordUrl": reverse("api:read_record", kwargs={"record_id": "RECORD_ID"}),
        "editUrl": reverse("web:record-edit", kwargs={"record_id": PLACEHOLDER}).replace(str(PLACEHOLDER), "RECORD_ID"),
        "basemapUrl": reverse("web:basemap"),
        "basemap": basemap_config(), "basemapJs": static("web/basemap.js"),  # the map page's basemap (h7)
        # MapLibre (about 1 MB) is loaded only when the user asks for the map, so the form stays light.
        "maplibreJs": static("web/vendor/maplibre-gl/maplibre-gl.js"),
        "maplibreCss": static("web/vendor/maplibre-gl/maplibre-gl.css"),
        "view": list(getattr(settings, "SITAWARE_MAP_VIEW", (20.0, 5.0, 4.0))),
        "taxonomy": tax.key,
        "categories": categories,
        "record": record,
        "strings": {k: str(v) for k, v in FORM_STRINGS.items()},
    }
    context = {
        "record": record,
        "choices": _choices(actor.clearance),
        "category_groups": [
            (label, [c for c in categories if c["kind"] == kind])
            for kind, label in labelled(vocab.KINDS, KIND_LABELS)
        ],
        "config": config,
    }
    return render(request, "web/form.html", context)


@login_required
@require_GET
def record_new(request: HttpRequest) -> HttpResponse:
    return _render(request, None)


@login_required
@require_GET
def record_edit(request: HttpRequest, record_id: str) -> HttpResponse:
    actor = actor_for(request.user)
    try:
        record = records.read_record(actor, record_id)
    except RecordNotFound:
        raise Http404("no such record") from None
    return _render(request, record)
