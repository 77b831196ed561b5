"""Public services of the alerts app: reading alerts and runs in scope, the Atom feed, oversight numbers.

Configuring detectors lives in `detectors`, running them in `runner`, publishing in `publish` (reached only from
an accepted decision). Other apps and the API use this module and those three.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sitaware.alerts import feed
from sitaware.alerts.detectors import get_detector, scoped_detectors
from sitaware.alerts.errors import AlertNotFound
from sitaware.alerts.models import Alert, AlertState, DetectorRun, RunStatus
from sitaware.alerts.runner import serialize_run, sync_states
from sitaware.core import changelog
from sitaware.core.scope import Actor, restrict
from sitaware.oversight import services as oversight
from sitaware.oversight.models import Decision

PUBLISHED = (AlertState.ACCEPTED, AlertState.UPDATED)
FEED_LIMIT = 200


def scoped_alerts(actor: Actor) -> QuerySet:
    """Alerts whose recommendation `actor` may see (same organisation, sensitivity within clearance, every record
    in scope is not required: the recommendation's own scope is what the review queue shows)."""
    actor.require("view")
    visible = oversight.scoped_recommendations(actor).values("pk")
    return Alert.objects.filter(recommendation__in=visible).select_related("detector", "recommendation",
                                                                          "organisation")


def get_alert(actor: Actor, alert_id: Any) -> Alert:
    try:
        key = uuid.UUID(str(alert_id))
    except ValueError:
        raise AlertNotFound(_("no alert %(id)s") % {"id": alert_id}) from None
    alert = scoped_alerts(actor).filter(pk=key).first()
    if alert is None:
        raise AlertNotFound(_("no alert %(id)s") % {"id": alert_id})
    return alert


def _utc(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def serialize_alert(alert: Alert, *, detail: bool = False) -> dict[str, Any]:
    rec = alert.recommendation
    data: dict[str, Any] = {
        "id": str(alert.id), "detector": str(alert.detector_id), "run": str(alert.run_id),
        "recommendation": str(rec.id), "recommendation_status": rec.status, "state": alert.state,
        "cluster_key": alert.cluster_key, "cells": alert.cells, "window_start": _utc(alert.window_start),
        "window_end": _utc(alert.window_end), "observed": alert.observed, "expected": alert.expected,
        "relative_risk": alert.relative_risk, "p_value": alert.p_value, "recurrence_days": alert.recurrence_days,
        "admin1": alert.admin1, "previous": str(alert.previous_id) if alert.previous_id else None,
        "msg_type": alert.msg_type, "cap_identifier": alert.cap_identifier or None,
        "cap_references": alert.cap_references or None, "created_at": _utc(alert.created_at),
        "published_at": _utc(alert.published_at), "records": len(alert.record_ids),
    }
    if detail:
        data.update(zone=rec.output.get("zone"), record_ids=alert.record_ids, explanation=rec.explanation,
                    limitations=rec.limitations, uncertainty=rec.uncertainty, cap_xml=alert.cap_xml or None)
    return data


def list_alerts(actor: Actor, *, detector: Any = None, state: str | None = None, limit: int = 100) -> list[Alert]:
    qs = scoped_alerts(actor)
    if detector is not None:
        chosen = get_detector(actor, detector)
        sync_states(chosen)
        qs = qs.filter(detector=chosen)
    if state:
        qs = qs.filter(state=state)
    return list(qs.order_by("-created_at", "-id")[: max(1, min(limit, 500))])


def list_runs(actor: Actor, detector_id: Any, limit: int = 50) -> list[DetectorRun]:
    detector = get_detector(actor, detector_id)
    return list(DetectorRun.objects.filter(detector=detector).order_by("-started_at")[: max(1, min(limit, 500))])


def serialize_runs(runs: list[DetectorRun]) -> list[dict[str, Any]]:
    return [serialize_run(r) for r in runs]


# ---------------------------------------------------------------- the feed


def published_alerts(actor: Actor, limit: int = FEED_LIMIT) -> list[Alert]:
    """Published alerts (accepted, including those a later update replaced) in `actor`'s scope, newest first."""
    return list(scoped_alerts(actor).filter(state__in=PUBLISHED).exclude(cap_xml="")
                .order_by("-published_at", "-id")[:limit])


def atom_feed(actor: Actor, base_url: str) -> bytes:
    alerts = published_alerts(actor)
    entries = [feed.Entry(
        id=f"urn:sitaware:cap:{a.cap_identifier}",
        title=f"[{a.msg_type}] {a.detector.name}: {a.observed} / {a.expected:.1f}",
        updated=a.published_at or a.created_at,
        summary=a.recommendation.explanation.splitlines()[0] if a.recommendation.explanation else "",
        link=f"{base_url}/alerts/{a.id}/cap.xml",
        cap_xml=a.cap_xml.encode("utf-8"),
    ) for a in alerts]
    updated = max((e.updated for e in entries), default=timezone.now())
    return feed.build(feed_id=f"urn:sitaware:alerts:{actor.organisation_id}", title=_("sitaware early-warning "
                      "alerts"), self_link=f"{base_url}/alerts/feed.atom", entries=entries, updated=updated,
                      author="sitaware")


# ---------------------------------------------------------------- oversight numbers (R-AI-06)


def detector_stats(actor: Actor, detector_id: Any | None = None) -> list[dict[str, Any]]:
    """Per detector: alerts raised, accepted, rejected, pending, by first-level area, next to each area's share of
    the records its last successful run counted, so an oversight officer can see whether some areas draw alerts
    out of proportion to their incidents."""
    detectors = [get_detector(actor, detector_id)] if detector_id else list(scoped_detectors(actor).order_by("name"))
    out = []
    for detector in detectors:
        sync_states(detector)
        alerts = scoped_alerts(actor).filter(detector=detector)
        by_area: dict[str, dict[str, int]] = defaultdict(lambda: {"raised": 0, "accepted": 0, "rejected": 0,
                                                                  "pending": 0, "superseded": 0})
        totals = {"raised": 0, "accepted": 0, "rejected": 0, "pending": 0, "superseded": 0}
        for area, state in alerts.values_list("admin1", "state"):
            row = by_area[area or ""]
            keys = ["raised"]
            if state in PUBLISHED:
                keys.append("accepted")
            elif state == AlertState.REJECTED:
                keys.append("rejected")
            elif state == AlertState.RAISED:
                keys.append("pending")
            else:
                keys.append("superseded")
            for k in keys:
                row[k] += 1
                totals[k] += 1
        last = (DetectorRun.objects.filter(detector=detector, status=RunStatus.SUCCEEDED)
                .order_by("-started_at").first())
        records_by_area = (last.counts.get("by_admin1") or {}) if last else {}
        n_records = sum(records_by_area.values())
        areas = []
        for area in sorted(set(by_area) | set(records_by_area)):
            row = by_area.get(area) or {"raised": 0, "accepted": 0, "rejected": 0, "pending": 0, "superseded": 0}
            alert_share = row["raised"] / totals["raised"] if totals["raised"] else None
            record_share = records_by_area.get(area, 0) / n_records if n_records else None
            ratio = round(alert_share / record_share, 3) if alert_share is not None and record_share else None
            areas.append({"admin1": area, **row, "alert_share": alert_share, "record_share": record_share,
                          "alerts_to_records_ratio": ratio})
        decided = totals["accepted"] + totals["rejected"]
        out.append({"detector": str(detector.id), "name": detector.name, "enabled": detector.enabled, **totals,
                    "acceptance_rate": round(totals["accepted"] / decided, 4) if decided else None,
                    "runs": DetectorRun.objects.filter(detector=detector).count(),
                    "last_run": serialize_run(last) if last else None, "by_admin1": areas})
    return out


# ---------------------------------------------------------------- for indicators (assessment)


@dataclass(frozen=True)
class DecisionTime:
    """One decided alert: when it was raised and decided, how, where, on what, at which sensitivity."""

    alert_id: str
    raised_at: dt.datetime
    decided_at: dt.datetime
    outcome: str
    admin1: str
    categories: tuple[str, ...]
    sensitivity: int


def decision_times(actor: Actor, start: dt.datetime, end: dt.datetime,
                   within: Actor | None = None) -> list[DecisionTime]:
    """The alerts raised in [start, end) that someone has decided on, within `actor`'s scope (and `within`'s,
    given one): what "time from alert to decision" is computed from. Alerts still waiting, or replaced by a later
    run before anyone decided, have no decision and are not listed."""
    qs = scoped_alerts(actor)
    if within is not None:
        qs = restrict(qs, within)
    rows = qs.filter(created_at__gte=start, created_at__lt=end, recommendation__decision__isnull=False) \
        .values_list("id", "created_at", "recommendation__decision__decided_at", "recommendation__decision__outcome",
                     "admin1", "detector__categories", "sensitivity").order_by("created_at", "id")
    return [DecisionTime(str(pk), raised, decided, outcome, admin1 or "", tuple(categories or ()), sensitivity)
            for pk, raised, decided, outcome, admin1, categories, sensitivity in rows]


def alert_times_changed(after_seq: int, up_to_seq: int) -> list[dt.datetime]:
    """When the alerts were raised whose recommendation or decision entered the change log in (after_seq,
    up_to_seq]: the periods a "time from alert to decision" figure must be recomputed for."""
    changed = changelog.changed_objects(after_seq, up_to_seq, ("recommendation", "decision", "alert"))
    recommendations = set(changelog.uuids(changed["recommendation"]))
    decisions = {int(d) for d in changed["decision"] if d.isdigit()}
    if decisions:
        recommendations |= set(Decision.objects.filter(pk__in=decisions).values_list("recommendation_id", flat=True))
    alerts = changelog.uuids(changed["alert"])
    if not (recommendations or alerts):
        return []
    found = Alert.objects.filter(Q(recommendation_id__in=recommendations) | Q(pk__in=alerts))
    return list(found.values_list("created_at", flat=True))
