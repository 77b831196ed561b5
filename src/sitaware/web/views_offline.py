"""`/sw.js`: the service worker that opens the record form with no connection (web/sw.js says what it keeps).

Served from the site's root so that its scope covers the form and the sign-in and sign-out URLs (which empty its
cache). Its version is a hash of the worker and of every file it keeps, so a deployment that changes any of them
installs a new worker, which replaces the old cache; the page is always fetched from the network first.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET

WORKER = Path(__file__).parent / "sw.js"
FORM_TEMPLATE = Path(__file__).parent / "templates" / "web" / "form.html"
# The static files the form page loads (form.html); MapLibre (1 MB, "Pick on map") is deliberately not kept, so
# installing the worker stays within the form's slow-link budget.
ASSETS = ("web/form.js", "web/form.css")


def worker_config() -> dict[str, object]:
    source = WORKER.read_bytes()
    digest = hashlib.sha256(source)
    for name in ASSETS:
        found = finders.find(name)
        digest.update(Path(found).read_bytes() if found else name.encode())
    digest.update(FORM_TEMPLATE.read_bytes())
    return {
        "version": digest.hexdigest()[:16],
        "formUrl": reverse("web:record-new"),
        "assets": [static(name) for name in ASSETS],
        "clearOn": [reverse("login"), reverse("logout")],
    }


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """Public like a static file: it holds no user data (the version, the form's URL and its static files)."""
    body = WORKER.read_text().replace("__SW_CONFIG__", json.dumps(worker_config()), 1)
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    # Browsers check for a new worker on navigations; never let an HTTP cache hide a deployment.
    response["Cache-Control"] = "no-cache"
    return response
