"""The stored side of forecasting: one row per risk-map run, beside the recommendation that carries it.

The recommendation (oversight) holds every R-AI-03 field and the decision; this row keeps what patrol planning
and the concentration report read back: the configuration, the per-cell forecast and the patrol list. Scope
follows the recommendation's (organisation, sensitivity) so a risk map is never seen by someone who could not
see the recommendation.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sitaware.core.choices import Sensitivity
from sitaware.core.models import Organisation


class RiskMap(models.Model):
    """A place-based forecast for one period: expected incidents per cell, never anything about a person."""

    scope_fields = {"organisation": "organisation_id", "sensitivity": "sensitivity"}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recommendation = models.OneToOneField("oversight.Recommendation", on_delete=models.PROTECT,
                                          related_name="risk_map")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    sensitivity = models.PositiveSmallIntegerField(choices=Sensitivity.choices, default=Sensitivity.RESTRICTED)
    # Hash of (categories, area, resolution, horizon, model, training options): runs with the same key are the
    # successive periods the concentration report compares.
    config_key = models.CharField(max_length=64, db_index=True)
    config = models.JSONField(help_text=_("Categories, area, resolution, horizon and model as requested."))
    model_id = models.CharField(max_length=40)
    origin = models.DateTimeField(help_text=_("Start of the forecast period; training data end before it."))
    horizon_days = models.PositiveSmallIntegerField()
    resolution = models.PositiveSmallIntegerField()
    cells = models.JSONField(help_text=_("Expected count per cell with its 5th-95th percentile range."))
    patrol_cells = models.JSONField(default=list)
    exploration_cells = models.JSONField(default=list)
    concentration = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Filled when a person accepts (or modifies) the recommendation: what patrol planning may use.
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    accepted_patrol_cells = models.JSONField(null=True, blank=True)
    accepted_exploration_cells = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "config_key", "origin"], name="riskmap_org_config_idx")]

    def __str__(self) -> str:
        return f"risk map {self.config_key[:8]} from {self.origin:%Y-%m-%d} ({self.horizon_days} d)"
