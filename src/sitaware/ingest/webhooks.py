"""Push endpoints that are not OpenRosa: the SMS gateway webhook.

`POST /intake/sms/<source id>/` with the source's shared secret in `X-Sitaware-Secret` (or `?secret=`, for
gateways that can only be given a URL). Form-encoded or JSON; one message or a list. Answers JSON counts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sitaware.ingest import services
from sitaware.ingest.models import Source

log = logging.getLogger("sitaware.ingest")


def secret_hash(secret: str) -> str:
    """What a source's config keeps (`secret_sha256`): never the secret itself."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@csrf_exempt
@require_POST
def sms(request: HttpRequest, source_id: uuid.UUID) -> JsonResponse:
    source = Source.objects.filter(pk=source_id, kind="sms", enabled=True).first()
    given = request.headers.get("X-Sitaware-Secret") or request.GET.get("secret") or ""
    expected = str(source.config.get("secret_sha256") or "") if source else ""
    # One answer for "no such source" and "wrong secret": the endpoint tells strangers nothing.
    if source is None or not expected or not hmac.compare_digest(secret_hash(given), expected):
        return JsonResponse({"detail": "unknown source or wrong secret"}, status=404)
    content_type = (request.content_type or "application/x-www-form-urlencoded").lower()
    body = request.body
    outcome = services.receive(source, body, content_type)
    answer = {"stored": outcome.stored, "duplicates": outcome.duplicates, "rejected": outcome.rejected,
              "reasons": outcome.reasons[:20]}
    if outcome.rejected and not (outcome.stored or outcome.duplicates):
        return JsonResponse(answer, status=400)
    return JsonResponse(answer, status=200)
