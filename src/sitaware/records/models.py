"""Records (incidents, events, activities), their revisions, and import/export jobs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitaware.core.choices import Sensitivity
from sitaware.core.models import Organisation, SharingAgreement, Unit
from sitaware.records import vocab


def _choices(values) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ")) for v in values]


class Record(models.Model):
    """The current state of a record. Every change also writes a RecordRevision and a change-log entry."""

    scope_fields = {
        "organisation": "organisation_id",
        "sensitivity": "sensitivity",
        "status": "status",
        "unit": "reporting_unit_id",
        "author": "created_by_id",
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=_choices(vocab.KINDS))
    category = models.CharField(max_length=120)
    taxonomy_version = models.CharField(max_length=60)
    title = models.CharField(max_length=200, blank=True)
    narrative = models.TextField(blank=True)
    occurred_at = models.DateTimeField()
    occurred_until = models.DateTimeField(null=True, blank=True)
    time_precision = models.CharField(max_length=8, choices=_choices(vocab.TIME_PRECISIONS))
    reported_at = models.DateTimeField()
    latitude = models.FloatField()
    longitude = models.FloatField()
    location_precision = models.CharField(max_length=8, choices=_choices(vocab.LOCATION_PRECISIONS))
    admin1 = models.CharField(max_length=200, blank=True)
    admin2 = models.CharField(max_length=200, blank=True)
    place_name = models.CharField(max_length=200, blank=True)
    h3_cell = models.BigIntegerField()
    h3_coarse = models.BigIntegerField()
    source_type = models.CharField(max_length=24, choices=_choices(vocab.SOURCE_TYPES))
    source_reliability = models.CharField(max_length=1, choices=_choices(vocab.SOURCE_RELIABILITY))
    information_credibility = models.PositiveSmallIntegerField()
    source_identity = models.CharField(max_length=200, blank=True)
    source_reference = models.TextField(blank=True)
    casualties = models.JSONField(default=dict, blank=True)
    fatalities = models.PositiveIntegerField(default=0)
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices)
    status = models.CharField(max_length=12, choices=_choices(vocab.STATUSES), default="draft")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="records")
    reporting_unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="records")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="records_created"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    origin_site = models.CharField(max_length=40)
    version = models.PositiveIntegerField(default=1)
    external_source = models.CharField(max_length=40, blank=True)
    external_id = models.CharField(max_length=120, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_source", "external_id"],
                condition=~Q(external_id=""),
                name="record_external_id_unique",
            ),
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90), name="record_lat_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180, longitude__lte=180), name="record_lon_range"),
            models.CheckConstraint(condition=Q(status__in=vocab.STATUSES), name="record_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=vocab.KINDS), name="record_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["occurred_at", "id"], name="record_time_idx"),
            models.Index(fields=["organisation", "occurred_at"], name="record_org_time_idx"),
            models.Index(fields=["h3_coarse", "occurred_at"], name="record_area_time_idx"),
            models.Index(fields=["category", "occurred_at"], name="record_category_time_idx"),
            models.Index(fields=["status"], name="record_status_idx"),
            models.Index(fields=["reporting_unit"], name="record_unit_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.category}@{self.occurred_at:%Y-%m-%d} ({self.id})"


class RecordRevision(models.Model):
    """A full snapshot of a record at one version: revision n stays readable after n+1 is written."""

    record = models.ForeignKey(Record, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    changed_fields = models.JSONField(default=list)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150)
    at = models.DateTimeField()
    change_seq = models.BigIntegerField(null=True)

    class Meta:
        ordering = ["record", "version"]
        constraints = [models.UniqueConstraint(fields=["record", "version"], name="revision_unique_version")]


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity", "author": "created_by_id"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    format = models.CharField(max_length=16)
    filename = models.CharField(max_length=255)
    path = models.CharField(max_length=1000)
    sha256 = models.CharField(max_length=64)
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total_rows = models.PositiveIntegerField(null=True)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, help_text=_("The first row errors: row number, field, message."))
    message = models.TextField(blank=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(default=Sensitivity.PUBLIC)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)


class ExportJob(models.Model):
    """Every export says who made it, with what filter, for whom and under which agreement."""

    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity", "author": "created_by_id"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    format = models.CharField(max_length=16)
    filters = models.JSONField(default=dict)
    recipient = models.CharField(max_length=200)
    purpose = models.CharField(max_length=500, blank=True)
    agreement = models.ForeignKey(SharingAgreement, null=True, blank=True, on_delete=models.PROTECT)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    # Records the export will hold, counted when it starts: with row_count, the job's progress.
    total_rows = models.PositiveIntegerField(null=True)
    row_count = models.PositiveIntegerField(default=0)
    path = models.CharField(max_length=1000, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(default=Sensitivity.PUBLIC)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True)
