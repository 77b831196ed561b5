"""Intake sources and the items they deliver.

An item is outside input kept verbatim (raw bytes, content type, provenance) beside what the adapter could
read from it. It becomes a draft record, is attached to an existing one, or is dismissed, always by a person.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitaware.core.choices import Sensitivity
from sitaware.core.models import Organisation


class ItemStatus(models.TextChoices):
    NEW = "new", _("New")
    TURNED_INTO_RECORD = "turned_into_record", _("Turned into a record")
    ATTACHED = "attached", _("Attached to a record")
    DISMISSED = "dismissed", _("Dismissed")


class Source(models.Model):
    """One outside source (a feed, a form, an SMS gateway, a sensor network) and its health."""

    # Sources carry no record status; their sensitivity is the default of the items they bring.
    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Choices come from the adapter registry (adapters.KINDS); not enforced here so a new adapter needs
    # no migration.
    kind = models.CharField(max_length=24)
    name = models.SlugField(max_length=80)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="intake_sources")
    config = models.JSONField(default=dict, blank=True, help_text=_("Adapter settings (URL, topics, form id ...)."))
    # What the adapter remembers between polls (ETag, Last-Modified, MQTT session): not edited by people.
    state = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)
    poll_interval = models.PositiveIntegerField(default=300, help_text=_("Seconds between polls (pull sources)."))
    silence_threshold = models.PositiveIntegerField(
        default=6 * 3600, help_text=_("Seconds without a new item after which the source is reported silent."))
    # Health.
    last_poll_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_item_at = models.DateTimeField(null=True, blank=True)
    items_per_hour = models.FloatField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    silent_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="intake_source_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


class IntakeItem(models.Model):
    """One message from a source. (source, external_id) is unique: one message never becomes two items."""

    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="items")
    # Copied from the source so scope narrows items without a join.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)
    external_id = models.CharField(max_length=255)
    raw = models.BinaryField()
    content_type = models.CharField(max_length=120)
    raw_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now)
    provenance = models.JSONField(default=dict)
    # Kept apart from provenance so it can be withheld and erased without touching anything else.
    personal_data = models.JSONField(default=dict, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    title = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=ItemStatus.choices, default=ItemStatus.NEW)
    record = models.ForeignKey("records.Record", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="intake_items")
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="intake_item_unique_per_source"),
            models.CheckConstraint(condition=Q(status__in=ItemStatus.values), name="intake_item_status_valid"),
        ]
        indexes = [
            models.Index(fields=["organisation", "status", "received_at"], name="intake_org_status_idx"),
            models.Index(fields=["source", "received_at"], name="intake_source_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.external_id}"
