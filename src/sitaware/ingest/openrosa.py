"""The OpenRosa server side, as ODK Collect and KoBoCollect speak it.

- `GET  /intake/openrosa/formList`      xformsList XML (formID, name, version, md5 hash, downloadUrl)
- `GET  /intake/openrosa/forms/<id>.xml` the XForm
- `HEAD /intake/openrosa/submission`    204 + X-OpenRosa-Accept-Content-Length (Collect asks before sending)
- `POST /intake/openrosa/submission`    multipart, part `xml_submission_file` (+ media): 201 + OpenRosaResponse

Every answer carries `X-OpenRosa-Version: 1.0` and `Date`. Authentication: HTTP Basic with a sitaware account
(Collect sends it after a 401 challenge; use HTTPS), or an API token in the path, as ODK Central's app users do:
server URL `https://HOST/intake/openrosa/key/<token>`. Session cookies are never used here (no CSRF exposure).
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from sitaware.core.scope import Actor, actor_for
from sitaware.core.services import authenticate_token
from sitaware.ingest import services
from sitaware.ingest.adapters.base import BadInput
from sitaware.ingest.adapters.openrosa import form_hash
from sitaware.ingest.models import Source

log = logging.getLogger("sitaware.ingest")

# The most a client may send in one submission POST (XML and media together). Collect splits larger ones.
ACCEPT_CONTENT_LENGTH = int(getattr(settings, "SITAWARE_OPENROSA_MAX_BYTES", 10 * 1024 * 1024))
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
RESPONSE_NS = "http://openrosa.org/http/response"
REALM = "sitaware OpenRosa"


def _headers(response: HttpResponse) -> HttpResponse:
    response["X-OpenRosa-Version"] = "1.0"
    response["X-OpenRosa-Accept-Content-Length"] = str(ACCEPT_CONTENT_LENGTH)
    response["Date"] = http_date()
    return response


def _message(status: int, text: str, nature: str = "") -> HttpResponse:
    attr = f' nature="{escape(nature)}"' if nature else ""
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<OpenRosaResponse xmlns="{RESPONSE_NS}">'
            f"<message{attr}>{escape(text)}</message></OpenRosaResponse>")
    return _headers(HttpResponse(body, status=status, content_type="text/xml; charset=utf-8"))


def _challenge() -> HttpResponse:
    response = _message(401, _("Authentication required."))
    response["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    return response


def _actor(request: HttpRequest, key: str | None) -> Actor | None:
    """The caller from a path token, a Bearer token or Basic credentials; None when none is valid."""
    user: Any = None
    if key:
        user = authenticate_token(key)
    else:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            user = authenticate_token(value.strip())
        elif scheme.lower() == "basic":
            try:
                username, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            user = authenticate(request, username=username, password=password)
    if user is None:
        return None
    try:
        return actor_for(user)
    except PermissionDenied:
        return None


def _forms(actor: Actor):  # -> QuerySet[Source]
    return Source.objects.filter(kind="openrosa", enabled=True, organisation_id=actor.organisation_id).order_by("name")


def _form_id(source: Source) -> str:
    return str(source.config.get("form_id") or "")


@require_GET
def form_list(request: HttpRequest, key: str | None = None) -> HttpResponse:
    actor = _actor(request, key)
    if actor is None:
        return _challenge()
    wanted = request.GET.get("formID")
    base = request.build_absolute_uri(request.path.rsplit("/", 1)[0] + "/forms/")
    rows = []
    for source in _forms(actor):
        form_id, xform = _form_id(source), str(source.config.get("xform") or "")
        if not form_id or not xform or (wanted and wanted != form_id):
            continue
        rows.append(
            "<xform>"
            f"<formID>{escape(form_id)}</formID>"
            f"<name>{escape(str(source.config.get('title') or source.name))}</name>"
            f"<version>{escape(str(source.config.get('version') or ''))}</version>"
            f"<hash>{form_hash(xform)}</hash>"
            f"<downloadUrl>{escape(base + form_id + '.xml')}</downloadUrl>"
            "</xform>"
        )
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<xforms xmlns="{XFORMS_LIST_NS}">{"".join(rows)}</xforms>'
    return _headers(HttpResponse(body, content_type="text/xml; charset=utf-8"))


@require_GET
def form_download(request: HttpRequest, form_id: str, key: str | None = None) -> HttpResponse:
    actor = _actor(request, key)
    if actor is None:
        return _challenge()
    source = next((s for s in _forms(actor) if _form_id(s) == form_id), None)
    if source is None or not source.config.get("xform"):
        return _message(404, _("No form %(form)s.") % {"form": form_id})
    return _headers(HttpResponse(str(source.config["xform"]), content_type="text/xml; charset=utf-8"))


@csrf_exempt
@require_http_methods(["HEAD", "POST"])
def submission(request: HttpRequest, key: str | None = None) -> HttpResponse:
    actor = _actor(request, key)
    if actor is None:
        return _challenge()
    if not actor.can("create"):
        return _message(403, _("Your role (%(role)s) may not submit reports.") % {"role": actor.role})
    if request.method == "HEAD":
        return _headers(HttpResponse(status=204))
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > ACCEPT_CONTENT_LENGTH:
        return _message(413, _("The submission is larger than the %(limit)s bytes accepted.")
                        % {"limit": f"{ACCEPT_CONTENT_LENGTH:,}"})
    try:
        return _submit(request, actor)
    except BadInput as exc:
        log.warning("OpenRosa submission from %s rejected: %s", actor.label, exc)
        return _message(400, str(exc), "submit_error")


def _submit(request: HttpRequest, actor: Actor) -> HttpResponse:
    upload = request.FILES.get("xml_submission_file")
    if upload is None:
        raise BadInput("no xml_submission_file part in the multipart body")
    if upload.size > ACCEPT_CONTENT_LENGTH:
        raise BadInput("the submission XML is too large")
    xml = upload.read()
    form_id = _submitted_form_id(xml)
    source = next((s for s in _forms(actor) if _form_id(s) == form_id), None)
    if source is None:
        return _message(404, _("No form %(form)s accepts submissions here.") % {"form": repr(form_id)},
                        "submit_error")
    attachments = []
    for name, part in request.FILES.items():
        if name == "xml_submission_file":
            continue
        attachments.append(services.keep_attachment(part.chunks(), part.name or name,
                                                    part.content_type or "application/octet-stream",
                                                    max_bytes=ACCEPT_CONTENT_LENGTH))
    outcome = services.receive(source, xml, "application/xml", actor=actor, meta={
        "username": actor.username, "device": request.headers.get("User-Agent", "")[:200],
        "attachments": attachments})
    if outcome.rejected:
        raise BadInput("; ".join(outcome.reasons) or "the submission was refused")
    if outcome.stored:
        return _message(201, _("Thank you: your report was received."), "submit_success")
    # The same instanceID again (a retry after a lost answer, or the next part of a split submission):
    # a success for the client, and nothing stored twice.
    return _message(202, _("This report was already received."), "submit_success")


def _submitted_form_id(xml: bytes) -> str:
    try:
        root = SafeET.fromstring(xml)
    except DefusedXmlException as exc:
        raise BadInput(f"the submission uses forbidden XML constructs ({type(exc).__name__})") from None
    except SafeET.ParseError as exc:
        raise BadInput(f"the submission is not well-formed XML: {exc}") from None
    form_id = root.get("id") or ""
    if not form_id:
        raise BadInput("the submission names no form (no id attribute on its root element)")
    return form_id
