"""What happens when a person accepts an alert: the CAP 1.2 message is built, validated against the official
schema, stored and so published in the Atom feed. Reached only through the oversight decision gate
(`register_applier`): nothing is published without an accepted decision."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from sitaware.alerts import cap, geo
from sitaware.alerts.models import Alert, AlertState, CapShape, CapStatus
from sitaware.alerts.runner import COMPONENT_KEY, lineage
from sitaware.core import changelog
from sitaware.core.changelog import PendingEntry
from sitaware.core.choices import Sensitivity
from sitaware.core.scope import Actor
from sitaware.oversight import services as oversight
from sitaware.oversight.errors import OversightValidationError
from sitaware.oversight.models import Decision, Recommendation

PROPOSAL_KEYS = ("alert", "msg_type", "cap_status", "severity", "instruction")
INSTRUCTION_MAX = 1000


def _invalid(field: str, message: str) -> OversightValidationError:
    return OversightValidationError([{"field": field, "message": str(message)}])


def check(rec: Recommendation, output: Any) -> dict[str, Any]:
    """The proposal, or a decider's change of it: only CAP status, severity and instruction may change."""
    alert = Alert.objects.filter(recommendation=rec).first()
    if alert is None:
        raise _invalid("alert", _("this recommendation has no alert"))
    if not isinstance(output, dict):
        raise _invalid("alert", _("give the proposal as an object"))
    unknown = sorted(set(output) - set(PROPOSAL_KEYS))
    if unknown:
        raise _invalid(unknown[0], _("only cap_status, severity and instruction can be changed"))
    if alert.state == AlertState.SUPERSEDED:
        newer = Alert.objects.filter(previous=alert).order_by("-created_at").first()
        raise _invalid("alert", _("superseded by a later run on the same cluster (alert %(id)s): decide on that one "
                                  "and reject this with reason 'superseded'") % {"id": newer.id if newer else "-"})
    if alert.state != AlertState.RAISED:
        raise _invalid("alert", _("this alert is %(state)s; only raised alerts can be published")
                       % {"state": alert.state})
    out = {"alert": str(alert.id), "msg_type": alert.msg_type,
           "cap_status": output.get("cap_status", alert.detector.cap_status),
           "severity": output.get("severity", "Moderate"), "instruction": str(output.get("instruction") or "")}
    if str(output.get("alert", out["alert"])) != out["alert"] or output.get("msg_type", out["msg_type"]) != out[
            "msg_type"]:
        raise _invalid("alert", _("the alert and its message type cannot be changed"))
    if out["cap_status"] not in CapStatus.values:
        raise _invalid("cap_status", _("use Actual or Exercise"))
    if out["severity"] not in cap.SEVERITIES:
        raise _invalid("severity", _("use one of %(v)s") % {"v": ", ".join(cap.SEVERITIES)})
    if len(out["instruction"]) > INSTRUCTION_MAX:
        raise _invalid("instruction", _("at most %(n)d characters") % {"n": INSTRUCTION_MAX})
    return out


def sender(alert: Alert) -> str:
    configured = getattr(settings, "SITAWARE_CAP_SENDER", "")
    return configured or f"sitaware-{alert.organisation.code}"


