"""What triage found about an intake item, and the fingerprints near-duplicate search compares.

A TriageResult is advice kept beside the item: it never changes the item or any record. The proposals an
analyst can accept live in oversight Recommendations (linked here by id); only a decision applies them.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from sitaware.core.choices import Sensitivity
from sitaware.core.models import Organisation


class TriageResult(models.Model):
    # Same scope as the item it describes (copied, so scope narrows without a join).
    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    item = models.OneToOneField("ingest.IntakeItem", on_delete=models.CASCADE, related_name="triage")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)
    language = models.CharField(max_length=8, blank=True)
    relevant = models.BooleanField(null=True)
    relevance_score = models.FloatField(null=True)
    info_type = models.CharField(max_length=60, blank=True)
    # Suggestions, places, personal-data kinds and offsets (never the data), duplicates: see pipeline.Analysis.
    analysis = models.JSONField(default=dict)
    duplicates = models.JSONField(default=list)
    # The copy that may leave the organisation: personal data replaced by [PHONE], [EMAIL], [NAME].
    redacted_title = models.CharField(max_length=200, blank=True)
    redacted_text = models.TextField(blank=True)
    # Near-duplicate search reads only these two, for thousands of earlier items: kept out of `analysis`.
    signature = models.BinaryField()
    facts = models.JSONField(default=list)
    recommendations = models.JSONField(default=dict)  # aspect → recommendation id
    versions = models.JSONField(default=dict)  # which model and gazetteer produced this
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organisation", "created_at"], name="triage_org_time_idx")]

    def __str__(self) -> str:
        return f"triage of {self.item_id}"


class RecordFingerprint(models.Model):
    """A record's near-duplicate signature, computed once per record version."""

    record = models.OneToOneField("records.Record", on_delete=models.CASCADE, related_name="+", primary_key=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    signature = models.BinaryField()
    facts = models.JSONField(default=list)
    occurred_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organisation", "occurred_at"], name="triage_fp_org_time_idx")]
