"""The operations picture: the map page, its data, a record's linked recommendations, and the live feed."""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.http import require_GET
from pydantic import ValidationError

from sitaware.api.errors import BadInput
from sitaware.core.choices import Sensitivity
from sitaware.core.models import Unit
from sitaware.core.scope import Actor, actor_for
from sitaware.oversight import services as oversight
from sitaware.oversight.models import DecisionOutcome
from sitaware.records import services as records
from sitaware.records import vocab
from sitaware.records.api import RecordListQuery, record_filter
from sitaware.records.errors import RecordNotFound, schema_message
from sitaware.web import basemap as basemap_module
from sitaware.web import services, stream
from sitaware.web.labels import (
    ACTION_LABELS,
    KIND_LABELS,
    SCRIPT_STRINGS,
    SOURCE_TYPE_LABELS,
    STATUS_LABELS,
    labelled,
)

logger = logging.getLogger("sitaware.web")

MAP_PARAMS = ("bbox", "since", "until", "kind", "category", "status", "sensitivity", "source_type", "unit",
              "zoom", "mode")
LIST_PARAMS = ("kind", "category", "status", "sensitivity", "source_type", "unit")
SHIPPED_BASEMAP = "web/vendor/world-atlas/countries-50m.geojson"
# Province and state boundaries (tools/admin1_basemap.py), drawn over the shipped countries only.
SHIPPED_ADMIN1 = "web/vendor/natural-earth/admin1-lines.geojson"
# Province and state polygons with their names (tools/admin1_areas.py), for the maps by area drawn on the server.
SHIPPED_ADMIN1_AREAS = "web/vendor/natural-earth/admin1-areas.json"


def _problem(status: int, detail: str, errors: list[dict[str, str]] | None = None) -> JsonResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status)


def _json_actor(request: HttpRequest) -> Actor | JsonResponse:
    """The viewer, or the JSON answer to give instead (a data URL must not answer with a login page)."""
    if not request.user.is_authenticated:
        return _problem(401, "authentication required: sign in")
    try:
        return actor_for(request.user)
    except PermissionDenied as exc:
        return _problem(403, str(exc))


# ---------------------------------------------------------------- basemap


def basemap_path() -> Path | None:
    """SITAWARE_BASEMAP when it is a usable GeoJSON file; None for the shipped countries (nothing configured, a tile
    basemap, which `tile` serves, or a file that cannot be used, which the system check reports)."""
    path = basemap_module.configured_path()
    if path is None or path.suffix.lower() not in basemap_module.GEOJSON_SUFFIXES:
        return None
    try:
        basemap_module.describe(path)
    except basemap_module.BasemapError as exc:
        logger.warning("%s; using the shipped countries", exc)
        return None
    return path


def shipped_basemap_path() -> Path:
    return Path(__file__).parent / "static" / SHIPPED_BASEMAP


@dataclass
class _Basemap:
    etag: str  # quoted, as in the header
    raw: bytes
    gzipped: bytes | None = None  # made on the first request that takes gzip, not by the page


# path -> (file version, its answer): the basemap and the admin-1 lines, each kept in its current version only.
_basemap_cache: dict[str, tuple[tuple[int, int], _Basemap]] = {}
_basemap_lock = threading.Lock()


def _basemap_file(path: Path, *, gzipped: bool = False) -> _Basemap:
    """The file and its ETag, and its gzip when asked (once per process and file version: 1.67 MB of GeoJSON is
    0.56 MB gzipped)."""
    stat = path.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    with _basemap_lock:
        kept = _basemap_cache.get(str(path))
        found = kept[1] if kept is not None and kept[0] == version else None
        if found is None:
            raw = path.read_bytes()
            found = _Basemap(f'"{hashlib.sha256(raw).hexdigest()[:20]}"', raw)
            _basemap_cache[str(path)] = (version, found)
        if gzipped and found.gzipped is None:
            found.gzipped = gzip.compress(found.raw, 6, mtime=0)
    return found


def basemap_url() -> str:
    """The basemap's URL for the page, versioned by its ETag so that the browser may keep it for good."""
    try:
        version = _basemap_file(basemap_path() or shipped_basemap_path()).etag.strip('"')
    except OSError:
        return reverse("web:basemap")
    return f"{reverse('web:basemap')}?v={version}"


