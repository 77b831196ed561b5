"""Detector configurations: checking them (every wrong field named, in the user's language), creating, changing,
switching on and off, reading them in scope. Every change is logged in the change log."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sitaware.alerts.errors import DetectorConfigError, DetectorNotFound
from sitaware.alerts.models import CapShape, CapStatus, Detector, Method
from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Role
from sitaware.core.scope import Actor
from sitaware.records import vocab

CONFIGURE_ROLES = frozenset({Role.ANALYST, Role.SUPERVISOR})
DEFAULT_STATUSES = ["verified", "published", "archived"]  # drafts and records in review are not yet checked
FIELDS = ("name", "method", "categories", "area", "resolution", "period_days", "history_periods", "max_window",
          "max_neighbours", "permutations", "alpha", "schedule_hours", "statuses", "cap_status", "cap_shape",
          "enabled")
# The Farrington-type surge baseline needs more than a year of weekly history beyond its 26 excluded weeks.
SURGE_MIN_PERIODS = 110


def _int(data: dict[str, Any], name: str, low: int, high: int, problems: list[tuple[str, str]]) -> int | None:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        problems.append((name, _("a whole number between %(low)d and %(high)d") % {"low": low, "high": high}))
        return None
    if not low <= int(value) <= high:
        problems.append((name, _("between %(low)d and %(high)d") % {"low": low, "high": high}))
        return None
    return int(value)


def _area(value: Any, problems: list[tuple[str, str]]) -> dict[str, Any] | None:
    if not isinstance(value, dict) or len([k for k in ("bbox", "admin1") if k in value]) != 1 or len(value) != 1:
        problems.append(("area", _('give exactly one of {"bbox": [min_lon, min_lat, max_lon, max_lat]} or '
                                   '{"admin1": ["name", ...]}')))
        return None
    if "bbox" in value:
        box = value["bbox"]
        if (not isinstance(box, list | tuple) or len(box) != 4
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in box)):
            problems.append(("area.bbox", _("four numbers: min_lon, min_lat, max_lon, max_lat")))
            return None
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in box)
        if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180 and -90 <= min_lat <= 90 and -90 <= max_lat <= 90):
            problems.append(("area.bbox", _("longitudes between -180 and 180, latitudes between -90 and 90")))
            return None
        if min_lon >= max_lon or min_lat >= max_lat:
            problems.append(("area.bbox", _("empty area: the minimum must be below the maximum on both axes")))
            return None
        return {"bbox": [min_lon, min_lat, max_lon, max_lat]}
    names = value["admin1"]
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        problems.append(("area.admin1", _("empty area: name at least one first-level administrative area")))
        return None
    return {"admin1": sorted({n.strip() for n in names})}


def check_config(data: dict[str, Any]) -> dict[str, Any]:
    """A complete, normalised configuration, or DetectorConfigError naming every wrong field."""
    problems: list[tuple[str, str]] = []
    out: dict[str, Any] = {}
    unknown = sorted(set(data) - set(FIELDS))
    for name in unknown:
        problems.append((name, _("unknown field; use %(fields)s") % {"fields": ", ".join(FIELDS)}))
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 120:
        problems.append(("name", _("give a name of 1 to 120 characters")))
    out["name"] = name
    out["method"] = data.get("method", Method.SCAN)
    if out["method"] not in Method.values:
        problems.append(("method", _("use one of %(v)s") % {"v": ", ".join(Method.values)}))
    categories = data.get("categories")
    if not isinstance(categories, list) or not categories or not all(
            isinstance(c, str) and c.strip() for c in categories):
        problems.append(("categories", _("name at least one record category, e.g. police.armed_robbery")))
    else:
        out["categories"] = sorted({c.strip() for c in categories})
    out["area"] = _area(data.get("area"), problems)
    defaults = {"resolution": 8, "period_days": 7, "history_periods": 52, "max_window": 4, "max_neighbours": 10,
                "permutations": 999, "schedule_hours": 0}
    limits = {"resolution": (5, 9), "period_days": (1, 31), "history_periods": (4, 520), "max_window": (1, 260),
              "max_neighbours": (2, 50), "permutations": (99, 9999), "schedule_hours": (0, 8760)}
    for field_name, (low, high) in limits.items():
        out[field_name] = _int({field_name: data.get(field_name, defaults[field_name])}, field_name, low, high,
                               problems)
    if data.get("max_neighbours") in (0, 1):
        # Say why, not only the range: with k = 1 every zone is a single cell without neighbours.
        problems[:] = [p for p in problems if p[0] != "max_neighbours"]
        problems.append(("max_neighbours", _("cells without neighbours: use at least 2 so that a zone can join a "
                                             "cell to its nearest neighbours")))
    history, window = out.get("history_periods"), out.get("max_window")
    if history and window and window * 2 > history:
        problems.append(("max_window", _("at most half the history (%(n)d periods), so that there is a past to "
                                         "compare with") % {"n": history // 2}))
    if out["method"] == Method.SURGE:
        if out.get("period_days") not in (None, 7):
            problems.append(("period_days", _("the surge method works on weeks: use 7")))
        if history is not None and history < SURGE_MIN_PERIODS:
            problems.append(("history_periods", _("the surge method needs at least %(n)d weeks of history")
                             % {"n": SURGE_MIN_PERIODS}))
    alpha = data.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < float(alpha) <= 0.2:
        problems.append(("alpha", _("a significance level above 0 and at most 0.2, e.g. 0.05")))
    else:
        out["alpha"] = float(alpha)
    statuses = data.get("statuses", DEFAULT_STATUSES)
    allowed = [s for s in vocab.STATUSES if s != "draft"]
    if not isinstance(statuses, list) or not statuses or any(s not in allowed for s in statuses):
        problems.append(("statuses", _("a non-empty list of %(v)s") % {"v": ", ".join(allowed)}))
    else:
        out["statuses"] = [s for s in allowed if s in statuses]
    for field_name, choices, default in (("cap_status", CapStatus, CapStatus.EXERCISE),
                                         ("cap_shape", CapShape, CapShape.POLYGON)):
        out[field_name] = data.get(field_name, default)
        if out[field_name] not in choices.values:
            problems.append((field_name, _("use one of %(v)s") % {"v": ", ".join(choices.values)}))
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(("enabled", _("true or false")))
    out["enabled"] = bool(enabled)
    if problems:
        raise DetectorConfigError([{"field": f, "message": str(m)} for f, m in problems])
    return out


def config_of(detector: Detector) -> dict[str, Any]:
    return {name: getattr(detector, name) for name in FIELDS}


def _may_configure(actor: Actor) -> None:
    if actor.role not in CONFIGURE_ROLES:
        raise PermissionDenied(_("detectors are configured by analysts and supervisors"))


def _log(actor: Actor, action: str, detector: Detector, before: Any, after: Any) -> None:
    changelog.append(
        [PendingEntry(action=action, object_type="detector", object_id=str(detector.id), before=before,
                      after=after, organisation_id=detector.organisation_id)],
        actor_id=actor.user_id, actor_label=actor.label,
    )


def next_run(detector: Detector, after: dt.datetime) -> dt.datetime | None:
    if not detector.enabled or not detector.schedule_hours:
        return None
    return after + dt.timedelta(hours=detector.schedule_hours)


def create_detector(actor: Actor, data: dict[str, Any]) -> Detector:
    _may_configure(actor)
    config = check_config(data)
    now = timezone.now()
    with transaction.atomic():
        detector = Detector(organisation_id=actor.organisation_id, created_by_id=actor.user_id, created_at=now,
                            updated_at=now, **config)
        # A scheduled detector's first run is due at once; later ones every schedule_hours after the last.
        detector.next_run_at = now if detector.enabled and detector.schedule_hours else None
        detector.save()
        _log(actor, "detector.create", detector, None, config)
    return detector


def update_detector(actor: Actor, detector_id: Any, changes: dict[str, Any]) -> Detector:
    """Change some fields (the rest stay); switching on or off is a change like any other, and logged."""
    _may_configure(actor)
    detector = get_detector(actor, detector_id)
    before = config_of(detector)
    config = check_config({**before, **changes})
    with transaction.atomic():
        for name, value in config.items():
            setattr(detector, name, value)
        detector.updated_at = timezone.now()
        detector.next_run_at = next_run(detector, detector.last_run_at or detector.updated_at)
        detector.save()
        changed = {k: v for k, v in config.items() if before.get(k) != v}
        _log(actor, "detector.update", detector, {k: before[k] for k in changed}, changed)
    return detector


def scoped_detectors(actor: Actor) -> QuerySet:
    """Detectors of the actor's organisation (they are its configuration; other organisations never see them).

    A detector holds no record content, only a configuration, so organisation is the whole of its scope."""
    actor.require("view")
    qs = Detector.objects.all()
    if not actor.system:
        qs = qs.filter(organisation_id=actor.organisation_id)
    return qs


def get_detector(actor: Actor, detector_id: Any) -> Detector:
    try:
        key = uuid.UUID(str(detector_id))
    except ValueError:
        raise DetectorNotFound(_("no detector %(id)s") % {"id": detector_id}) from None
    detector = scoped_detectors(actor).filter(pk=key).first()
    if detector is None:
        raise DetectorNotFound(_("no detector %(id)s") % {"id": detector_id})
    return detector


def serialize_detector(detector: Detector) -> dict[str, Any]:
    def utc(value: dt.datetime | None) -> str | None:
        return value.astimezone(dt.UTC).isoformat() if value else None

    return {"id": str(detector.id), **config_of(detector), "created_by": detector.created_by_id,
            "created_at": utc(detector.created_at), "updated_at": utc(detector.updated_at),
            "last_run_at": utc(detector.last_run_at), "next_run_at": utc(detector.next_run_at)}
