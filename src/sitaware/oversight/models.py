"""AI components, the recommendations they make, and the human decisions on them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitaware.core.choices import Sensitivity
from sitaware.core.models import Organisation


class AIComponent(models.Model):
    """A registered AI or statistical component. Switched off, it refuses to produce (R-AI-05)."""

    key = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    purpose = models.TextField()
    owner = models.CharField(max_length=200, help_text=_("The person or office answerable for it."))
    enabled = models.BooleanField(default=False)
    manual_path = models.TextField(
        blank=True, help_text=_("What users do by hand while the component is switched off (R-AI-05).")
    )
    model_version = models.CharField(max_length=100)
    artefact_hash = models.CharField(max_length=64)
    decider_roles = models.JSONField(default=list, help_text=_("Roles that may decide on its recommendations."))
    # Governance fields (R-AI-02); the registry issue makes them mandatory before enabling.
    art5_screen = models.TextField(blank=True)
    annex_iii = models.CharField(max_length=200, blank=True)
    model_card = models.TextField(blank=True)
    risk_assessment_id = models.CharField(max_length=80, blank=True)
    fria_id = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key


class RecommendationStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a decision")
    ACCEPTED = "accepted", _("Accepted")
    MODIFIED = "modified", _("Accepted with changes")
    REJECTED = "rejected", _("Rejected")
    EMPTY = "empty", _("Nothing proposed")


class Recommendation(models.Model):
    """One output of a component, with everything R-AI-03 asks to be logged. It changes nothing by itself.

    Its `recommendation.create` change-log entry holds the same fields, so the hash chain covers them;
    this row adds the status a decision moves on.
    """

    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity", "author": "requested_by_id"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    component = models.ForeignKey(AIComponent, on_delete=models.PROTECT, related_name="recommendations")
    model_id = models.CharField(max_length=100)
    model_version = models.CharField(max_length=100)
    artefact_hash = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    input_refs = models.JSONField()
    input_hash = models.CharField(max_length=64)
    parameters = models.JSONField()
    output = models.JSONField()
    uncertainty = models.JSONField()
    explanation = models.TextField()
    limitations = models.TextField()
    purpose = models.CharField(max_length=300)
    # A person or a service account, never nobody: R-AI-03 names who asked.
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_role = models.CharField(max_length=32)
    record_ids = models.JSONField(default=list)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=64)
    # Set when the target is a record, so reads can also require that the record itself is in scope.
    target_record = models.UUIDField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=RecommendationStatus.choices, default="pending")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["status", "component"], name="rec_status_component_idx")]


class DecisionOutcome(models.TextChoices):
    ACCEPT = "accept", _("Accept")
    MODIFY = "modify", _("Modify")
    REJECT = "reject", _("Reject")


class Decision(models.Model):
    """A person's accept / modify / reject on a recommendation, with the reason. Only this acts."""

    recommendation = models.OneToOneField(Recommendation, on_delete=models.PROTECT, related_name="decision")
    outcome = models.CharField(max_length=8, choices=DecisionOutcome.choices)
    reason = models.TextField()
    final_output = models.JSONField(null=True, blank=True)
    decider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decider_role = models.CharField(max_length=32)
    decided_at = models.DateTimeField(default=timezone.now)
    applied = models.BooleanField(default=False)
    apply_result = models.JSONField(null=True, blank=True)
