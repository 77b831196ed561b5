"""Early-warning alerts (issue 4, product side): detector runs raise recommendations, nothing is published
without an accepted decision, later runs update instead of repeating, a rejection is not re-raised unless the
cluster grows, switched-off detectors produce nothing, and every run is logged."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.test_alerts_support import AT, KEY, background, hotspot, load, make_detector, run, switch_on


@pytest.fixture
def data(world, actor):
    switch_on(actor)
    load(actor, background(90, 1) + hotspot(24, 2))


@pytest.fixture
def detector(data, actor):
    return make_detector(actor)


def _decide(actor, alert, outcome="accept", who="sam", **kw):
    from sitaware.oversight import services

    return services.decide(actor(who), alert.recommendation_id, outcome, reason="checked with the sector", **kw)


def _alerts(detector):
    from sitaware.alerts.models import Alert

    return list(Alert.objects.filter(detector=detector).order_by("created_at", "id"))


def test_the_component_is_registered_switched_off(world):
    from sitaware.alerts.version import VERSION
    from sitaware.oversight import services
    from sitaware.oversight.models import AIComponent

    services.ensure_builtin_components()
    component = AIComponent.objects.get(key=KEY)
    assert component.enabled is False and component.model_version == VERSION
    assert component.decider_roles == ["supervisor", "commander"] and component.manual_path


def test_a_run_raises_each_significant_cluster_as_a_recommendation(detector, actor):
    from sitaware.alerts.version import artefact_hash, code_version
    from sitaware.core.models import ChangeEntry

    r = run(actor, detector)
    assert r.status == "succeeded", r.error
    assert r.counts["records"] == 114 and r.counts["raised"] >= 1
    # R-AI-03: parameters, data cut-off and code version of the run.
    assert r.parameters["permutations"] == 99 and r.parameters["analysis_end"] == AT.isoformat()
    assert r.cutoff_seq > 0 and r.cutoff_occurred_at < AT and r.code_version == code_version()
    assert r.artefact_hash == artefact_hash() and r.finished_at >= r.started_at
    assert ChangeEntry.objects.filter(action="detector_run.succeeded", object_id=str(r.id)).exists()
    alert = _alerts(detector)[0]
    rec = alert.recommendation
    assert rec.status == "pending" and rec.component.key == KEY and alert.state == "raised"
    out = rec.output
    assert out["zone"]["type"] in ("Polygon", "MultiPolygon") and out["cells"] == alert.cells
    assert out["observed"] > out["expected"] and out["relative_risk"] > 1
    assert out["p_value"] <= 0.05 and out["recurrence_interval_days"] >= 7 / 0.05 - 1e-6
    assert out["window_end"] == AT.isoformat() and out["window_start"] < out["window_end"]
    assert set(out["record_ids"]) == set(rec.record_ids) and len(rec.record_ids) == alert.observed
    assert rec.uncertainty["p_value"] == alert.p_value and "Monte Carlo" in rec.uncertainty["method"]
    assert "expected" in rec.explanation and "person" in rec.limitations
    assert ChangeEntry.objects.filter(action="recommendation.create", object_id=str(rec.id)).exists()


def test_the_hotspot_is_the_most_likely_cluster(detector, actor):
    import h3

    from tests.test_alerts_support import HOT

    run(actor, detector)
    alert = _alerts(detector)[0]
    assert h3.latlng_to_cell(*HOT, 8) in alert.cells
    assert alert.observed >= 20


def test_nothing_is_published_without_an_accepted_decision(detector, actor):
    from sitaware.alerts import services

    run(actor, detector)
    assert services.published_alerts(actor("sam")) == []
    alert = _alerts(detector)[0]
    _decide(actor, alert)
    alert.refresh_from_db()
    assert alert.state == "accepted" and alert.msg_type == "Alert" and alert.cap_identifier
    assert [a.id for a in services.published_alerts(actor("sam"))] == [alert.id]


def test_accepted_alert_becomes_a_cap_message_that_validates(detector, actor):
    from sitaware.alerts import cap

    run(actor, detector)
    alert = _alerts(detector)[0]
    _decide(actor, alert)
    alert.refresh_from_db()
    cap.validate(alert.cap_xml)  # the official CAP-v1.2.xsd
    xml = alert.cap_xml
    assert "<scope>Restricted</scope>" in xml and "<restriction>" in xml and "<status>Exercise</status>" in xml
    assert "<msgType>Alert</msgType>" in xml and "<polygon>" in xml and "+00:00</sent>" in xml
    assert "<valueName>pValue</valueName>" in xml and "<valueName>recurrenceIntervalDays</valueName>" in xml


def test_a_rejected_alert_publishes_nothing(detector, actor):
    from sitaware.alerts import services

    run(actor, detector)
    alert = _alerts(detector)[0]
    _decide(actor, alert, "reject")
    assert services.published_alerts(actor("sam")) == []
    services.list_alerts(actor("ana"), detector=detector.id)
    alert.refresh_from_db()
    assert alert.state == "rejected" and not alert.cap_xml


def test_a_later_run_on_the_same_cluster_updates_with_cap_references(detector, actor):
    from sitaware.alerts import cap

    run(actor, detector)
    first = _alerts(detector)[0]
    _decide(actor, first)
    first.refresh_from_db()
    later = AT + dt.timedelta(days=7)
    load(actor, hotspot(12, 3, before=later, days=6))
    r = run(actor, detector, at=later)
    assert r.counts["updated"] >= 1
    update = next(a for a in _alerts(detector) if a.previous_id == first.id)
    assert update.msg_type == "Update" and update.state == "raised"
    _decide(actor, update)
    update.refresh_from_db()
    first.refresh_from_db()
    cap.validate(update.cap_xml)
    assert "<msgType>Update</msgType>" in update.cap_xml
    assert update.cap_references == f"{cap.Reference('sitaware-unpol', first.cap_identifier, first.cap_sent).text()}"
    assert f"<references>{update.cap_references}</references>" in update.cap_xml
    assert first.state == "updated" and update.state == "accepted"


def test_the_same_run_twice_raises_nothing_new(detector, actor):
    run(actor, detector)
    n = len(_alerts(detector))
    again = run(actor, detector)
    assert again.counts["unchanged"] == n and again.counts["raised"] == 0 and len(_alerts(detector)) == n


def test_a_rejected_cluster_is_not_raised_again_unless_it_grows(detector, actor):
    from sitaware.alerts.identity import regrowth_threshold

    run(actor, detector)
    first = _alerts(detector)[0]
    _decide(actor, first, "reject")
    # One more event: not enough growth.
    load(actor, hotspot(1, 4, days=1))
    r = run(actor, detector)
    assert r.counts["suppressed"] >= 1 and r.counts["reraised"] == 0
    assert not [a for a in _alerts(detector) if a.previous_id == first.id]
    # Grown past the documented margin: raised again, linked to the rejected one.
    need = regrowth_threshold(first.observed) - first.observed
    load(actor, hotspot(need + 2, 5, days=5))
    r = run(actor, detector)
    assert r.counts["reraised"] >= 1
    [again] = [a for a in _alerts(detector) if a.previous_id == first.id]
    assert again.observed >= regrowth_threshold(first.observed) and again.msg_type == "Alert"
    assert "rejected" in again.recommendation.explanation


def test_a_pending_alert_is_superseded_by_a_newer_finding_and_cannot_be_accepted(detector, actor):
    from sitaware.oversight.errors import OversightValidationError

    run(actor, detector)
    first = _alerts(detector)[0]
    load(actor, hotspot(6, 6, days=3))
    run(actor, detector)
    first.refresh_from_db()
    assert first.state == "superseded"
    newer = next(a for a in _alerts(detector) if a.previous_id == first.id)
    assert newer.msg_type == "Alert"  # nothing was published before, so no references
    with pytest.raises(OversightValidationError, match="superseded"):
        _decide(actor, first)
    _decide(actor, first, "reject")  # it can still be cleared from the queue


def test_a_switched_off_detector_produces_nothing(detector, actor):
    from sitaware.alerts.detectors import update_detector
    from sitaware.alerts.errors import DetectorDisabled
    from sitaware.alerts.models import Alert, DetectorRun
    from sitaware.oversight.models import Recommendation

    update_detector(actor("ana"), detector.id, {"enabled": False})
    with pytest.raises(DetectorDisabled):
        run(actor, detector)
    assert not DetectorRun.objects.exists() and not Alert.objects.exists() and not Recommendation.objects.exists()


def test_a_switched_off_component_produces_nothing(detector, actor):
    from sitaware.alerts.models import Alert, DetectorRun
    from sitaware.oversight import services
    from sitaware.oversight.errors import ComponentDisabled

    services.set_enabled(actor("otto"), KEY, False, reason="review")
    with pytest.raises(ComponentDisabled):
        run(actor, detector)
    assert not DetectorRun.objects.exists() and not Alert.objects.exists()


def test_only_supervisors_and_commanders_decide(detector, actor):
    from django.core.exceptions import PermissionDenied

    run(actor, detector)
    with pytest.raises(PermissionDenied):
        _decide(actor, _alerts(detector)[0], who="ana")


def test_a_decider_may_change_severity_and_instruction_only(detector, actor):
    from sitaware.oversight.errors import OversightValidationError

    run(actor, detector)
    alert = _alerts(detector)[0]
    proposal = alert.recommendation.output["proposal"]
    with pytest.raises(OversightValidationError):
        _decide(actor, alert, "modify", modified_output={**proposal, "cells": ["x"]})
    _decide(actor, alert, "modify", who="cora",
            modified_output={**proposal, "severity": "Severe", "instruction": "Increase patrols at PK5 market."})
    alert.refresh_from_db()
    assert "<severity>Severe</severity>" in alert.cap_xml and "Increase patrols" in alert.cap_xml


def test_the_surge_method_raises_a_cell_whose_week_is_above_its_threshold(world, actor):
    from sitaware.alerts import cap

    switch_on(actor)
    load(actor, background(330, 11, weeks=110) + hotspot(15, 12, days=6))
    detector = make_detector(actor, name="Surge", method="surge", history_periods=110, max_window=1, resolution=7,
                             alpha=0.01)
    r = run(actor, detector)
    assert r.status == "succeeded", r.error
    assert r.counts["raised"] >= 1
    alert = max(_alerts(detector), key=lambda a: a.observed)
    out = alert.recommendation.output
    assert len(alert.cells) == 1 and alert.observed >= 12 and out["surge_threshold"] < alert.observed
    assert alert.p_value is None and "Farrington" in alert.recommendation.uncertainty["method"]
    _decide(actor, alert)
    alert.refresh_from_db()
    cap.validate(alert.cap_xml)


def test_a_run_counts_only_records_in_the_runners_scope(world, actor):
    switch_on(actor)
    load(actor, background(90, 1))
    # The flare-up is strictly confidential: above the analyst's clearance (2), so her run cannot see it.
    load(actor, [dict(r, sensitivity="strictly_confidential") for r in hotspot(24, 2)])
    detector = make_detector(actor)
    assert run(actor, detector).counts["records"] == 90
    assert run(actor, detector, who="sam").counts["records"] == 114


def test_an_alert_above_a_users_clearance_is_not_in_their_feed(world, actor):
    from sitaware.alerts import services

    switch_on(actor)
    load(actor, [dict(r, sensitivity="confidential") for r in background(90, 1) + hotspot(24, 2)])
    detector = make_detector(actor)
    run(actor, detector)
    alert = _alerts(detector)[0]
    assert alert.sensitivity == 2
    _decide(actor, alert)
    assert [a.id for a in services.published_alerts(actor("cora"))] == [alert.id]
    assert services.published_alerts(actor("rita")) == []  # clearance 1
    assert services.published_alerts(actor("hugo")) == []  # another organisation
