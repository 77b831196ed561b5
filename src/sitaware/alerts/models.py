"""Detectors (what an analyst configured), their runs (R-AI-03 log of each invocation) and the alerts they raise.

An alert is a recommendation first (oversight): it is published as a CAP 1.2 message only when a person accepts
it. Scope follows the organisation and sensitivity; an alert's sensitivity is its recommendation's (the highest
of its records').
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitaware.core.choices import Sensitivity
from sitaware.core.models import Organisation


class Method(models.TextChoices):
    SCAN = "scan", _("Space-time permutation scan")
    SURGE = "surge", _("Surge per cell (Farrington flexible)")


class CapStatus(models.TextChoices):
    ACTUAL = "Actual", _("Actual")
    EXERCISE = "Exercise", _("Exercise")


class CapShape(models.TextChoices):
    POLYGON = "polygon", _("Polygon (outline of the cells)")
    CIRCLE = "circle", _("Circle around the cells")


class Detector(models.Model):
    """An analyst's configuration of one early-warning detector. Validation lives in `alerts.validation`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.SCAN)
    categories = models.JSONField(default=list, help_text=_("Record categories counted (at least one)."))
    area = models.JSONField(help_text=_('{"bbox": [min_lon, min_lat, max_lon, max_lat]} or {"admin1": [names]}'))
    resolution = models.PositiveSmallIntegerField(default=8, help_text=_("H3 resolution of the cells (5-9)."))
    period_days = models.PositiveSmallIntegerField(default=7, help_text=_("Length of one period in days."))
    history_periods = models.PositiveSmallIntegerField(default=52, help_text=_("Periods of history read."))
    max_window = models.PositiveSmallIntegerField(default=4, help_text=_("Longest cluster window, in periods."))
    max_neighbours = models.PositiveSmallIntegerField(default=10, help_text=_("Cells per zone at most (k)."))
    permutations = models.PositiveIntegerField(default=999)
    alpha = models.FloatField(default=0.05, help_text=_("Significance level for raising an alert."))
    schedule_hours = models.PositiveIntegerField(default=0, help_text=_("Run every N hours; 0 = on demand only."))
    statuses = models.JSONField(default=list, help_text=_("Record statuses counted."))
    cap_status = models.CharField(max_length=8, choices=CapStatus.choices, default=CapStatus.EXERCISE)
    cap_shape = models.CharField(max_length=8, choices=CapShape.choices, default=CapShape.POLYGON)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class DetectorRun(models.Model):
    """One invocation: parameters, data cut-off, code version, timing, outcome and counts (R-AI-03)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    detector = models.ForeignKey(Detector, on_delete=models.PROTECT, related_name="runs")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    trigger = models.CharField(max_length=12, default="api")  # api, cli, schedule
    parameters = models.JSONField()
    cutoff_seq = models.BigIntegerField(help_text=_("Last change-log entry when the records were read."))
    cutoff_occurred_at = models.DateTimeField(null=True, blank=True, help_text=_("Latest event time read."))
    analysis_end = models.DateTimeField(help_text=_("End of the last period analysed."))
    code_version = models.CharField(max_length=40)
    artefact_hash = models.CharField(max_length=64)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    error = models.TextField(blank=True)
    counts = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["detector", "started_at"], name="detrun_detector_idx")]


class AlertState(models.TextChoices):
    RAISED = "raised", _("Raised, waiting for a decision")
    ACCEPTED = "accepted", _("Accepted and published")
    REJECTED = "rejected", _("Rejected")
    UPDATED = "updated", _("Published, then updated by a later message")
    SUPERSEDED = "superseded", _("Replaced by a later run before anyone decided")


class Alert(models.Model):
    """One significant cluster raised as a recommendation; published as CAP when accepted."""

    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    detector = models.ForeignKey(Detector, on_delete=models.PROTECT, related_name="alerts")
    run = models.ForeignKey(DetectorRun, on_delete=models.PROTECT, related_name="alerts")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)
    recommendation = models.OneToOneField("oversight.Recommendation", on_delete=models.PROTECT,
                                          related_name="alert")
    # The cluster's identity: its cells (H3 ids at the detector's resolution) and its time window.
    cells = models.JSONField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    cluster_key = models.CharField(max_length=16, db_index=True)
    observed = models.PositiveIntegerField()
    expected = models.FloatField()
    relative_risk = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    recurrence_days = models.FloatField(null=True, blank=True)
    record_ids = models.JSONField(default=list)
    admin1 = models.CharField(max_length=200, blank=True, help_text=_("Where most of its records are."))
    state = models.CharField(max_length=10, choices=AlertState.choices, default=AlertState.RAISED, db_index=True)
    # The earlier alert of the same cluster this one continues (update, or re-raise after growth).
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    msg_type = models.CharField(max_length=8, default="Alert")  # CAP msgType it will be published with
    cap_identifier = models.CharField(max_length=120, blank=True, db_index=True)
    cap_sent = models.DateTimeField(null=True, blank=True)
    cap_references = models.TextField(blank=True)
    cap_xml = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["detector", "state"], name="alert_detector_state_idx")]
