"""Running a detector: read records in scope, count them per cell and period, scan, and raise each significant
cluster as a recommendation, continuing earlier alerts of the same cluster instead of repeating them.

Reading and counting live in `counting`, the statistics in `findings`. A switched-off detector, or the
switched-off early-warning component, produces nothing: no run row, no recommendation. Every run that starts is
stored (DetectorRun) and logged in the change log with its parameters, data cut-off and code version, whether it
succeeds or fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sitaware.alerts import geo, identity
from sitaware.alerts.counting import PRECISE_LOCATIONS, PRECISE_TIMES, Counts, read_counts
from sitaware.alerts.detectors import config_of, get_detector, next_run
from sitaware.alerts.errors import DetectorDisabled
from sitaware.alerts.findings import Finding, RunInputError, scan_findings, surge_findings
from sitaware.alerts.models import Alert, AlertState, Detector, DetectorRun, Method, RunStatus
from sitaware.alerts.version import VERSION, artefact_hash, code_version
from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Role
from sitaware.core.scope import Actor
from sitaware.oversight import services as oversight
from sitaware.oversight.errors import ComponentDisabled, ComponentNotFound
from sitaware.oversight.models import AIComponent, RecommendationStatus

COMPONENT_KEY = "early-warning"
DECIDER_ROLES = (Role.SUPERVISOR.value, Role.COMMANDER.value)
RUN_ROLES = frozenset({Role.ANALYST, Role.SUPERVISOR, Role.COMMANDER})

Progress = Callable[[str, int, int | None], None]

PURPOSE = ("Early warning: find places where incidents of chosen categories have recently become more frequent than "
           "their own history and the rest of the area would suggest (space-time clusters), and propose each as an "
           "alert. Place-based only. Nothing is published until a supervisor or commander accepts it.")
MANUAL_PATH = ("watch the record lists and the map by category and area (GET /api/v1/records) and raise concerns "
               "through the usual reporting chain")
LIMITATIONS = gettext_noop(
    "Records are reports: where patrols, monitors and journalists are, more is recorded, so a cluster may reflect "
    "more reporting rather than more incidents. The permutation scan compares a place with its own past and with "
    "the rest of the area: a rise everywhere at once is not a cluster, and a place with no history has no "
    "baseline. The p-value is a Monte Carlo estimate whose smallest possible value is 1 / (permutations + 1); "
    "secondary clusters' p-values are conservative. The zone is a set of map cells, not a boundary drawn on the "
    "ground. An alert says nothing about any person and must not be used to."
)


def builtin_spec() -> oversight.ComponentSpec:
    """Registered switched off: an administrator switches it on after reading docs/alerts.md (R-AI-02)."""
    return oversight.ComponentSpec(
        key=COMPONENT_KEY,
        name="Early-warning alerts (space-time cluster detection)",
        purpose=PURPOSE,
        owner="Crime analysis cell of the police component",
        model_version=VERSION,
        artefact_hash=artefact_hash(),
        decider_roles=list(DECIDER_ROLES),
        enabled=False,
        manual_path=MANUAL_PATH,
        model_card="docs/alerts.md and docs/detection.md",
        art5_screen=("Not a prohibited practice: detects clusters of incidents in places and time; no assessment "
                     "or prediction of any natural person."),
        annex_iii="none: place-based; no assessment of natural persons",
    )


# ---------------------------------------------------------------- continuing earlier alerts


def sync_states(detector: Detector) -> None:
    """Bring alert states up to date with decisions taken since (a rejection has no applier to tell us)."""
    rejected = Alert.objects.filter(detector=detector, state=AlertState.RAISED,
                                    recommendation__status=RecommendationStatus.REJECTED)
    rejected.update(state=AlertState.REJECTED)


def lineage(alert: Alert | None) -> list[Alert]:
    """The alert and every earlier alert it continues, oldest first."""
    chain = []
    seen = set()
    while alert is not None and alert.pk not in seen:
        seen.add(alert.pk)
        chain.append(alert)
        alert = alert.previous
    return chain[::-1]


@dataclass(frozen=True)
class Plan:
    action: str  # raise, update, reraise, unchanged, suppressed
    previous: Alert | None
    msg_type: str


def _plan(detector: Detector, found: identity.Identity, observed: int, candidates: list[Alert]) -> Plan:
    pairs = [(a, identity.Identity(frozenset(a.cells), a.window_start, a.window_end)) for a in candidates]
    match = identity.best_match(found, pairs)
    if match is None:
        return Plan("raise", None, "Alert")
    assert isinstance(match, Alert)
    published = any(a.cap_identifier for a in lineage(match))
    msg_type = "Update" if published else "Alert"
    same = (set(match.cells) == set(found.cells) and match.observed == observed
            and match.window_end == found.window_end)
    if match.state == AlertState.REJECTED:
        if identity.grew_enough(match.observed, observed):
            return Plan("reraise", match, msg_type)
        return Plan("suppressed", match, msg_type)
    if same:
        return Plan("unchanged", match, msg_type)
    return Plan("update", match, msg_type)


# ---------------------------------------------------------------- the run


def _log_seq() -> int:
    from sitaware.core.models import ChangeEntry

    return int(ChangeEntry.objects.aggregate(m=Max("seq"))["m"] or 0)


def _utc(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def _component_on() -> None:
    component = AIComponent.objects.filter(key=COMPONENT_KEY).first()
    if component is None:
        raise ComponentNotFound(_("the early-warning component is not registered; an administrator registers the "
                                  "built-in components (sitaware demo does)"))
    if not component.enabled:
        raise ComponentDisabled(component.key, component.name, component.manual_path)


def _seed(detector: Detector, end: dt.datetime) -> int:
    digest = hashlib.sha256(f"{detector.id}|{end.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _log_run(actor: Actor, run: DetectorRun) -> None:
    changelog.append(
        [PendingEntry(action=f"detector_run.{run.status}", object_type="detector_run", object_id=str(run.id),
                      after=serialize_run(run), organisation_id=run.organisation_id,
                      extra={"detector": str(run.detector_id)})],
        actor_id=actor.user_id, actor_label=actor.label,
    )


def serialize_run(run: DetectorRun) -> dict[str, Any]:
    return {"id": str(run.id), "detector": str(run.detector_id), "trigger": run.trigger,
            "requested_by": run.requested_by_id, "parameters": run.parameters,
            "cut_off": {"change_log_seq": run.cutoff_seq, "latest_occurred_at": _utc(run.cutoff_occurred_at)},
            "analysis_end": _utc(run.analysis_end), "code_version": run.code_version,
            "artefact_hash": run.artefact_hash, "started_at": _utc(run.started_at),
            "finished_at": _utc(run.finished_at), "status": run.status, "error": run.error, "counts": run.counts}


def run_detector(actor: Actor, detector_id: Any, *, trigger: str = "api", at: dt.datetime | None = None,
                 progress: Progress | None = None) -> DetectorRun:
    """Run one detector now as `actor` (its scope decides which records count). Returns the stored run: status
    `succeeded` with counts, or `failed` with a message that says what to change. Refused (nothing stored) when
    the detector or the early-warning component is switched off."""
    def step(stage: str, done: int = 0, total: int | None = None) -> None:
        if progress is not None:
            progress(stage, done, total)

    if actor.system or actor.user_id is None:
        raise PermissionDenied(_("a detector runs as a person: its creator when scheduled"))
    if actor.role not in RUN_ROLES:
        raise PermissionDenied(_("detectors are run by analysts, supervisors and commanders"))
    detector = get_detector(actor, detector_id)
    if not detector.enabled:
        raise DetectorDisabled(_("detector %(name)s is switched off: it produces nothing until it is switched on "
                                 "again") % {"name": detector.name})
    _component_on()
    end = (at or timezone.now()).astimezone(dt.UTC)
    period = dt.timedelta(days=detector.period_days)
    start = end - detector.history_periods * period
    seed = _seed(detector, end)
    parameters = {**config_of(detector), "analysis_start": start.isoformat(), "analysis_end": end.isoformat(),
                  "seed": seed, "precise_locations": list(PRECISE_LOCATIONS), "precise_times": list(PRECISE_TIMES),
                  "min_overlap": identity.MIN_OVERLAP, "regrowth": identity.REGROWTH,
                  "regrowth_min": identity.REGROWTH_MIN}
    step("reading records")
    seq = _log_seq()
    counts = read_counts(actor, detector, start, end)
    run = DetectorRun.objects.create(
        detector=detector, organisation_id=detector.organisation_id, requested_by_id=actor.user_id, trigger=trigger,
        parameters=parameters, cutoff_seq=seq, cutoff_occurred_at=counts.latest, analysis_end=end,
        code_version=code_version(), artefact_hash=artefact_hash(), started_at=timezone.now())
    tally = {"records": len(counts.rows), "cells": len(counts.cells), "periods": detector.history_periods,
             "withheld_by_agreement": counts.withheld, "by_admin1": counts.by_admin1, "significant": 0, "raised": 0,
             "updated": 0, "reraised": 0, "unchanged": 0, "suppressed": 0}
    try:
        if not counts.rows:
            raise RunInputError(_("zero events: no record of %(cats)s in the area in the %(n)d periods up to %(end)s; "
                                  "check the categories, the area and the record statuses counted")
                                % {"cats": ", ".join(detector.categories), "n": detector.history_periods,
                                   "end": end.date().isoformat()})
        step("detecting", 0, detector.permutations)
        findings = (scan_findings(detector, counts, seed) if detector.method == Method.SCAN
                    else surge_findings(detector, counts))
        step("detecting", detector.permutations, detector.permutations)
        tally["significant"] = len(findings)
        sync_states(detector)
        for i, found in enumerate(findings):
            step("raising alerts", i, len(findings))
            outcome = _raise(actor, detector, run, counts, found, start, period, end)
            key = {"raise": "raised", "update": "updated", "reraise": "reraised"}.get(outcome, outcome)
            tally[key] += 1
        step("raising alerts", len(findings), len(findings))
        run.status = RunStatus.SUCCEEDED
    except (RunInputError, ComponentDisabled) as exc:
        run.status, run.error = RunStatus.FAILED, str(exc)
    except Exception as exc:
        run.status, run.error = RunStatus.FAILED, _("internal error: %(e)s") % {"e": repr(exc)[:500]}
        _finish(actor, detector, run, tally)
        raise
    _finish(actor, detector, run, tally)
    return run


def _finish(actor: Actor, detector: Detector, run: DetectorRun, tally: dict[str, Any]) -> None:
    run.finished_at = timezone.now()
    run.counts = tally
    with transaction.atomic():
        run.save(update_fields=["status", "error", "counts", "finished_at"])
        detector.last_run_at = run.finished_at
        detector.next_run_at = next_run(detector, run.finished_at)
        detector.save(update_fields=["last_run_at", "next_run_at"])
        _log_run(actor, run)


def _raise(actor: Actor, detector: Detector, run: DetectorRun, counts: Counts, found: Finding, start: dt.datetime,
           period: dt.timedelta, end: dt.datetime) -> str:
    window_start = start + found.start_period * period
    ident = identity.Identity(frozenset(found.cells), window_start, end)
    candidates = list(Alert.objects.filter(detector=detector)
                      .exclude(state__in=[AlertState.SUPERSEDED, AlertState.UPDATED])
                      .select_related("previous").order_by("-created_at", "-id"))
    plan = _plan(detector, ident, found.observed, candidates)
    if plan.action in ("unchanged", "suppressed"):
        return plan.action
    in_zone = {counts.cells.index(c) for c in found.cells}
    members = [r for r in counts.rows if r[2] in in_zone and r[1] >= found.start_period]
    record_ids = [r[0] for r in members]
    admin1_counts = Counter(r[3] for r in members)
    admin1 = admin1_counts.most_common(1)[0][0] if admin1_counts else ""
    alert_id = uuid.uuid4()
    cells = sorted(found.cells)
    key = identity.cluster_key(cells, end)
    recurrence_days = found.recurrence_periods * detector.period_days if found.recurrence_periods else None
    cut_off = {"change_log_seq": run.cutoff_seq, "latest_occurred_at": _utc(run.cutoff_occurred_at)}
    output = {
        "detector": str(detector.id), "detector_name": detector.name, "run": str(run.id), "method": detector.method,
        "cluster_key": key, "cells": cells, "resolution": detector.resolution, "zone": geo.zone_geojson(cells),
        "window_start": window_start.isoformat(), "window_end": end.isoformat(), "window_periods": found.window,
        "period_days": detector.period_days, "observed": found.observed, "expected": round(found.expected, 4),
        "relative_risk": found.relative_risk, "observed_over_expected": found.observed_over_expected,
        "score": found.score, "p_value": found.p_value, "recurrence_interval_periods": found.recurrence_periods,
        "recurrence_interval_days": recurrence_days, "surge_threshold": found.upper, "record_ids": record_ids,
        "admin1": dict(admin1_counts), "previous_alert": str(plan.previous.id) if plan.previous else None,
        "continues": plan.action, "msg_type": plan.msg_type, "cut_off": cut_off, "categories": detector.categories,
    }
    proposal = {"alert": str(alert_id), "msg_type": plan.msg_type, "cap_status": detector.cap_status,
                "severity": "Moderate", "instruction": ""}
    request = oversight.Request(
        target_type="alert", target_id=str(alert_id), purpose=_("Early-warning alert: review before publication"),
        inputs={"records": record_ids, "cells": cells, "window_end": end.isoformat(), "run": str(run.id)},
        input_refs=[{"type": "records_query", "detector": str(detector.id), "run": str(run.id),
                     "categories": detector.categories, "area": detector.area, "statuses": detector.statuses,
                     "from": start.isoformat(), "to": end.isoformat(), "records": len(counts.rows), **cut_off}],
        parameters=run.parameters, record_ids=record_ids,
    )

    def produce() -> oversight.Produced:
        return oversight.Produced(
            proposal=proposal, output=output,
            uncertainty=_uncertainty(detector, found),
            explanation=_explanation(detector, found, window_start, end, recurrence_days, plan, len(record_ids)),
            limitations=_(LIMITATIONS),
            model_id=f"detection/{detector.method}", model_version=VERSION, artefact_hash=artefact_hash(),
        )

    with transaction.atomic():
        rec = oversight.recommend(actor, COMPONENT_KEY, request, produce)
        if plan.previous is not None and plan.action == "update" and plan.previous.state == AlertState.RAISED:
            # Still waiting for a decision: replaced by this newer finding, so nobody publishes stale figures.
            Alert.objects.filter(pk=plan.previous.pk).update(state=AlertState.SUPERSEDED)
        Alert.objects.create(
            id=alert_id, detector=detector, run=run, organisation_id=rec.organisation_id, sensitivity=rec.sensitivity,
            recommendation=rec, cells=cells, window_start=window_start, window_end=end, cluster_key=key,
            observed=found.observed, expected=found.expected, relative_risk=found.relative_risk,
            p_value=found.p_value, recurrence_days=recurrence_days, record_ids=record_ids, admin1=admin1,
            previous=plan.previous, msg_type=plan.msg_type, created_at=rec.created_at)
    return plan.action


def _uncertainty(detector: Detector, found: Finding) -> dict[str, Any]:
    if detector.method == Method.SCAN:
        return {"method": _("Monte Carlo p-value from %(n)d random permutations of event times over places; the "
                            "smallest possible p is 1/%(m)d") % {"n": detector.permutations,
                                                                "m": detector.permutations + 1},
                "p_value": found.p_value, "alpha": detector.alpha,
                "recurrence_interval_periods": found.recurrence_periods}
    return {"method": _("negative-binomial threshold of a Farrington-type baseline at level %(a)s")
            % {"a": detector.alpha}, "upper_threshold": found.upper, "alpha": detector.alpha}


def _explanation(detector: Detector, found: Finding, window_start: dt.datetime, end: dt.datetime,
                 recurrence_days: float | None, plan: Plan, n_records: int) -> str:
    lines = [_("%(obs)d events of %(cats)s in %(cells)d cell(s) between %(start)s and %(end)s, where %(exp).1f "
               "were expected from the area's history.")
             % {"obs": found.observed, "cats": ", ".join(detector.categories), "cells": len(found.cells),
                "start": window_start.date().isoformat(), "end": end.date().isoformat(), "exp": found.expected}]
    if found.relative_risk is not None:
        lines.append(_("Relative risk %(rr).2f (inside the zone versus outside).") % {"rr": found.relative_risk})
    if found.p_value is not None:
        lines.append(_("Monte Carlo p-value %(p).4f with %(n)d permutations.") % {"p": found.p_value,
                                                                                 "n": detector.permutations})
    if recurrence_days is not None:
        lines.append(_("Recurrence interval: a cluster this strong would arise by chance about once in %(d).0f days "
                       "of analyses like this one.") % {"d": recurrence_days})
    if found.upper is not None:
        lines.append(_("Above the surge threshold of %(u).1f for this week.") % {"u": found.upper})
    if plan.action == "update":
        lines.append(_("This continues an earlier alert on the same cluster; if accepted it is published as a CAP "
                       "Update referencing the earlier message(s)."))
    elif plan.action == "reraise":
        lines.append(_("An earlier alert on this cluster was rejected; it is raised again because the cluster grew "
                       "from %(a)d to %(b)d events.") % {"a": plan.previous.observed if plan.previous else 0,
                                                         "b": found.observed})
    lines.append(_("%(n)d records make up the cluster (listed in record_ids).") % {"n": n_records})
    return "\n".join(lines)