def admin1_lines_path() -> Path:
    return Path(__file__).parent / "static" / SHIPPED_ADMIN1


def admin1_areas_path() -> Path:
    return Path(__file__).parent / "static" / SHIPPED_ADMIN1_AREAS


def admin1_lines_url() -> str:
    try:
        version = _basemap_file(admin1_lines_path()).etag.strip('"')
    except OSError:
        return reverse("web:basemap-admin1")
    return f"{reverse('web:basemap-admin1')}?v={version}"


def basemap_config() -> dict[str, Any]:
    """The basemap part of a page's map config, for static/web/basemap.js (web/basemap.py page_config)."""
    return basemap_module.page_config(basemap_url(), admin1_lines_url())


def _accepts_gzip(request: HttpRequest) -> bool:
    for part in request.headers.get("Accept-Encoding", "").split(","):
        coding, *params = [p.strip().lower() for p in part.split(";")]
        if coding == "gzip":
            return not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
    return False


@login_required
@require_GET
def basemap(request: HttpRequest) -> HttpResponse:
    """The basemap, gzipped, with an ETag; fetched once: the page's URL carries the version (`?v=<etag>`), which
    may be cached for a year; without it, an hour, then revalidated (304).

    A client that does not take gzip gets the mission's file as it is, or is sent to the shipped countries'
    static file (WhiteNoise)."""
    path = basemap_path()
    gzip_ok = _accepts_gzip(request)
    if path is None and not gzip_ok:
        return HttpResponseRedirect(static(SHIPPED_BASEMAP))
    return _geojson_answer(request, path or shipped_basemap_path(), gzip_ok)


@login_required
@require_GET
def admin1_lines(request: HttpRequest) -> HttpResponse:
    """The shipped province and state boundary lines (Natural Earth), drawn over the shipped countries; answered as
    the basemap is (gzipped, versioned, cached)."""
    gzip_ok = _accepts_gzip(request)
    if not gzip_ok:
        return HttpResponseRedirect(static(SHIPPED_ADMIN1))
    return _geojson_answer(request, admin1_lines_path(), gzip_ok)


def _geojson_answer(request: HttpRequest, path: Path, gzip_ok: bool) -> HttpResponse:
    data = _basemap_file(path, gzipped=gzip_ok)
    headers = {
        "ETag": data.etag,
        "Vary": "Accept-Encoding",
        "Cache-Control": ("private, max-age=31536000, immutable" if request.GET.get("v") == data.etag.strip('"')
                          else "private, max-age=3600"),
    }
    if data.etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
    elif gzip_ok:
        response = HttpResponse(data.gzipped, content_type="application/geo+json")
        # Set here, so GZipMiddleware leaves it as it is.
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(data.raw, content_type="application/geo+json")
    for name, value in headers.items():
        response[name] = value
    return response


def _etag_matches(request: HttpRequest, etag: str) -> bool:
    # GZipMiddleware weakens the ETags of what it compresses; the browser sends them back as W/"...".
    sent = [tag.strip().removeprefix("W/") for tag in request.headers.get("If-None-Match", "").split(",")]
    return etag in sent or "*" in sent


@require_GET
def tile(request: HttpRequest, z: int, x: int, y: int, ext: str) -> HttpResponse:
    """One tile of the mission's MBTiles or PMTiles basemap. Signed-in members only (401/403 as JSON: MapLibre asks,
    not a person); 404 when there is no tile there or no tile basemap; ETag = the file's version, a year's cache
    under the page's versioned URL."""
    actor = _json_actor(request)
    if isinstance(actor, JsonResponse):
        return actor
    tileset = basemap_module.current_tileset()
    if tileset is None or ext != tileset.format:
        return _problem(404, "no such tile: the basemap is not a tile file of this format")
    etag = f'"{tileset.version}"'
    cache = ("private, max-age=31536000, immutable" if request.GET.get("v") == tileset.version
             else "private, max-age=3600")
    if _etag_matches(request, etag):
        response = HttpResponse(status=304)
    else:
        data = tileset.tile(z, x, y)
        if data is None:
            response = _problem(404, f"no tile {z}/{x}/{y} in the basemap")
            response["Cache-Control"] = cache
            return response
        response = HttpResponse(data, content_type=basemap_module.CONTENT_TYPES[tileset.format])
        if tileset.vector:
            if data.startswith(basemap_module.GZIP_MAGIC):
                if _accepts_gzip(request):
                    response["Content-Encoding"] = "gzip"  # set here, so GZipMiddleware leaves it as it is
                else:
                    response.content = gzip.decompress(data)
        else:
            # Images are compressed already: a set Content-Encoding keeps GZipMiddleware from trying again.
            response["Content-Encoding"] = "identity"
    response["ETag"] = etag
    response["Cache-Control"] = cache
    if tileset.vector:
        response["Vary"] = "Accept-Encoding"
    return response


