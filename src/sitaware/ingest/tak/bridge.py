"""The Django side of the TAK listener: its source and service account, the operator's uid mapping, positions
into patrol tracking, accepted alerts as CoT markers, and the listener's health on its source.

Everything here is synchronous and runs on the listener's one database thread. Writes go through the owning
apps' services: positions through `planning.tracking.report_positions` (its scope and role rules, its change
log entry `plan.positions` with source "cot"), alerts are read through `alerts.services.published_alerts` in
the service account's scope.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from sitaware.core.scope import Actor, actor_for
from sitaware.ingest import services
from sitaware.ingest.adapters.tak import TakAdapter, check_mapping
from sitaware.ingest.models import Source
from sitaware.ingest.tak import cot

log = logging.getLogger("sitaware.ingest.tak")
POSITION_SOURCE = "cot"  # PositionReport.source for positions that came over CoT


class ListenerSetupError(Exception):
    """The listener cannot start as configured (no such source, no usable service account)."""


@dataclass(frozen=True)
class Settings:
    """A snapshot of the source's config, re-read while the listener runs (the mapping may change)."""

    source_id: uuid.UUID
    name: str
    organisation_id: Any
    uids: dict[str, dict[str, str]] = field(default_factory=dict)
    alert_type: str = cot.ALERT_TYPE
    max_event_bytes: int = cot.MAX_EVENT_BYTES
    base_url: str = ""
    enabled: bool = True


def find_source(name_or_id: str) -> Source:
    qs = Source.objects.filter(kind=TakAdapter.kind)
    try:
        source = qs.filter(pk=uuid.UUID(str(name_or_id))).first()
    except ValueError:
        matches = list(qs.filter(name=name_or_id)[:2])
        if len(matches) > 1:
            raise ListenerSetupError(f"several organisations have a TAK source named {name_or_id!r}: "
                                     "give its id") from None
        source = matches[0] if matches else None
    if source is None:
        raise ListenerSetupError(f"no TAK source {name_or_id!r}: create one (kind \"tak\") in the intake API")
    return source


def settings_of(source: Source) -> Settings:
    config = source.config or {}
    return Settings(source_id=source.pk, name=source.name, organisation_id=source.organisation_id,
                    uids=dict(config.get("uids") or {}), alert_type=str(config.get("alert_type") or cot.ALERT_TYPE),
                    max_event_bytes=int(config.get("max_event_bytes") or cot.MAX_EVENT_BYTES),
                    base_url=str(config.get("base_url") or "").rstrip("/"), enabled=source.enabled)


def reload(source_id: uuid.UUID) -> Settings:
    return settings_of(Source.objects.get(pk=source_id))


def listener_actor(source: Source) -> Actor:
    """The service account the source names, as an Actor: active, in the source's organisation."""
    username = str((source.config or {}).get("actor") or "")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ListenerSetupError(f"source {source.name}: no active account {username!r} to act as")
    try:
        actor = actor_for(user)
    except PermissionDenied as exc:
        raise ListenerSetupError(f"source {source.name}: account {username!r}: {exc}") from None
    if actor.organisation_id != source.organisation_id:
        raise ListenerSetupError(f"source {source.name}: account {username!r} is not in the source's organisation")
    return actor


# ---------------------------------------------------------------- the operator's mapping


def _require_manager(actor: Actor, source: Source) -> None:
    if not actor.system and (actor.role not in services.SOURCE_MANAGER_ROLES
                             or actor.organisation_id != source.organisation_id):
        raise PermissionDenied(f"your role ({actor.role}) may not configure intake sources")


def set_mapping(actor: Actor, source: Source, uid: str, plan_id: Any, patrol: str) -> dict[str, str]:
    """Map a TAK uid to a patrol of a plan (logged). The plan must be one the source's service account sees and
    the patrol one of its units, so a mapping cannot point positions at another organisation's plan."""
    from sitaware.planning import services as planning

    _require_manager(actor, source)
    entry = check_mapping(uid, {"plan": str(plan_id), "patrol": patrol})
    plan = planning.get_plan(listener_actor(source), entry["plan"])
    if entry["patrol"] not in planning.org_units_of(plan):
        raise ValueError(f"plan {plan.pk} has no patrol {entry['patrol']!r}; its patrols: "
                         f"{', '.join(sorted(planning.org_units_of(plan)))}")
    with transaction.atomic():
        locked = Source.objects.select_for_update().get(pk=source.pk)
        config = dict(locked.config or {})
        uids = dict(config.get("uids") or {})
        before = uids.get(uid)
        uids[uid] = entry
        config["uids"] = uids
        locked.config = config
        locked.save(update_fields=["config"])
        services._log(actor, "ingest.tak.map", "intake_source", source.pk, locked,
                      before={"uid": uid, "target": before}, after={"uid": uid, "target": entry})
    source.config = locked.config
    return entry