def message_for(alert: Alert, decided: dict[str, Any], sent: dt.datetime) -> cap.Message:
    """The CAP message of an alert as decided. Pure mapping from stored fields."""
    detector = alert.detector
    references = [cap.Reference(sender(a), a.cap_identifier, a.cap_sent)
                  for a in lineage(alert)[:-1] if a.cap_identifier and a.cap_sent]
    msg_type = decided["msg_type"] if references else "Alert"
    rec = alert.recommendation
    categories = ", ".join(detector.categories)
    if detector.cap_shape == CapShape.CIRCLE:
        area = cap.Area(description="", circles=[geo.cap_circle(alert.cells)])
    else:
        area = cap.Area(description="", polygons=geo.cap_polygons(alert.cells))
    where = alert.admin1 or detector.name
    area = cap.Area(description=_("%(n)d map cell(s) (H3 resolution %(r)d) in %(where)s")
                    % {"n": len(alert.cells), "r": detector.resolution, "where": where},
                    polygons=area.polygons, circles=area.circles)
    parameters = [("observed", str(alert.observed)), ("expected", f"{alert.expected:.4f}")]
    if alert.relative_risk is not None:
        parameters.append(("relativeRisk", f"{alert.relative_risk:.4f}"))
    if alert.p_value is not None:
        parameters.append(("pValue", f"{alert.p_value:.4f}"))
    if alert.recurrence_days is not None:
        parameters.append(("recurrenceIntervalDays", f"{alert.recurrence_days:.0f}"))
    parameters += [("windowStart", cap.cap_time(alert.window_start)), ("windowEnd", cap.cap_time(alert.window_end)),
                   ("method", detector.method), ("clusterKey", alert.cluster_key),
                   ("records", str(len(alert.record_ids)))]
    certainty = "Likely" if alert.p_value is not None and alert.p_value <= 0.01 else "Possible"
    headline = _("Cluster of %(cats)s: %(obs)d events where %(exp).1f expected") % {
        "cats": categories, "obs": alert.observed, "exp": alert.expected}
    return cap.Message(
        identifier=f"sitaware.{alert.organisation.code}.alert.{alert.id}",
        sender=sender(alert),
        sent=sent,
        status=decided["cap_status"],
        msg_type=msg_type,
        restriction=_("For authorised consumers of %(org)s only (sitaware sensitivity: %(level)s); not for public "
                      "dissemination.") % {"org": alert.organisation.name,
                                            "level": Sensitivity(alert.sensitivity).label},
        references=references,
        info=cap.Info(
            event=_("Incident cluster: %(cats)s") % {"cats": categories},
            urgency="Expected", severity=decided["severity"], certainty=certainty, area=area,
            onset=alert.window_start, expires=sent + dt.timedelta(days=detector.period_days * 2),
            sender_name=alert.organisation.name, headline=headline[:160], description=rec.explanation,
            instruction=decided.get("instruction") or "", parameters=parameters,
        ),
    )


def apply(actor: Actor, rec: Recommendation, decision: Decision) -> dict[str, Any]:
    """Build, validate (an invalid message refuses the whole decision), store and log the CAP message."""
    alert = Alert.objects.select_for_update().select_related("detector", "organisation", "recommendation").get(
        recommendation=rec)
    sent = timezone.now()
    # One language for machine consumers whatever the decider's interface language (CAP <language> says en-US).
    with translation.override("en"):
        message = message_for(alert, decision.final_output, sent)
    xml = cap.build_valid(message)
    earlier = [a for a in lineage(alert)[:-1] if a.state == AlertState.ACCEPTED]
    alert.cap_identifier, alert.cap_sent = message.identifier, sent.replace(microsecond=0)
    alert.cap_references = " ".join(r.text() for r in message.references)
    alert.cap_xml, alert.msg_type = xml.decode("utf-8"), message.msg_type
    alert.state, alert.published_at = AlertState.ACCEPTED, sent
    alert.save(update_fields=["cap_identifier", "cap_sent", "cap_references", "cap_xml", "msg_type", "state",
                              "published_at"])
    if earlier:
        Alert.objects.filter(pk__in=[a.pk for a in earlier]).update(state=AlertState.UPDATED)
    after = {"cap_identifier": alert.cap_identifier, "msg_type": alert.msg_type, "status": message.status,
             "references": alert.cap_references, "sent": cap.cap_time(sent), "decision": decision.pk}
    changelog.append(
        [PendingEntry(action="alert.publish", object_type="alert", object_id=str(alert.id), before=None,
                      after=after, organisation_id=alert.organisation_id, sensitivity=alert.sensitivity,
                      extra={"recommendation": str(rec.id), "detector": str(alert.detector_id)})],
        actor_id=actor.user_id, actor_label=actor.label,
    )
    return {"status": "published", "alert": str(alert.id), "cap_identifier": alert.cap_identifier,
            "msg_type": alert.msg_type}


oversight.register_applier(COMPONENT_KEY, oversight.Applier(check=check, apply=apply))