# ---------------------------------------------------------------- map page


def _filter_options(actor: Actor) -> dict[str, Any]:
    language = (get_language() or "en")[:2]
    registry = records.taxonomies()
    taxonomy = registry.get(settings.SITAWARE_DEFAULT_TAXONOMY)
    categories = sorted(
        ({"code": c.code, "label": c.label_for(language), "kind": c.kind, "parent": c.parent}
         for c in taxonomy.categories.values()),
        key=lambda c: c["code"],
    )
    kind_labels = dict(labelled(vocab.KINDS, KIND_LABELS))
    # One option group per kind: the taxonomy's categories belong to one kind each.
    category_groups = [(kind_labels[kind], [c for c in categories if c["kind"] == kind]) for kind in vocab.KINDS]
    units = Unit.objects.filter(organisation_id=actor.organisation_id).order_by("code").values("code", "name")
    return {
        "kinds": labelled(vocab.KINDS, KIND_LABELS),
        "statuses": labelled(vocab.STATUSES, STATUS_LABELS),
        "source_types": labelled(vocab.SOURCE_TYPES, SOURCE_TYPE_LABELS),
        "categories": categories,
        "category_groups": [(label, items) for label, items in category_groups if items],
        "units": list(units),
        # A viewer cannot see above their clearance, so offering it would only ever select nothing.
        "sensitivities": [(int(s.value), s.label) for s in Sensitivity if s.value <= actor.clearance],
    }


@login_required
@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    actor = actor_for(request.user)
    config = {
        "dataUrl": reverse("web:map-data"),
        "streamUrl": reverse("web:live-stream"),
        "basemapUrl": basemap_url(),
        # The basemap's part of the style (static/web/basemap.js): the GeoJSON above, or the mission's tiles.
        "basemap": basemap_config(),
        "recordUrl": reverse("api:read_record", kwargs={"record_id": "RECORD_ID"}),
        "revisionsUrl": reverse("api:record_revisions", kwargs={"record_id": "RECORD_ID"}),
        "recommendationsUrl": reverse("web:record-recommendations", kwargs={"record_id": "RECORD_ID"}),
        # Where the live feed starts: the chain's head now, sealed (services.feed_token). Not feed_start: the page
        # is sent without waiting for a scope query, and the browser never learns the head.
        "start": services.feed_token(request.user.pk),
        # Where the map opens: longitude, latitude, zoom (the mission's area; default Central African Republic).
        "view": list(getattr(settings, "SITAWARE_MAP_VIEW", (20.0, 5.0, 4.0))),
    }
    options = _filter_options(actor)
    # Labels the script shows for codes it receives (feed events, points, the record panel), in the page's language.
    config["labels"] = {
        "kind": dict(options["kinds"]),
        "status": dict(options["statuses"]),
        "source_type": dict(options["source_types"]),
        "category": {c["code"]: c["label"] for c in options["categories"]},
        "sensitivity": {str(int(s.value)): str(s.label) for s in Sensitivity},
        "action": {k: str(v) for k, v in ACTION_LABELS.items()},
        "outcome": {k: str(v) for k, v in DecisionOutcome.choices},
    }
    config["strings"] = {k: str(v) for k, v in SCRIPT_STRINGS.items()}
    return render(request, "web/map.html", {"options": options, "config": config})