def remove_mapping(actor: Actor, source: Source, uid: str) -> bool:
    _require_manager(actor, source)
    with transaction.atomic():
        locked = Source.objects.select_for_update().get(pk=source.pk)
        config = dict(locked.config or {})
        uids = dict(config.get("uids") or {})
        if uid not in uids:
            return False
        before = uids.pop(uid)
        config["uids"] = uids
        locked.config = config
        locked.save(update_fields=["config"])
        services._log(actor, "ingest.tak.unmap", "intake_source", source.pk, locked,
                      before={"uid": uid, "target": before}, after={"uid": uid, "target": None})
    source.config = locked.config
    return True


# ---------------------------------------------------------------- positions


def refusals() -> tuple[type[Exception], ...]:
    """Errors that mean "these positions are refused" (plan over, not ours, bad points), not "try again"."""
    from sitaware.oversight.errors import OversightError

    return (PermissionDenied, OversightError)


def store_positions(actor: Actor, plan_id: str, patrol: str, points: list[dict[str, Any]]) -> int:
    """Positions of one patrol through planning's tracking service (its scope, role and state rules)."""
    from sitaware.planning import tracking

    step = tracking.MAX_POINTS  # the service takes at most this many per call
    return sum(tracking.report_positions(actor, plan_id, patrol, points[i:i + step], source=POSITION_SOURCE)
               for i in range(0, len(points), step))


# ---------------------------------------------------------------- accepted alerts as CoT


def _root(alert: Any) -> Any:
    from sitaware.alerts.runner import lineage

    return lineage(alert)[0]


def marker_for(alert: Any, *, cot_type: str = cot.ALERT_TYPE, base_url: str = "") -> cot.AlertMarker:
    """An accepted alert as a CoT marker: place, window and counts only (an alert holds nothing about persons)."""
    from sitaware.alerts import geo

    centre, radius_km = geo.cap_circle(alert.cells).split(" ")
    lat, lon = (float(v) for v in centre.split(","))
    detector = alert.detector
    categories = ", ".join(detector.categories)
    sent = alert.cap_sent or alert.published_at or timezone.now()
    title = f"Alert: {categories}"
    remarks = (f"sitaware early-warning alert ({alert.msg_type}), accepted: {alert.observed} events where "
               f"{alert.expected:.1f} expected, {alert.window_start:%Y-%m-%d} to {alert.window_end:%Y-%m-%d}, "
               f"{len(alert.cells)} map cell(s)" + (f" in {alert.admin1}" if alert.admin1 else "")
               + f". Alert {alert.id}, CAP {alert.cap_identifier}.")
    link = f"{base_url}/alerts/{alert.id}/cap.xml" if base_url else ""
    return cot.AlertMarker(
        uid=f"sitaware-alert-{_root(alert).id}", alert_id=str(alert.id), cap_identifier=alert.cap_identifier,
        msg_type=alert.msg_type, title=title, remarks=remarks, lat=lat, lon=lon, radius_m=float(radius_km) * 1000,
        start=sent, stale=sent + dt.timedelta(days=detector.period_days * 2), link=link, cot_type=cot_type)


def current_alerts(actor: Actor, settings: Settings, now: dt.datetime | None = None) -> dict[str, bytes]:
    """The accepted alerts (latest version of each chain, not yet expired) in the service account's scope, as
    {alert version id: CoT event}. A version is pushed to each client once; an update keeps the marker's uid."""
    from sitaware.alerts import services as alerts
    from sitaware.alerts.models import AlertState

    now = now or timezone.now()
    out: dict[str, bytes] = {}
    for alert in alerts.published_alerts(actor):
        if alert.state != AlertState.ACCEPTED:
            continue  # a later accepted update replaced it (same marker uid)
        marker = marker_for(alert, cot_type=settings.alert_type, base_url=settings.base_url)
        if marker.stale <= now:
            continue
        out[marker.alert_id] = cot.build_alert_event(marker, now=now)
    return out


# ---------------------------------------------------------------- health


@dataclass
class Tally:
    """What happened since the last health save; the listener fills it, `save_health` empties it."""

    positions: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def save_health(source_id: uuid.UUID, tally: Tally, live: dict[str, Any]) -> None:
    """The source's health as for every intake source (last success, last error, rejects, end of a silence),
    plus what only a listener has (`state.live`: clients connected, last position, counts)."""
    source = Source.objects.get(pk=source_id)
    error = tally.errors[-1] if tally.errors else ""
    if error or tally.positions or tally.rejected:
        # An idle spell is neither a success nor a failure: a refused batch stays "failing" until positions
        # are stored again.
        outcome = services.Outcome(stored=tally.positions, rejected=tally.rejected, reasons=list(tally.reasons))
        services._record_result(source, outcome, None, error=error)
    state = dict(source.state or {})
    state["live"] = live
    Source.objects.filter(pk=source_id).update(state=state, items_per_hour=float(live.get("positions_last_hour", 0)))