# ---------------------------------------------------------------- map data


def _list_param(request: HttpRequest, name: str) -> list[str]:
    return [v for v in request.GET.getlist(name) if v.strip()]


def parse_map_query(request: HttpRequest) -> services.MapQuery:
    """Query parameters into a MapQuery, with the record list's rules and messages for the shared filters."""
    problems: list[dict[str, str]] = []
    unknown = sorted(set(request.GET) - set(MAP_PARAMS))
    for name in unknown:
        problems.append({"field": name, "message": f"unknown query parameter; use {', '.join(MAP_PARAMS)}"})
    try:
        query = RecordListQuery(
            bbox=request.GET.get("bbox") or None,
            since=request.GET.get("since") or None,
            until=request.GET.get("until") or None,
            **{name: _list_param(request, name) for name in LIST_PARAMS},
        )
        flt = record_filter(query)
    except BadInput as exc:
        problems.extend(exc.problems)
        flt = records.RecordFilter()
    except ValidationError as exc:
        problems.extend({"field": ".".join(map(str, e["loc"])), "message": schema_message(e)} for e in exc.errors())
        flt = records.RecordFilter()
    zoom = 5.0
    try:
        zoom = float(request.GET.get("zoom", "5"))
        if not 0 <= zoom <= 24:
            raise ValueError
    except ValueError:
        problems.append({"field": "zoom", "message": "a number from 0 to 24"})
    mode = request.GET.get("mode", "auto")
    if mode not in ("auto", "points", "cells"):
        problems.append({"field": "mode", "message": "auto, points or cells"})
    if problems:
        raise BadInput(problems)
    return services.MapQuery(flt=flt, zoom=zoom, mode=mode)


@require_GET
def map_data(request: HttpRequest) -> JsonResponse:
    """Hexagon counts for a dense view, points for a sparse or close one; always the viewer's scope only."""
    actor = _json_actor(request)
    if isinstance(actor, JsonResponse):
        return actor
    try:
        query = parse_map_query(request)
    except BadInput as exc:
        return _problem(400, "invalid input", exc.problems)
    response = JsonResponse(services.map_data(actor, query), json_dumps_params={"separators": (",", ":")})
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def record_recommendations(request: HttpRequest, record_id: str) -> JsonResponse:
    """Recommendations about one record, for its panel. Out of scope answers 404 like the record API."""
    actor = _json_actor(request)
    if isinstance(actor, JsonResponse):
        return actor
    try:
        record = records.get_record(actor, record_id)
    except RecordNotFound:
        return _problem(404, f"no record {record_id}")
    rows = oversight.scoped_recommendations(actor).filter(target_record=record.id).order_by("-created_at")[:50]
    return JsonResponse({"items": [oversight.serialize_recommendation(r) for r in rows]})


# ---------------------------------------------------------------- live feed


def _stream_actor(user: Any) -> Actor | None:
    try:
        return actor_for(user)
    except PermissionDenied:
        return None


async def live_stream(request: HttpRequest) -> HttpResponseBase:
    """Server-Sent Events of record changes in the viewer's scope (see web/stream.py)."""
    if request.method != "GET":
        return _problem(405, "use GET")
    user = await request.auser()
    actor = await sync_to_async(_stream_actor)(user) if user.is_authenticated else None
    if actor is None:
        # EventSource retries on its own; a 401/403 (not a redirect to a login page) makes it stop.
        return _problem(401 if not user.is_authenticated else 403, "authentication required: sign in")
    cursor = stream.stream_cursor(request.headers.get("Last-Event-ID"), request.GET.get("after"))
    if cursor < 0 and request.GET.get("start"):
        # The map page's sealed start (services.feed_token): the head when the page was made. Read here, never
        # sent back: the stream's ids stay seqs of entries the viewer may see. Not a valid token: feed_start.
        sealed = services.read_feed_token(request.GET["start"], user.pk)
        cursor = -1 if sealed is None else sealed
    response = StreamingHttpResponse(stream.event_stream(actor, cursor), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    # GZipMiddleware would hold events back in its compressor; a set Content-Encoding makes it leave them.
    response["Content-Encoding"] = "identity"
    return response
